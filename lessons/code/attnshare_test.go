package code_test

import (
	"testing"

	"github.com/paramshare/paramshare/engine"
)

// TestAttentionShareLedger is lesson 11's "In code" in our engine: the
// widget's model (embedding, sinusoidal positions, one causal self-attention
// layer, a next-letter read-out) on the word "attention", and each of W_Q,
// W_K, W_V, W_O's gradient as the sum of one piece per token.
func TestAttentionShareLedger(t *testing.T) {
	word := "attention"
	n := len(word)
	x, y := engine.NewTensor(1, n), engine.NewTensor(1, n)
	for i := range n {
		x.Data[i], y.Data[i] = float64(word[i]-'a'), 26 // 26: the end mark
		if i+1 < n {
			y.Data[i] = float64(word[i+1] - 'a')
		}
	}
	rng := engine.NewRand(1)
	// in-code:begin ledger
	emb, _ := engine.NewEmbedding("embed", 27, 4, rng)
	pos, _ := engine.NewPositionalEncoding("pos", "sinusoidal", 12, 4, nil)
	// One W_Q, W_K, W_V, W_O for every token (causal, one head):
	attn, _ := engine.NewSelfAttention("attn", 4, 1, true, rng)
	out, _ := engine.NewLinear("out", 4, 27, rng)
	model, _ := engine.NewModel("attention-share", []int{n},
		engine.NewCrossEntropy(), emb, pos, attn, out)

	rec := engine.NewRecorder(engine.RecordFilter{
		Layers: []string{"attn"},
		Kinds:  []engine.UseKind{engine.UseToken},
	})
	if _, err := model.ComputeGrad(x, y, rec); err != nil {
		t.Fatal(err)
	}
	for _, np := range attn.Params()[:4] { // w_q, w_k, w_v, w_o
		// The 9 tokens' pieces, added up, are the engine's gradient:
		sum := rec.Sum(np.Param, engine.UseToken)
		sumMatches(t, np.Local, sum, np.Param.Grad)
	}
	// in-code:end ledger
	for _, np := range attn.Params()[:4] {
		if k := len(rec.Uses(np.Param, engine.UseToken)); k != n {
			t.Fatalf("%s: %d pieces, want %d", np.Local, k, n)
		}
	}
	// The lesson's claim: under the causal mask token 1 adds nothing to dW_Q.
	for _, v := range rec.Uses(attn.Params()[0].Param, engine.UseToken)[0].Grad.Data {
		if v != 0 {
			t.Fatalf("token 1's piece of dW_Q has %g, want exactly 0 under the causal mask", v)
		}
	}
}
