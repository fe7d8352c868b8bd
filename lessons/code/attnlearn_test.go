package code_test

import (
	"testing"

	"github.com/paramshare/paramshare/engine"
	"github.com/paramshare/paramshare/engine/data"
)

// TestAttentionLearnLedger is lesson 12's "In code" in our engine: the
// lesson's transformer (d = 24, 4 heads, one block, output tied to the
// embedding) trained 30 steps on reverse, then one more step recorded: every
// gradient of the block that is used once per token (W_Q, W_K, W_V, W_O, the
// feed-forward layers and their biases) is the sum of one piece per token.
func TestAttentionLearnLedger(t *testing.T) {
	rng := engine.NewRand(2)
	// in-code:begin ledger
	cfg := engine.TransformerConfig{Vocab: 10, D: 24, Heads: 4, DFF: 48,
		T: 16, Blocks: 1, TiedOutput: true}
	model, _ := engine.NewTransformer("attention", cfg, 1)
	block := model.Layers[2].(*engine.TransformerBlock) // embed, pos, block1
	opt := engine.NewAdam(0.003, 0.9, 0.999, 1e-8)
	for range 30 { // a few training steps on reverse
		x, y := data.Reverse(rng, 32, 8, 10)
		if _, err := model.ComputeGrad(x, y, nil); err != nil {
			t.Fatal(err)
		}
		opt.Step(model.Params())
	}

	x, y := data.Reverse(rng, 32, 8, 10) // the next step, with a ledger
	rec := engine.NewRecorder(engine.RecordFilter{
		Layers: []string{"block1"},
		Kinds:  []engine.UseKind{engine.UseToken},
	})
	if _, err := model.ComputeGrad(x, y, rec); err != nil {
		t.Fatal(err)
	}
	for _, np := range block.Params() {
		// A weight used once per token: 8 pieces, adding up to its gradient.
		if sum := rec.Sum(np.Param, engine.UseToken); sum != nil {
			sumMatches(t, np.Local, sum, np.Param.Grad)
		}
	}
	// in-code:end ledger
	checked := 0
	for _, np := range block.Params() {
		if uses := rec.Uses(np.Param, engine.UseToken); len(uses) > 0 {
			if len(uses) != 8 {
				t.Fatalf("%s: %d pieces, want 8 (one per token)", np.Local, len(uses))
			}
			checked++
		}
	}
	if checked != 12 { // attn.w_q … attn.b_o, ff1 and ff2's weights and biases
		t.Fatalf("%d of the block's parameters have per-token pieces, want 12", checked)
	}
}
