package code_test

import (
	"testing"

	"github.com/paramshare/paramshare/engine"
	"github.com/paramshare/paramshare/engine/data"
)

// TestCharModelLedger is lesson 10's "In code" in our engine: the lesson's
// GRU on 16 windows of 32 characters of the course's text, one backward pass
// with a Recorder, and W_hh's gradient as the sum of one contribution per
// character.
func TestCharModelLedger(t *testing.T) {
	text := data.Corpus()
	vocab, index := data.CharVocab(text)
	x, y := data.CharBatch(engine.NewRand(2), text, index, 16, 32)
	// in-code:begin ledger
	cfg := engine.SeqConfig{Cell: "gru", Vocab: len(vocab), Hidden: 64,
		T: 32, EveryStep: true}
	model, _ := engine.NewSeqModel("char-model", cfg, 1)
	gru := model.Layers[1].(*engine.GRU) // after the one-hot: one cell

	rec := engine.NewRecorder(engine.RecordFilter{
		Params: []*engine.Param{gru.WeightHH},
		Kinds:  []engine.UseKind{engine.UseStep},
	})
	if _, err := model.ComputeGrad(x, y, rec); err != nil {
		t.Fatal(err)
	}
	// Character t's contribution, summed over the 16 windows:
	chars := rec.Uses(gru.WeightHH, engine.UseStep)
	sum := rec.Sum(gru.WeightHH, engine.UseStep)
	// sum is gru.WeightHH.Grad: 32 uses of one matrix, one gradient.
	// in-code:end ledger
	if len(chars) != 32 {
		t.Fatalf("%d per-character contributions, want 32", len(chars))
	}
	sumMatches(t, "weight_hh", sum, gru.WeightHH.Grad)
}
