package engine_test

import (
	"math/rand/v2"
	"os"
	"testing"
	"time"

	"github.com/paramshare/paramshare/engine"
	"github.com/paramshare/paramshare/engine/data"
)

// These tests train the lessons' models for real and check that they learn
// what the lessons say they learn. Each runs in full in `go test ./engine`
// (CI runs it without -short): they are sized to take about 3–5 s of CPU
// each (10 s for the three on one core). Set PARAMSHARE_LONG_TRAIN=1 for the
// longer versions (cnn 8 epochs instead of 3, attention 3,000 steps instead
// of 1,000, lstm-vs-rnn on 3 seeds instead of 1; about 30 s in all):
//
//	PARAMSHARE_LONG_TRAIN=1 go test ./engine -run Train -v

func longTrain() bool { return os.Getenv("PARAMSHARE_LONG_TRAIN") != "" }

// trainStep runs one training step and fails the test if the loss diverged.
func trainStep(t *testing.T, m *engine.Model, opt engine.Optimizer, x, target *engine.Tensor) float64 {
	t.Helper()
	loss, err := m.ComputeGrad(x, target, nil)
	if err != nil {
		t.Fatal(err)
	}
	opt.Step(m.Params())
	return loss
}

// imageAccuracy returns m's accuracy on the first n images of set, in
// batches of 100.
func imageAccuracy(m *engine.Model, set *data.Images, n int) float64 {
	var hits float64
	for lo := 0; lo < n; lo += 100 {
		idx := make([]int, 0, 100)
		for i := lo; i < min(lo+100, n); i++ {
			idx = append(idx, i)
		}
		x, y := set.Batch(idx)
		hits += engine.Accuracy(m.Forward(x, nil), y) * float64(len(idx))
	}
	return hits / float64(n)
}

// TestTrainCNNOnMNIST trains the lessons' CNN (9,098 parameters) with Adam
// on the 5,000 embedded training digits and checks ≥ 95 % on the 1,000 test
// digits (chance is 10 %).
func TestTrainCNNOnMNIST(t *testing.T) {
	start := time.Now()
	m, err := engine.BuildModel("cnn", 1)
	if err != nil {
		t.Fatal(err)
	}
	train, test := data.MNISTTrain(), data.MNISTTest()
	epochs := 3
	if longTrain() {
		epochs = 8
	}
	const batch = 32
	opt := engine.NewAdam(3e-3, 0.9, 0.999, 1e-8)
	rng := engine.NewRand(2)
	for epoch := range epochs {
		perm := rng.Perm(train.N)
		var sum float64
		for lo := 0; lo+batch <= train.N; lo += batch {
			x, y := train.Batch(perm[lo : lo+batch])
			sum += trainStep(t, m, opt, x, y)
		}
		t.Logf("epoch %d: mean training loss %.4f", epoch+1, sum/float64(train.N/batch))
	}
	acc := imageAccuracy(m, test, test.N)
	t.Logf("cnn: %d epochs, test accuracy %.1f %% on %d digits (%v)", epochs, 100*acc, test.N, time.Since(start).Round(time.Second))
	if acc < 0.95 {
		t.Errorf("cnn test accuracy %.1f %%, want ≥ 95 %%", 100*acc)
	}
}

// reverseAccuracy returns the per-token accuracy of m on n fresh reversal
// sequences.
func reverseAccuracy(m *engine.Model, rng *rand.Rand, n int) float64 {
	cfg := engine.DefaultTransformerConfig()
	x, y := data.Reverse(rng, n, cfg.T, cfg.Vocab)
	return engine.Accuracy(m.Forward(x, nil), y)
}

