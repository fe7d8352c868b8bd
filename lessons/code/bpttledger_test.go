package code_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/paramshare/paramshare/engine"
	"github.com/paramshare/paramshare/engine/data"
)

// TestBPTTLedger is lesson 7's "In code" in our engine: the widget's RNN
// (5 tokens, 6 hidden units, T = 10) on a batch of 16 remember-the-first
// sequences. The engine reports W_hh's contribution from every time step;
// each is Pascanu et al.'s (2013, eq. 4) term for that step,
// ((1 − h_t²) ⊙ ∂L/∂h_t)ᵀ h_{t−1}, step 1's is 0 (h_0 = 0), and they add up to
// the engine's dW_hh.
func TestBPTTLedger(t *testing.T) {
	x, y := data.RememberFirst(rand.New(rand.NewPCG(1, 2)), 16, 9, 5)
	// in-code:begin ledger
	cfg := engine.SeqConfig{Cell: "rnn", Vocab: 5, Hidden: 6, T: 10}
	model, _ := engine.NewSeqModel("bptt", cfg, 1)
	cell := model.Layers[1].(*engine.RNN)
	whh := cell.WeightHH
	rec := engine.NewRecorder(engine.RecordFilter{
		Params: []*engine.Param{whh},
		Kinds:  []engine.UseKind{engine.UseStep},
		Internals: []string{
			engine.InternalHidden, engine.InternalHiddenGrad},
	})
	if _, err := model.ComputeGrad(x, y, rec); err != nil {
		t.Fatal(err)
	}
	// ΔW_hh of steps t = 1 … T (Index 0 … T−1)
	pieces := rec.Uses(whh, engine.UseStep)
	hs := rec.Values(cell, engine.InternalHidden)      // h_t
	dhs := rec.Values(cell, engine.InternalHiddenGrad) // ∂L/∂h_t
	dWhh := rec.Sum(whh, engine.UseStep)               // Σ_t ΔW_hh = whh.Grad
	// in-code:end ledger
	if len(pieces) != 10 || len(hs) != 10 || len(dhs) != 10 {
		t.Fatalf("%d pieces, %d hidden states, %d hidden gradients; want 10 each", len(pieces), len(hs), len(dhs))
	}
	const B, H = 16, 6
	for step, c := range pieces {
		for i := range H {
			for j := range H {
				want := 0.0 // eq. 4's term: Σ_b δ_t[b,i] h_{t−1}[b,j], δ_t = (1 − h_t²) ⊙ ∂L/∂h_t
				for b := range B {
					h, g, prev := hs[step].Value.Data[b*H+i], dhs[step].Value.Data[b*H+i], 0.0
					if step > 0 {
						prev = hs[step-1].Value.Data[b*H+j]
					}
					want += (1 - h*h) * g * prev
				}
				if got := c.Grad.Data[i*H+j]; math.Abs(got-want) > 1e-12 {
					t.Fatalf("step %d, W_hh[%d,%d]: engine's piece %g, eq. 4 %g", step+1, i, j, got, want)
				}
			}
		}
	}
	for i, g := range cell.WeightHH.Grad.Data {
		if math.Abs(dWhh.Data[i]-g) > 1e-12*math.Max(1, math.Abs(g)) {
			t.Fatalf("W_hh entry %d: Σ pieces %g, engine grad %g", i, dWhh.Data[i], g)
		}
	}
}
