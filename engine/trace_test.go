package engine

import (
	"bytes"
	"encoding/json"
	"math"
	"slices"
	"strings"
	"testing"
)

// traceOf writes the trace of one small model and returns its bytes and the
// model (with the step's gradients in its Params).
func traceOf(t *testing.T, sm smallModel) ([]byte, *Model) {
	t.Helper()
	m, err := sm.build()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := WriteTrace(&buf, m, 1, sm.x, sm.target); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), m
}

func smallModelNamed(t *testing.T, name string) smallModel {
	t.Helper()
	for _, sm := range smallModels() {
		if sm.name == name {
			return sm
		}
	}
	t.Fatalf("no small model %q", name)
	return smallModel{}
}

// TestTraceRoundTrip writes every model's trace, reads it back strictly,
// checks it, and compares every number with the model: parameters as they
// were before the step and gradients as ComputeGrad left them. Writing the
// trace read back gives the same bytes.
func TestTraceRoundTrip(t *testing.T) {
	for _, sm := range smallModels() {
		t.Run(sm.name, func(t *testing.T) {
			m, err := sm.build()
			if err != nil {
				t.Fatal(err)
			}
			before := map[*Param][]float64{}
			for _, p := range m.Params() {
				before[p] = slices.Clone(p.Value.Data)
			}
			var buf bytes.Buffer
			if err := WriteTrace(&buf, m, 1, sm.x, sm.target); err != nil {
				t.Fatal(err)
			}
			raw := buf.Bytes()
			tr, err := ReadTrace(bytes.NewReader(raw))
			if err != nil {
				t.Fatal(err)
			}
			if err := CheckTrace(tr); err != nil {
				t.Fatal(err)
			}
			again, err := json.Marshal(tr)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(append(again, '\n'), raw) {
				t.Error("the trace read back does not write the same bytes")
			}
			if tr.Model != m.Name || tr.Seed != 1 || !slices.Equal(tr.Input.Data, sm.x.Data) || !slices.Equal(tr.Target.Shape, sm.target.Shape) {
				t.Errorf("header: model %q seed %d input/target differ", tr.Model, tr.Seed)
			}
			loss := m.Loss.Forward(m.Forward(sm.x, nil), sm.target)
			if tr.Loss.Value != loss || tr.Loss.Type != m.Loss.Spec().Type {
				t.Errorf("loss %s %v, recomputed %s %v", tr.Loss.Type, tr.Loss.Value, m.Loss.Spec().Type, loss)
			}
			// Every Param appears with data exactly once, with its value
			// before the step and its whole gradient.
			found := map[*Param]int{}
			var visit func(ls []*TraceLayer, model []Layer)
			visit = func(ls []*TraceLayer, model []Layer) {
				if len(ls) != len(model) {
					t.Fatalf("%d layers in the trace, %d in the model", len(ls), len(model))
				}
				for i, tl := range ls {
					l := model[i]
					if s := l.Spec(); tl.Name != s.Name || tl.Type != s.Type {
						t.Errorf("layer %d is %s %s, want %s %s", i, tl.Name, tl.Type, s.Name, s.Type)
					}
					if c, ok := l.(Container); ok {
						visit(tl.Branch, c.Sublayers())
						continue
					}
					for _, np := range l.Params() {
						p, ok := tl.Params.Lookup(np.Local)
						if !ok {
							t.Errorf("%s: no param %s", tl.Name, np.Local)
							continue
						}
						if p.SameAs != "" {
							continue
						}
						found[np.Param]++
						g, _ := tl.Grads.Lookup(np.Local)
						if !slices.Equal(p.Tensor.Data, before[np.Param]) || !slices.Equal(g.Tensor.Data, np.Grad.Data) {
							t.Errorf("%s.%s: value or gradient differs from the model's", tl.Name, np.Local)
						}
					}
				}
			}
			visit(tr.Layers, m.Layers)
			for _, p := range m.Params() {
				if found[p] != 1 {
					t.Errorf("%s written with data %d times, want once", p.Name, found[p])
				}
			}
		})
	}
}