// TestTrainAttentionReverses trains the attention model (one block, output
// tied to the embedding) to reverse sequences of 8 tokens and checks ≥ 99 %
// per-token accuracy on 1,000 fresh sequences (chance is 10 %). Reversal
// cannot be done token by token: every output must attend to the mirrored
// position, so this is attention learning a position-to-position map.
func TestTrainAttentionReverses(t *testing.T) {
	start := time.Now()
	m, err := engine.BuildModel("attention", 1)
	if err != nil {
		t.Fatal(err)
	}
	cfg := engine.DefaultTransformerConfig()
	steps := 1000
	if longTrain() {
		steps = 3000
	}
	opt := engine.NewAdam(3e-3, 0.9, 0.999, 1e-8)
	rng := engine.NewRand(3)
	for i := range steps {
		x, y := data.Reverse(rng, 32, cfg.T, cfg.Vocab)
		loss := trainStep(t, m, opt, x, y)
		if (i+1)%500 == 0 {
			t.Logf("step %d: loss %.4f", i+1, loss)
		}
	}
	acc := reverseAccuracy(m, engine.NewRand(4), 1000)
	t.Logf("attention: %d steps of 32, per-token accuracy %.2f %% on 1,000 fresh sequences (%v)", steps, 100*acc, time.Since(start).Round(time.Second))
	if acc < 0.99 {
		t.Errorf("attention reverse accuracy %.2f %%, want ≥ 99 %%", 100*acc)
	}
}

// rememberFirst trains the recurrent model with the given cell (the
// lessons' defaults otherwise) on remember-the-first-symbol at distance 20
// and returns its accuracy on 1,000 fresh sequences.
func rememberFirst(t *testing.T, cell string, seed uint64, steps int) float64 {
	t.Helper()
	cfg := engine.DefaultSeqConfig()
	cfg.Cell = cell
	m, err := engine.NewSeqModel(cell, cfg, seed)
	if err != nil {
		t.Fatal(err)
	}
	opt := engine.NewAdam(5e-3, 0.9, 0.999, 1e-8)
	rng := engine.NewRand(100 + seed)
	for i := range steps {
		x, y := data.RememberFirst(rng, 32, cfg.T-1, cfg.Vocab)
		loss, err := m.ComputeGrad(x, y, nil)
		if err != nil {
			t.Fatal(err)
		}
		engine.ClipGradNorm(m.Params(), 1)
		opt.Step(m.Params())
		if (i+1)%100 == 0 {
			t.Logf("%s seed %d step %d: loss %.4f", cell, seed, i+1, loss)
		}
	}
	x, y := data.RememberFirst(engine.NewRand(6), 1000, cfg.T-1, cfg.Vocab)
	return engine.Accuracy(m.Forward(x, nil), y)
}

// TestTrainLSTMBeatsRNN trains an LSTM and a plain RNN (tanh) of the same
// width, with the same data, optimizer (Adam 5e-3, gradient norm clipped
// at 1) and budget of 500 steps of 32 sequences, to output the first of 21
// symbols after reading all of them. Chance is 1/7 ≈ 14.3 % (the first
// symbol is one of 1…7). The LSTM's cell state, with its forget gate
// starting open (SeqConfig.ForgetBias), carries the symbol across the 20
// noise steps; the RNN's gradient through 20 tanh steps fades, so within
// the budget it stays near chance. The claim is about speed: given twice
// the steps an RNN of this size can find the task at distance 20 too (one
// run reached 99.9 % at 1,000 steps), which the lesson says.
//
// The quick test runs seed 1; PARAMSHARE_LONG_TRAIN=1 runs seeds 1, 2, 3
// and requires the margin for each.
func TestTrainLSTMBeatsRNN(t *testing.T) {
	start := time.Now()
	const steps = 500
	seeds := []uint64{1}
	if longTrain() {
		seeds = []uint64{1, 2, 3}
	}
	for _, seed := range seeds {
		lstm := rememberFirst(t, "lstm", seed, steps)
		rnn := rememberFirst(t, "rnn", seed, steps)
		t.Logf("remember-first at distance 20, seed %d, %d steps of 32: lstm %.1f %%, rnn %.1f %% (chance 14.3 %%)", seed, steps, 100*lstm, 100*rnn)
		// The LSTM sometimes sits for a while on a plateau near 86 % (six
		// of the seven symbols learnt), and which side of it 500 steps end
		// on depends on the last bits of the arithmetic: 80 % still means
		// "clearly beats" an RNN near chance (14.3 %).
		if lstm < 0.80 || rnn > 0.60 {
			t.Errorf("seed %d: lstm %.1f %% (want ≥ 80 %%), rnn %.1f %% (want ≤ 60 %%)", seed, 100*lstm, 100*rnn)
		}
	}
	t.Logf("%d seeds in %v", len(seeds), time.Since(start).Round(time.Second))
}
