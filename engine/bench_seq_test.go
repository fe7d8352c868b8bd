package engine

import "testing"

// One training step of a small character-level sequence model: one-hot
// input (32 symbols), a recurrent layer of 64 units over 32 steps, a linear
// read-out 64→32 at every step and the sequence cross-entropy, batch 16;
// forward, backward and an SGD update. Run with -cpu 1: the step is meant
// to stay on one goroutine. scripts/torch_step_bench.py times PyTorch on
// the same model; docs/perf.md has both side by side.

func BenchmarkStepRNN(b *testing.B)  { benchSeqStep(b, "rnn") }
func BenchmarkStepLSTM(b *testing.B) { benchSeqStep(b, "lstm") }
func BenchmarkStepGRU(b *testing.B)  { benchSeqStep(b, "gru") }

func benchSeqStep(b *testing.B, cell string) {
	const vocab, hidden, steps, batch = 32, 64, 32, 16
	rng := NewRand(1)
	oneHot, err := NewOneHot("one_hot", vocab)
	if err != nil {
		b.Fatal(err)
	}
	var rec Layer
	switch cell {
	case "rnn":
		rec, err = NewRNN(cell, vocab, hidden, rng)
	case "lstm":
		rec, err = NewLSTM(cell, vocab, hidden, rng)
	case "gru":
		rec, err = NewGRU(cell, vocab, hidden, rng)
	}
	if err != nil {
		b.Fatal(err)
	}
	readout, err := NewLinear("readout", hidden, vocab, rng)
	if err != nil {
		b.Fatal(err)
	}
	m, err := NewModel(cell, []int{steps}, NewCrossEntropy(), oneHot, rec, readout)
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
