package code_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/paramshare/paramshare/engine"
	"github.com/paramshare/paramshare/engine/data"
	"github.com/paramshare/paramshare/lab"
)

// TestGradFlow is lesson 8's "In code" in our engine: the grad-flow widget's
// RNN at its defaults (tanh, 16 units, T = 30, W_hh scaled to λ₁ = 0.9) on a
// batch of remember-the-first. Every ‖∂L/∂h_t‖ is within the bound
// (γλ₁)^(T−t) ‖∂L/∂h_T‖, the contribution to dW_hh from 20 steps before the
// loss is below 10⁻⁵ of the last step's, and ClipGradNorm shortens the
// gradient to the threshold without turning it, as clip_grad_norm_ does.
func TestGradFlow(t *testing.T) {
	x, y := data.RememberFirst(rand.New(rand.NewPCG(1, 2)), 16, 29, 8)
	// in-code:begin flow
	cfg := engine.SeqConfig{Cell: "rnn", Vocab: 8, Hidden: 16, T: 30}
	model, _ := engine.NewSeqModel("flow", cfg, 1)
	cell := model.Layers[1].(*engine.RNN)
	// λ₁ = 0.9 < 1/γ = 1: the gradient must vanish going back
	lab.ScaleRecurrent(cell.WeightHH, 0.9)
	pass, err := lab.MeasureBPTT(model, cell, cell.WeightHH, x, y)
	if err != nil {
		t.Fatal(err)
	}
	// pass.Contrib[t]: ‖step t's piece of dW_hh‖ (t = 0 … T−1),
	// pass.HiddenGrad[t]: ‖∂L/∂h_t‖
	farBack := pass.Contrib[29-20] / pass.Contrib[29] // < 1e-5

	params := model.Params()
	before := engine.GradNorm(params)
	whh := cell.WeightHH.Grad.Clone()
	// ‖g‖ > 0.1: every gradient × 0.1/(‖g‖ + 1e-6)
	engine.ClipGradNorm(params, 0.1)
	// in-code:end flow
	gamma := cell.Nonlinearity().DerivativeBound()
	last := pass.HiddenGrad[29]
	for step, g := range pass.HiddenGrad {
		if bound := math.Pow(gamma*0.9, float64(29-step)) * last; g > bound*(1+1e-9) {
			t.Errorf("‖∂L/∂h_%d‖ = %g above the bound %g", step+1, g, bound)
		}
	}
	if pass.Contrib[0] != 0 || !(farBack < 1e-5) {
		t.Errorf("step 1's piece %g (want 0), 20 steps back / last %g (want < 1e-5)", pass.Contrib[0], farBack)
	}
	if after := engine.GradNorm(model.Params()); before <= 0.1 || math.Abs(after-0.1*before/(before+1e-6)) > 1e-12 {
		t.Errorf("‖g‖ %g before clipping, %g after; want %g", before, after, 0.1*before/(before+1e-6))
	}
	for i, g := range cell.WeightHH.Grad.Data { // the same direction: every entry scaled alike
		if want := whh.Data[i] * 0.1 / (before + 1e-6); math.Abs(g-want) > 1e-15 {
			t.Fatalf("W_hh entry %d: clipped %g, want %g", i, g, want)
		}
	}
}
