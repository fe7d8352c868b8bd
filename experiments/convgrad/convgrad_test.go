package run

import (
	"encoding/json"
	"math"
	"testing"

	"github.com/paramshare/paramshare/engine"
)

func newConvGrad(t *testing.T, p ConvGradParams) *ConvGrad {
	t.Helper()
	g, err := NewConvGrad(p)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// TestConvGradSumIsEngineGrad steps through every position and checks that
// the running sum of the tap's contributions ends at the engine's dW and db.
func TestConvGradSumIsEngineGrad(t *testing.T) {
	for _, p := range []ConvGradParams{DefaultConvGradParams(), {Digit: 7, Kernel: ConvGradRandom, Seed: 3}} {
		g := newConvGrad(t, p)
		for g.Pos() < g.Total() {
			if err := g.Advance(); err != nil {
				t.Fatal(err)
			}
		}
		sum, sumB := g.Sum()
		dW, dB := g.EngineGrad()
		var norm float64
		for i := range dW {
			if math.Abs(sum[i]-dW[i]) > 1e-12 {
				t.Fatalf("%+v: Σ contributions [%d] = %g, engine dW = %g", p, i, sum[i], dW[i])
			}
			norm += dW[i] * dW[i]
		}
		if math.Abs(sumB-dB) > 1e-12 {
			t.Fatalf("%+v: Σ bias contributions %g, engine db %g", p, sumB, dB)
		}
		if norm == 0 {
			t.Fatalf("%+v: dW is zero; the test would prove nothing", p)
		}
		if g.Advance() == nil {
			t.Fatal("Advance past the end succeeded")
		}
	}
}

// TestConvGradContributions recomputes every position's contribution by
// hand: the upstream gradient dL/dy[p] = Σ_c (softmax_c − onehot_c)·W_fc[c, p]
// times the 3×3 input patch, and compares it with the tap's, and with the
// unshared twin's gradient of that position's own kernel.
func TestConvGradContributions(t *testing.T) {
	g := newConvGrad(t, ConvGradParams{Digit: 3, Kernel: "sharpen", Seed: 5})
	m, x, target := g.Model()
	fc := m.Layers[2].(*engine.Linear)
	probs := g.StaticFrame().Probs
	label := int(target.Data[0])
	const H, W = 28, 28
	var worst float64
	for p := range g.Total() {
		var up float64
		for c := range 10 {
			d := probs[c]
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
					want[ky*3+kx] = up * x.Data[y*W+xx]
				}
			}
		}
		got, gotB := g.Contribution(p)
		lc, lcB := g.Unshared(p)
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
	st := g.StaticFrame()
	if math.Abs(st.Loss-st.UnsharedLoss) > 1e-12 {
		t.Fatalf("loss %g, unshared twin's %g: they should compute the same function", st.Loss, st.UnsharedLoss)
	}
	t.Logf("largest difference tap vs patch×grad: %g", worst)
}

// TestConvGradSeek checks that seeking back shows exactly the frame that
// stepping showed, and that bad params change nothing.
func TestConvGradSeek(t *testing.T) {
	r, err := Start(ConvGradName, json.RawMessage(`{"digit":2,"kernel":"random","seed":9}`))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := r.Step(300); err != nil {
		t.Fatal(err)
	}
	at300, _ := json.Marshal(r.Snapshot().Frame.Data)
	if err := r.Step(200); err != nil {
		t.Fatal(err)
	}
	if err := r.Seek(300); err != nil {
		t.Fatal(err)
	}
	again, _ := json.Marshal(r.Snapshot().Frame.Data)
	if string(again) != string(at300) {
		t.Fatalf("frame after seek back differs:\n%s\n%s", at300, again)
	}
	wantCode(t, r.Seek(785), CodeBadParams)
	before, _ := json.Marshal(r.Snapshot().Frame)
	for _, bad := range []string{`{"digit":1000}`, `{"digit":-1}`, `{"kernel":"nope"}`, `{"seed":10000}`, `{"seed":1.5}`, `{"stride":2}`} {
		wantCode(t, r.SetParams(json.RawMessage(bad)), CodeBadParams)
		after, _ := json.Marshal(r.Snapshot().Frame)
		if string(after) != string(before) {
			t.Fatalf("set-params %s changed the frame", bad)
		}
	}
	// A good change keeps the step and recomputes.
	if err := r.SetParams(json.RawMessage(`{"digit":5}`)); err != nil {
		t.Fatal(err)
	}
	if u := r.Snapshot(); u.Step != 300 || u.Frame.Static.(ConvGradStatic).Params.Digit != 5 {
		t.Fatalf("after set-params: step %d, params %+v", u.Step, u.Frame.Static.(ConvGradStatic).Params)
	}
}

// TestConvGradFrameSize logs the bytes of the static part and of data frames.
func TestConvGradFrameSize(t *testing.T) {
	g := newConvGrad(t, DefaultConvGradParams())
	st, _ := json.Marshal(g.StaticFrame())
	g.Seek(400)
	d, _ := json.Marshal(g.DataFrame())
	t.Logf("conv-grad static part %d bytes, a step's data %d bytes", len(st), len(d))
	if len(d) > 2000 || len(st) > 20000 {
		t.Fatalf("frames too heavy: static %d, data %d bytes", len(st), len(d))
	}
}

// TestConvGradPicture checks the grids Picture hands to exports against the
// experiment's own accessors: the upstream gradient, each position's
// contribution norm (NaN where not added yet) and the scales.
func TestConvGradPicture(t *testing.T) {
	g := newConvGrad(t, DefaultConvGradParams())
	if err := g.Seek(g.Total() / 2); err != nil {
		t.Fatal(err)
	}
	pic := g.Picture()
	var maxNorm float64
	for p := range g.Total() {
		c, b := g.Contribution(p)
		var ss float64
		for _, v := range c {
			ss += v * v
		}
		norm := math.Sqrt(ss)
		maxNorm = math.Max(maxNorm, norm)
		if pic.Upstream[p] != b {
			t.Errorf("position %d: upstream %v, contribution bias %v", p, pic.Upstream[p], b)
		}
		switch {
		case p >= g.Pos() && !math.IsNaN(pic.Norms[p]):
			t.Errorf("position %d not added yet has norm %v, want NaN (grey)", p, pic.Norms[p])
		case p < g.Pos() && math.Abs(pic.Norms[p]-norm) > 1e-15*max(1, norm):
			t.Errorf("position %d: norm %v, want %v", p, pic.Norms[p], norm)
		}
	}
	if pic.NormMax != maxNorm {
		t.Errorf("NormMax %v, want the largest norm over all positions %v", pic.NormMax, maxNorm)
	}
	if pic.SumLimit != pic.Static.SumAbsMax || pic.Data.Step != g.Pos() {
		t.Errorf("SumLimit %v (SumAbsMax %v), step %d (pos %d)", pic.SumLimit, pic.Static.SumAbsMax, pic.Data.Step, g.Pos())
	}
}

// TestConvGradNormsKeepExactZero checks the quantized norms the widget
// draws: positions whose patch has no ink contribute exactly 0 and decode
// to exactly 0; every position that contributed something decodes to a
// non-zero value, however small its contribution.
func TestConvGradNormsKeepExactZero(t *testing.T) {
	g := newConvGrad(t, DefaultConvGradParams())
	got, err := g.StaticFrame().Norms.Values()
	if err != nil {
		t.Fatal(err)
	}
	var zeros, small int
	step := g.StaticFrame().Norms.Max / 254
	for p := range g.Total() {
		c, _ := g.Contribution(p)
		var ss float64
		for _, v := range c {
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
