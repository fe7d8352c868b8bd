package data

import (
	"fmt"
	"math/rand/v2"

	"github.com/paramshare/paramshare/engine"
)

// The sequence tasks below draw every number from the rng they are given
// (use engine.NewRand(seed)), so a seed fixes the batch. Tokens are integer
// indices stored as float64, the layout of embedding and one_hot inputs.

// Copy returns a batch of the copy task: x [batch, length] of tokens drawn
// uniformly from 0..vocab-1, and y = x (a copy, not the same tensor), the
// per-step targets for a model that reads x and must output it again. It
// panics unless batch, length ≥ 1 and vocab ≥ 2.
func Copy(rng *rand.Rand, batch, length, vocab int) (x, y *engine.Tensor) {
	checkSeqArgs("Copy", batch, length, vocab)
	x = randomTokens(rng, batch, length, 0, vocab)
	return x, x.Clone()
}

// Reverse returns a batch of the reversal task: x [batch, length] of tokens
// drawn uniformly from 0..vocab-1, and y [batch, length] with each row of x
// reversed: y[b,t] = x[b,length-1-t]. It panics unless batch, length ≥ 1 and
// vocab ≥ 2.
func Reverse(rng *rand.Rand, batch, length, vocab int) (x, y *engine.Tensor) {
	checkSeqArgs("Reverse", batch, length, vocab)
	x = randomTokens(rng, batch, length, 0, vocab)
	y = engine.NewTensor(batch, length)
	for b := range batch {
		for t := range length {
			y.Data[b*length+t] = x.Data[b*length+length-1-t]
		}
	}
	return x, y
}

// Adding returns a batch of the adding problem (Hochreiter & Schmidhuber
// 1997; in the form of Le, Jaitly & Hinton 2015): x [batch, length, 2], where
// x[b,t,0] is a value drawn from U(0,1) and x[b,t,1] a marker that is 1 at
// exactly two steps and 0 elsewhere: one step drawn uniformly from the first
// half [0, length/2) and one from the second half [length/2, length). The
// target y [batch, 1] is the sum of the two marked values, for an mse loss
// on the last step. Always predicting 1 gives an mse of about 1/6, the
// baseline a model must beat. It panics unless batch ≥ 1 and length ≥ 2.
func Adding(rng *rand.Rand, batch, length int) (x, y *engine.Tensor) {
	if batch < 1 || length < 2 {
		panic(fmt.Sprintf("data: Adding: batch %d, length %d; want batch ≥ 1, length ≥ 2", batch, length))
	}
	x = engine.NewTensor(batch, length, 2)
	y = engine.NewTensor(batch, 1)
	half := length / 2
	for b := range batch {
		row := x.Data[b*length*2 : (b+1)*length*2]
		for t := range length {
			row[2*t] = rng.Float64()
		}
		first, second := rng.IntN(half), half+rng.IntN(length-half)
		row[2*first+1], row[2*second+1] = 1, 1
		y.Data[b] = row[2*first] + row[2*second]
	}
	return x, y
}

// RememberFirst returns a batch of the remember-the-first-symbol task, whose
// difficulty grows with distance: x [batch, distance+1] where, in each row,
//
//	x[b,0]           the symbol to remember, uniform in 1..vocab-1
//	x[b,1..distance] noise, each token uniform in 0..vocab-1
//
// and y [batch] holds x[b,0], the class a model must output after reading the
// last step (cross_entropy over vocab classes; class 0 never occurs as a
// target). The noise may contain the symbol itself, so only its position
// tells it apart. Chance accuracy is 1/(vocab-1). It panics unless batch ≥ 1,
// distance ≥ 0 and vocab ≥ 2.
func RememberFirst(rng *rand.Rand, batch, distance, vocab int) (x, y *engine.Tensor) {
	if distance < 0 {
		panic(fmt.Sprintf("data: RememberFirst: distance %d, want ≥ 0", distance))
	}
	checkSeqArgs("RememberFirst", batch, distance+1, vocab)
	length := distance + 1
	x = randomTokens(rng, batch, length, 0, vocab)
	y = engine.NewTensor(batch)
	for b := range batch {
		first := float64(1 + rng.IntN(vocab-1))
		x.Data[b*length] = first
		y.Data[b] = first
	}
	return x, y
}

// randomTokens returns a [batch, length] tensor of tokens uniform in lo..hi-1.
func randomTokens(rng *rand.Rand, batch, length, lo, hi int) *engine.Tensor {
	x := engine.NewTensor(batch, length)
	for i := range x.Data {
		x.Data[i] = float64(lo + rng.IntN(hi-lo))
	}
	return x
}

func checkSeqArgs(op string, batch, length, vocab int) {
	if batch < 1 || length < 1 || vocab < 2 {
		panic(fmt.Sprintf("data: %s: batch %d, length %d, vocab %d; want batch, length ≥ 1 and vocab ≥ 2", op, batch, length, vocab))
	}
}
