package convgrad

import (
	"bytes"
	"encoding/json"
	"math"
	"testing"

	"github.com/paramshare/paramshare/engine"
	"github.com/paramshare/paramshare/run"
)

func newTestGrad(t *testing.T, raw string) *grad {
	t.Helper()
	s, _ := run.Lookup(name)
	v, err := s.Decode(nil, []byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	g, err := newGrad(v)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// TestSumIsEngineGrad steps through every position and checks that the
// running sum of the tap's contributions ends at the engine's dW and db.
func TestSumIsEngineGrad(t *testing.T) {
	for _, raw := range []string{`{}`, `{"digit": 7, "kernel": "random", "seed": 3}`} {
		g := newTestGrad(t, raw)
		for g.Pos() < g.Total() {
			if err := g.Advance(); err != nil {
				t.Fatal(err)
			}
		}
		var norm float64
		for i := range g.dW {
			if math.Abs(g.accW[i]-g.dW[i]) > 1e-12 {
				t.Fatalf("%s: Σ contributions [%d] = %g, engine dW = %g", raw, i, g.accW[i], g.dW[i])
			}
			norm += g.dW[i] * g.dW[i]
		}
		if math.Abs(g.accB-g.dB) > 1e-12 {
			t.Fatalf("%s: Σ bias contributions %g, engine db %g", raw, g.accB, g.dB)
		}
		if norm == 0 {
			t.Fatalf("%s: dW is zero; the test would prove nothing", raw)
		}
		if g.Advance() == nil {
			t.Fatal("Advance past the end succeeded")
		}
	}
}

// TestContributions recomputes every position's contribution by hand: the
// upstream gradient dL/dy[p] = Σ_c (softmax_c − onehot_c)·W_fc[c, p] times
// the 3×3 input patch, and compares it with the tap's, and with the
// unshared twin's gradient of that position's own kernel.
func TestContributions(t *testing.T) {
	g := newTestGrad(t, `{"digit": 3, "kernel": "sharpen", "seed": 5}`)
	fc := g.model.Layers[2].(*engine.Linear)
	label := int(g.target.Data[0])
	const H, W = 28, 28
	var worst float64
	for p := range g.Total() {
		var up float64
		for c := range 10 {
			d := g.probs[c]
			if c == label {
				d--
			}
			up += d * fc.Weight.Value.Data[c*H*W+p]
		}
		oy, ox := p/W, p%W
		var want [9]float64
		for ky := range 3 {
			for kx := range 3 {
				y, xx := oy-1+ky, ox-1+kx
				if y >= 0 && y < H && xx >= 0 && xx < W {
					want[ky*3+kx] = up * g.x.Data[y*W+xx]
				}
			}
		}
		got, gotB := g.contribW[p], g.contribB[p]
		lc, lcB := g.lcW[p], g.lcB[p]
		for i := range want {
			worst = math.Max(worst, math.Abs(got[i]-want[i]))
			if math.Abs(got[i]-want[i]) > 1e-12 || math.Abs(lc[i]-got[i]) > 1e-12 {
				t.Fatalf("position (%d,%d) tap %d: tap %g, patch×grad %g, unshared kernel %g", oy, ox, i, got[i], want[i], lc[i])
			}
		}
		if math.Abs(gotB-up) > 1e-12 || math.Abs(lcB-up) > 1e-12 {
			t.Fatalf("position (%d,%d): bias contribution %g, upstream %g, unshared bias grad %g", oy, ox, gotB, up, lcB)
		}
	}
	if math.Abs(g.loss-g.lcLoss) > 1e-12 {
		t.Fatalf("loss %g, unshared twin's %g: they should compute the same function", g.loss, g.lcLoss)
	}
	t.Logf("largest difference tap vs patch×grad: %g", worst)
}

// TestSetParamsKeepsStep: new parameters keep the step and show what a
// fresh experiment with them shows at that step.
func TestSetParamsKeepsStep(t *testing.T) {
	g := newTestGrad(t, `{"digit": 2, "kernel": "random", "seed": 9}`)
	for range 300 {
		g.Advance()
	}
	s, _ := run.Lookup(name)
	v, err := s.Decode(g.v, []byte(`{"digit": 5}`))
	if err != nil {
		t.Fatal(err)
	}
	if err := g.SetParams(v); err != nil {
		t.Fatal(err)
	}
	fresh := newTestGrad(t, `{"digit": 5, "kernel": "random", "seed": 9}`)
	for range 300 {
		fresh.Advance()
	}
	a, _ := json.Marshal(g.Frame().Data)
	b, _ := json.Marshal(fresh.Frame().Data)
	as, _ := json.Marshal(g.Frame().Static)
	bs, _ := json.Marshal(fresh.Frame().Static)
	if g.Pos() != 300 || !bytes.Equal(a, b) || !bytes.Equal(as, bs) {
		t.Fatalf("after set-params: step %d, frame differs from a fresh run's", g.Pos())
	}
}

// TestNormsKeepExactZero checks the quantized norms the widget draws:
// positions whose patch has no ink contribute exactly 0 and decode to
// exactly 0; every position that contributed something decodes to a
// non-zero value, however small its contribution.
func TestNormsKeepExactZero(t *testing.T) {
	g := newTestGrad(t, `{}`)
	st := g.static()
	got, err := st.Norms.Values()
	if err != nil {
		t.Fatal(err)
	}
	var zeros, small int
	step := st.Norms.Max / 254
	for p := range g.Total() {
		var ss float64
		for _, v := range g.contribW[p] {
			ss += v * v
		}
		if (ss == 0) != (got[p] == 0) {
			t.Errorf("position %d: ‖contribution‖² %v decodes as %v", p, ss, got[p])
		}
		if ss == 0 {
			zeros++
		} else if math.Sqrt(ss) < step/2 {
			small++
		}
	}
	if zeros == 0 || small == 0 {
		t.Errorf("%d exact zeros and %d contributions under half a step: the digit should have both", zeros, small)
	}
	t.Logf("%d positions contribute exactly 0, %d contribute under half a code step", zeros, small)
}

// TestJSONExportIsPrecise: the JSON export carries the maps the frame
// quantizes at full precision, and the trace is the engine's.
func TestJSONExportIsPrecise(t *testing.T) {
	g := newTestGrad(t, `{"digit": 4}`)
	g.Rewind(400)
	var buf bytes.Buffer
	if err := writeJSON(&buf, g, "en"); err != nil {
		t.Fatal(err)
	}
	var out struct {
		Step   int
		Static struct{ Upstream, Norms, Unshared []float64 }
		Data   dataPart
	}
	if err := json.Unmarshal(buf.Bytes(), &out); err != nil {
		t.Fatal(err)
	}
	if out.Step != 400 || out.Data.Sum != g.accW || len(out.Static.Unshared) != 784*9 {
		t.Fatalf("step %d, sum %v (want %v), %d unshared values", out.Step, out.Data.Sum, g.accW, len(out.Static.Unshared))
	}
	for p := range g.Total() {
		if out.Static.Upstream[p] != g.contribB[p] || out.Static.Norms[p] != g.norms[p] || out.Static.Unshared[p*9+4] != g.lcW[p][4] {
			t.Fatalf("position %d differs from the experiment's numbers", p)
		}
	}
	buf.Reset()
	if err := writeTrace(&buf, g, "en"); err != nil {
		t.Fatal(err)
	}
	tr, err := engine.ReadTrace(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if err := engine.CheckTrace(tr); err != nil {
		t.Fatal(err)
	}
	if math.Abs(tr.Loss.Value-g.loss) > 1e-12 {
		t.Fatalf("trace loss %v, experiment's %v", tr.Loss.Value, g.loss)
	}
}

// TestKernelNames: every kernel choice has a name in both languages for the
// figure, conv-slide's presets the very names conv-slide's figure uses.
func TestKernelNames(t *testing.T) {
	for _, k := range kernels {
		tx := kernelText(k)
		if tx.En == "" || tx.Zh == "" {
			t.Errorf("kernel %q: names %+v", k, tx)
		}
	}
	if got := kernelText("vertical-edge").Zh; got != "竖直边缘" {
		t.Errorf("vertical-edge in Chinese: %q", got)
	}
	g := newTestGrad(t, `{"kernel": "vertical-edge"}`)
	var buf bytes.Buffer
	if err := writeFigure("svg")(&buf, g, "en"); err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(buf.Bytes(), []byte("vertical-edge kernel")) {
		t.Error(`the English figure does not say "vertical-edge kernel"`)
	}
}
