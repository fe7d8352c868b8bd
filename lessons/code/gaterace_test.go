package code_test

import (
	"math"
	"testing"

	"github.com/paramshare/paramshare/engine"
	"github.com/paramshare/paramshare/engine/data"
)

// TestGateRaceLedger is lesson 9's "In code" in our engine: the race's LSTM
// on a batch of the adding problem, one backward pass with a Recorder, and
// the shared W_hh's gradient as the sum of its 20 per-step contributions.
func TestGateRaceLedger(t *testing.T) {
	x, y := data.Adding(engine.NewRand(2), 16, 20)
	// in-code:begin ledger
	// The race's LSTM on the adding problem: (value, marker) in, sum out.
	cfg := engine.SeqConfig{Cell: "lstm", Hidden: 32, T: 20, ForgetBias: 2,
		Features: 2, Regression: true}
	model, _ := engine.NewSeqModel("lstm", cfg, 1)
	lstm := model.Layers[0].(*engine.LSTM) // one cell for every step

	// Record every use of W_hh: one contribution per time step.
	rec := engine.NewRecorder(engine.RecordFilter{
		Params: []*engine.Param{lstm.WeightHH},
		Kinds:  []engine.UseKind{engine.UseStep},
	})
	if _, err := model.ComputeGrad(x, y, rec); err != nil {
		t.Fatal(err)
	}
	steps := rec.Uses(lstm.WeightHH, engine.UseStep) // t = 0 … 19
	sum := rec.Sum(lstm.WeightHH, engine.UseStep)
	// sum is lstm.WeightHH.Grad: W_hh's gradient is the sum of its steps.
	// in-code:end ledger
	if len(steps) != 20 {
		t.Fatalf("%d per-step contributions, want 20", len(steps))
	}
	sumMatches(t, "weight_hh", sum, lstm.WeightHH.Grad)
}

// sumMatches fails t unless sum equals grad to rounding (1e-12 of grad's
// largest entry, or 1e-12 absolute for a gradient below 1 such as a key
// bias's, which is 0 up to rounding by construction) and grad is not all
// zero: a ledger must add up to the gradient the engine computed.
func sumMatches(t *testing.T, name string, sum, grad *engine.Tensor) {
	t.Helper()
	if sum == nil {
		t.Fatalf("%s: no contributions recorded", name)
	}
	scale := 0.0
	for _, g := range grad.Data {
		scale = math.Max(scale, math.Abs(g))
	}
	if scale == 0 {
		t.Fatalf("%s: the engine's gradient is all zero: nothing to check", name)
	}
	for i, g := range grad.Data {
		if math.Abs(sum.Data[i]-g) > 1e-12*math.Max(scale, 1) {
			t.Fatalf("%s entry %d: Σ contributions %g, engine grad %g", name, i, sum.Data[i], g)
		}
	}
}