// TestTraceTies checks how sharing is written: the tied output refers to the
// embedding and reports no gradient for it; albert's later blocks refer to
// block1 for every param and have an empty grads object; the siamese layer
// has a branch and no params of its own.
func TestTraceTies(t *testing.T) {
	raw, m := traceOf(t, smallModelNamed(t, "attention"))
	tr, err := ReadTrace(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	out := tr.Layers[len(tr.Layers)-1]
	if w, _ := out.Params.Lookup("weight"); w.SameAs != "embed.weight" {
		t.Errorf("out.weight = %+v, want same_as embed.weight", w)
	}
	if _, ok := out.Grads.Lookup("weight"); ok || len(out.Grads) != 1 {
		t.Errorf("out grads %v, want the bias only", out.Grads)
	}
	if !slices.Equal(tr.Tied, []TraceTie{{Param: "out.weight", SameAs: "embed.weight"}}) {
		t.Errorf("tied = %v", tr.Tied)
	}
	// The embedding's gradient is the sum of both uses: the model's.
	eg, _ := tr.Layers[0].Grads.Lookup("weight")
	if !slices.Equal(eg.Tensor.Data, m.Layers[0].Params()[0].Grad.Data) {
		t.Error("embed.weight gradient is not the summed gradient of the model")
	}
	if !bytes.Contains(raw, []byte(`"params":{"weight":{"same_as":"embed.weight"},"bias":{"shape":[5],"data":[`)) {
		t.Error("the tied weight is not written as {\"same_as\": ...} in the layer's param order")
	}

	raw, _ = traceOf(t, smallModelNamed(t, "albert"))
	tr, err = ReadTrace(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	for _, blk := range tr.Layers[3:5] {
		if len(blk.Grads) != 0 || blk.Grads == nil || len(blk.Params) != 16 {
			t.Errorf("%s: %d params, grads %v; want 16 references and an empty grads object", blk.Name, len(blk.Params), blk.Grads)
		}
		for _, p := range blk.Params {
			if p.SameAs != "block1."+p.Name {
				t.Errorf("%s.%s same_as %q, want block1.%s", blk.Name, p.Name, p.SameAs, p.Name)
			}
		}
	}
	if len(tr.Tied) != 32 || !bytes.Contains(raw, []byte(`"grads":{}`)) {
		t.Errorf("albert: %d ties (want 32), grads {} written: %v", len(tr.Tied), bytes.Contains(raw, []byte(`"grads":{}`)))
	}

	raw, _ = traceOf(t, smallModelNamed(t, "siamese"))
	tr, err = ReadTrace(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	twins := tr.Layers[0]
	if twins.Type != "siamese" || twins.Params != nil || len(twins.Branch) != 8 || tr.Tied != nil {
		t.Errorf("siamese layer %s with params %v, %d branch layers, tied %v", twins.Type, twins.Params, len(twins.Branch), tr.Tied)
	}
	if !bytes.HasPrefix(raw, []byte(`{"format":"paramshare-trace/1","model":"siamese","seed":1,"input":{"shape":[3,2,1,8,8],"data":[`)) ||
		!bytes.Contains(raw, []byte(`"loss":{"type":"contrastive","value":`)) || !bytes.Contains(raw, []byte(`"attrs":{"margin":1}},"layers":[{"name":"twins","type":"siamese","attrs":{"distance":"l2"},"branch":[{"name":"conv1","type":"conv2d",`)) {
		t.Errorf("siamese trace does not start in the contract's key order: %.300s", raw)
	}
	if bytes.Contains(raw, []byte(`"tied"`)) {
		t.Error("a trace with nothing tied has a tied key")
	}
}

// validTrace returns a small trace (the mlp's) as a generic JSON value to
// break in the tests below.
func validTrace(t *testing.T) map[string]any {
	t.Helper()
	raw, _ := traceOf(t, smallModelNamed(t, "mlp"))
	var v map[string]any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func layerOf(v map[string]any, i int) map[string]any {
	return v["layers"].([]any)[i].(map[string]any)
}

func TestReadTraceStrict(t *testing.T) {
	for _, tc := range []struct {
		name    string
		breakIt func(v map[string]any)
		want    string
	}{
		{"unknown top-level key", func(v map[string]any) { v["extra"] = 1 }, "unknown field"},
		{"wrong format", func(v map[string]any) { v["format"] = "paramshare-trace/2" }, "format"},
		{"no layers", func(v map[string]any) { delete(v, "layers") }, "required"},
		{"unknown layer key", func(v map[string]any) { layerOf(v, 1)["bias_init"] = "zeros" }, "unknown field"},
		{"unknown attr", func(v map[string]any) { layerOf(v, 1)["attrs"].(map[string]any)["dropout"] = 0.1 }, "unknown attr"},
		{"missing attr", func(v map[string]any) { delete(layerOf(v, 1)["attrs"].(map[string]any), "out_features") }, "missing"},
		{"no attrs", func(v map[string]any) { delete(layerOf(v, 0), "attrs") }, "attrs"},
		{"unknown type", func(v map[string]any) { layerOf(v, 0)["type"] = "reshape" }, "unknown layer type"},
		{"branch outside siamese", func(v map[string]any) { layerOf(v, 0)["branch"] = []any{} }, "branch"},
		{"extra key in a param", func(v map[string]any) {
			layerOf(v, 1)["params"].(map[string]any)["bias"].(map[string]any)["dtype"] = "float32"
		}, "unknown field"},
		{"param neither tensor nor reference", func(v map[string]any) {
			layerOf(v, 1)["params"].(map[string]any)["bias"] = map[string]any{"shape": []any{5}, "same_as": "fc2.bias"}
		}, "want"},
		{"unknown loss", func(v map[string]any) { v["loss"].(map[string]any)["type"] = "hinge" }, "unknown loss"},
		{"loss attr", func(v map[string]any) { v["loss"].(map[string]any)["attrs"] = map[string]any{"margin": 1} }, "unknown attr"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := validTrace(t)
			tc.breakIt(v)
			b, _ := json.Marshal(v)
			if _, err := ReadTrace(bytes.NewReader(b)); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one mentioning %q", err, tc.want)
			}
		})
	}
	v := validTrace(t)
	b, _ := json.Marshal(v)
	if _, err := ReadTrace(bytes.NewReader(append(b, []byte(" {}")...))); err == nil {
		t.Error("data after the trace accepted")
	}
	conv := map[string]any{"name": "c", "type": "conv2d", "attrs": map[string]any{
		"in_channels": 1, "out_channels": 1, "kernel_size": 1, "stride": 1, "padding": 0}}
	v["layers"] = append(v["layers"].([]any), conv)
	b, _ = json.Marshal(v)
	if _, err := ReadTrace(bytes.NewReader(b)); err != nil {
		t.Errorf("conv2d without its optional attrs rejected: %v", err)
	}
}

func TestCheckTraceFindsProblems(t *testing.T) {
	read := func(v map[string]any) *Trace {
		b, _ := json.Marshal(v)
		tr, err := ReadTrace(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		return tr
	}
	tensor := func(shape []any, n int) map[string]any {
		return map[string]any{"shape": shape, "data": make([]float64, n)}
	}
	for _, tc := range []struct {
		name    string
		breakIt func(v map[string]any)
		want    string
	}{
		{"data does not fit shape", func(v map[string]any) { v["input"] = tensor([]any{2, 3}, 5) }, "input"},
		{"grad shape", func(v map[string]any) { layerOf(v, 1)["grads"].(map[string]any)["bias"] = tensor([]any{4}, 4) }, "shape"},
		{"missing grad", func(v map[string]any) { delete(layerOf(v, 1)["grads"].(map[string]any), "bias") }, "no grad"},
		{"extra grad", func(v map[string]any) { layerOf(v, 1)["grads"].(map[string]any)["scale"] = tensor([]any{1}, 1) }, "no param"},
		{"grads without params", func(v map[string]any) { delete(layerOf(v, 1), "params") }, "both"},
		{"param names", func(v map[string]any) {
			ps := layerOf(v, 1)["params"].(map[string]any)
			ps["b"] = ps["bias"]
			delete(ps, "bias")
		}, "params"},
		{"dangling same_as", func(v map[string]any) {
			layerOf(v, 3)["params"].(map[string]any)["weight"] = map[string]any{"same_as": "embed.weight"}
			delete(layerOf(v, 3)["grads"].(map[string]any), "weight")
			v["tied"] = []any{map[string]any{"param": "fc2.weight", "same_as": "embed.weight"}}
		}, "no earlier layer"},
		{"same_as not listed in tied", func(v map[string]any) {
			layerOf(v, 3)["params"].(map[string]any)["bias"] = map[string]any{"same_as": "fc1.bias"}
			delete(layerOf(v, 3)["grads"].(map[string]any), "bias")
		}, "tied"},
		{"duplicate names", func(v map[string]any) { layerOf(v, 2)["name"] = "flatten" }, "two layers"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := validTrace(t)
			tc.breakIt(v)
			if err := CheckTrace(read(v)); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one mentioning %q", err, tc.want)
			}
		})
	}
}

func TestWriteTraceDiverged(t *testing.T) {
	sm := smallModelNamed(t, "mlp")
	m, err := sm.build()
	if err != nil {
		t.Fatal(err)
	}
	x := sm.x.Clone()
	x.Data[0] = math.Inf(1) // the loss is not finite
	var buf bytes.Buffer
	if err := WriteTrace(&buf, m, 1, x, sm.target); err == nil || buf.Len() != 0 {
		t.Errorf("diverged step: error %v, %d bytes written; want ErrDiverged and nothing", err, buf.Len())
	}
}
