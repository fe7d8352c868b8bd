package engine

import "testing"

// One training step of a small attention model: an embedding of 16 symbols
// into 32 features, sinusoidal positions, one transformer block (2 heads,
// d_ff 64, not causal), a linear read-out 32→16 at every step and the
// sequence cross-entropy; batch 16, T = 16; forward, backward and an SGD
// update. Run with -cpu 1: the step is meant to stay on one goroutine.
// scripts/torch_step_bench.py times PyTorch on the same step; docs/perf.md
// has both side by side.

func BenchmarkStepAttention(b *testing.B) {
	const vocab, dModel, heads, dFF, steps, batch = 16, 32, 2, 64, 16, 16
	rng := NewRand(1)
	embed, err := NewEmbedding("embed", vocab, dModel, rng)
	if err != nil {
		b.Fatal(err)
	}
	pos, err := NewPositionalEncoding("pos", PositionsSinusoidal, steps, dModel, nil)
	if err != nil {
		b.Fatal(err)
	}
	block, err := NewTransformerBlock("block", dModel, heads, dFF, false, rng)
	if err != nil {
		b.Fatal(err)
	}
	readout, err := NewLinear("readout", dModel, vocab, rng)
	if err != nil {
		b.Fatal(err)
	}
	m, err := NewModel("attention", []int{steps}, NewCrossEntropy(), embed, pos, block, readout)
	if err != nil {
		b.Fatal(err)
	}
	x, target := NewTensor(batch, steps), NewTensor(batch, steps)
	for i := range x.Data {
		x.Data[i] = float64(rng.IntN(vocab))
		target.Data[i] = float64(rng.IntN(vocab))
	}
	benchTrainStep(b, m, x, target, nil, NewSGD(0.1, 0), 0)
}
