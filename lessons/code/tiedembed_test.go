package code_test

import (
	"testing"

	"github.com/paramshare/paramshare/engine"
	"github.com/paramshare/paramshare/engine/data"
)

// TestTiedEmbeddingLedger is lesson 13's "In code" in our engine: the
// lesson's tied model (embedding, one causal block, output layer whose
// weight is the embedding matrix) on 16 windows of the generated language,
// and the tied matrix's gradient as the input side plus the output side.
func TestTiedEmbeddingLedger(t *testing.T) {
	words := data.WordCorpus()
	x, y := data.WordBatch(engine.NewRand(2), words.Train, 16, 16)
	// in-code:begin ledger
	cfg := engine.TransformerConfig{Vocab: len(words.Words), D: 32,
		Heads: 2, DFF: 64, T: 16, Blocks: 1, Causal: true, TiedOutput: true}
	model, _ := engine.NewTransformer("tied", cfg, 1)
	// E is held by the embedding and by the output layer:
	E := model.Layers[0].(*engine.Embedding).Weight

	// Record each holder's part of E's gradient: one per layer using it.
	rec := engine.NewRecorder(engine.RecordFilter{
		Params: []*engine.Param{E},
		Kinds:  []engine.UseKind{engine.UseLayer},
	})
	if _, err := model.ComputeGrad(x, y, rec); err != nil {
		t.Fatal(err)
	}
	sides := rec.Uses(E, engine.UseLayer) // [0]: input side, [1]: output
	sumMatches(t, "embed.weight", rec.Sum(E, engine.UseLayer), E.Grad)
	// in-code:end ledger
	if len(sides) != 2 {
		t.Fatalf("%d uses of the tied matrix, want 2", len(sides))
	}
	// The lesson's claims: the input side touches only the rows of the words
	// read in the batch; the output side touches every row.
	read := map[int]bool{}
	for _, v := range x.Data {
		read[int(v)] = true
	}
	d, in, out := cfg.D, 0, 0
	for row := range cfg.Vocab {
		nonzero := func(g *engine.Tensor) bool {
			for _, v := range g.Data[row*d : (row+1)*d] {
				if v != 0 {
					return true
				}
			}
			return false
		}
		if nonzero(sides[0].Grad) {
			in++
			if !read[row] {
				t.Fatalf("row %d: the input side touched a word the batch does not read", row)
			}
		}
		if nonzero(sides[1].Grad) {
			out++
		}
	}
	if in != len(read) || out != cfg.Vocab {
		t.Fatalf("rows touched: input side %d (want the %d words read), output side %d (want all %d)", in, len(read), out, cfg.Vocab)
	}
}
