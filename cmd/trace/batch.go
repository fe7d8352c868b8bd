package main

import (
	"fmt"
	"math/rand/v2"

	"github.com/paramshare/paramshare/engine"
	"github.com/paramshare/paramshare/engine/data"
)

// dataStream separates the batch's random numbers from the model's: both
// come from the same seed, the model from engine.NewRand(seed).
const dataStream = 0xda7a

// defaultBatch is the batch size when -batch is not given: 4 images or
// pairs, 2 sequences (a sequence model's trace lists every token).
func defaultBatch(model string) int {
	switch model {
	case "rnn", "lstm", "gru", "attention", "albert", "deep":
		return 2
	}
	return 4
}

// exampleBatch returns a batch of batch examples of the data the model
// named name is taught on, drawn with seed:
//
//	cnn, mlp, lc   MNIST training digits [B,1,28,28], labels [B]
//	multitask      the same digits, targets [B,2]: the digit and digit mod 2
//	siamese        pairs of digits [B,2,1,28,28], target 1 for a pair of the same class, 0 otherwise (alternating)
//	rnn, lstm, gru remember-the-first-symbol at distance 20, vocabulary 8: tokens [B,21], the first symbol [B]
//	attention, albert, deep  reverse 8 tokens of 10: tokens [B,8], the reversed sequence [B,8]
//
// The sizes are engine's defaults (engine.DefaultSeqConfig,
// engine.DefaultTransformerConfig). It returns an error for an unknown
// model or a batch below 1.
func exampleBatch(name string, seed uint64, batch int) (x, target *engine.Tensor, err error) {
	if batch < 1 {
		return nil, nil, fmt.Errorf("trace: batch %d, want at least 1", batch)
	}
	rng := rand.New(rand.NewPCG(seed, dataStream))
	switch name {
	case "cnn", "mlp", "lc":
		x, target = digits(rng, batch)
		return x, target, nil
	case "multitask":
		x, labels := digits(rng, batch)
		target = engine.NewTensor(batch, 2)
		for b, l := range labels.Data {
			target.Data[2*b] = l
			target.Data[2*b+1] = float64(int(l) % 2)
		}
		return x, target, nil
	case "siamese":
		x, target = pairs(rng, batch)
		return x, target, nil
	case "rnn", "lstm", "gru":
		cfg := engine.DefaultSeqConfig()
		x, target = data.RememberFirst(rng, batch, cfg.T-1, cfg.Vocab)
		return x, target, nil
	case "attention", "albert", "deep":
		cfg := engine.DefaultTransformerConfig()
		x, target = data.Reverse(rng, batch, cfg.T, cfg.Vocab)
		return x, target, nil
	}
	return nil, nil, fmt.Errorf("trace: no data for model %q", name)
}

// digits returns batch training digits drawn at random.
func digits(rng *rand.Rand, batch int) (x, y *engine.Tensor) {
	train := data.MNISTTrain()
	idx := make([]int, batch)
	for b := range idx {
		idx[b] = rng.IntN(train.N)
	}
	return train.Batch(idx)
}

// pairs returns batch pairs of training digits, x [B,2,1,H,W]: even pairs
// are two different images of the same class (target 1), odd pairs two
// images of different classes (target 0).
func pairs(rng *rand.Rand, batch int) (x, target *engine.Tensor) {
	train := data.MNISTTrain()
	byClass := map[uint8][]int{}
	for i, l := range train.Labels {
		byClass[l] = append(byClass[l], i)
	}
	idx := make([]int, 0, 2*batch)
	target = engine.NewTensor(batch)
	for b := range batch {
		first := rng.IntN(train.N)
		label := train.Labels[first]
		var second int
		if b%2 == 0 {
			same := byClass[label]
			for second = first; second == first; {
				second = same[rng.IntN(len(same))]
			}
			target.Data[b] = 1
		} else {
			for second = first; train.Labels[second] == label; {
				second = rng.IntN(train.N)
			}
		}
		idx = append(idx, first, second)
	}
	// Batch lays the 2B images out as [2B,1,H,W], which is [B,2,1,H,W]
	// read with the pair axis second.
	flat, _ := train.Batch(idx)
	return flat.View(batch, 2, 1, train.H, train.W), target
}
