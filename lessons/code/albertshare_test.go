package code_test

import (
	"testing"

	"github.com/paramshare/paramshare/engine"
	"github.com/paramshare/paramshare/engine/data"
)

// TestAlbertShareLedger is lesson 14's "In code" in our engine: the
// all-shared stack of the race (four blocks holding one block's Params) on a
// batch of reverse, and each shared Param's gradient as the sum of the four
// blocks' parts.
func TestAlbertShareLedger(t *testing.T) {
	x, y := data.Reverse(engine.NewRand(2), 16, 8, 10)
	// in-code:begin ledger
	cfg := engine.TransformerConfig{Vocab: 10, D: 32, Heads: 4, DFF: 64,
		T: 8, Blocks: 4, Share: engine.ShareAll}
	model, _ := engine.NewTransformer("albert-all", cfg, 1)
	// block2 … block4 hold block1's Params:
	block1 := model.Layers[2].(*engine.TransformerBlock)

	rec := engine.NewRecorder(engine.RecordFilter{
		Kinds: []engine.UseKind{engine.UseLayer},
	})
	if _, err := model.ComputeGrad(x, y, rec); err != nil {
		t.Fatal(err)
	}
	for _, np := range block1.Params() { // 16 shared tensors
		parts := rec.Uses(np.Param, engine.UseLayer) // block l's part
		if len(parts) != 4 {
			t.Fatalf("%s: %d parts, want 4", np.Local, len(parts))
		}
		sum := rec.Sum(np.Param, engine.UseLayer)
		sumMatches(t, np.Local, sum, np.Param.Grad)
	}
	// in-code:end ledger
	if n := len(block1.Params()); n != 16 {
		t.Fatalf("block1 has %d Params, want 16", n)
	}
}
