package charmodel

import (
	"math"
	"slices"
	"testing"
)

// claimSeeds are the seeds the claims are checked over.
var claimSeeds = []int{1, 2, 3}

// TestClaims checks what the lesson says of the run at the defaults (a GRU
// of 64, windows of 32, Adam at 0.01) over several seeds, and of the same
// run with the RNN cell:
//
//   - after the run's 600 steps the loss, on the training batches and on
//     the held-out text, is below ln V, the loss of guessing uniformly;
//   - the held-out loss ends above the training loss (the corpus is
//     small: the model starts learning it by heart), and for the GRU above
//     its own lowest value, reached earlier in the run;
//   - the prediction's reach (the farthest step whose piece of dW_hh is
//     at least 1 % of the largest) is longer after training than at step
//     0 for both cells, and the GRU's is longer than the RNN's.
//
// About 10 s of CPU; skipped with -short.
func TestClaims(t *testing.T) {
	if testing.Short() {
		t.Skip("trains six models for 600 steps")
	}
	for _, seed := range claimSeeds {
		far := map[string]int{}
		for _, cell := range []string{"gru", "rnn"} {
			c := trained(t, defaults(t, map[string]any{"cell": cell, "seed": seed}), 0)
			far0 := c.currentReach().Far
			for c.Pos() < total {
				if err := c.Advance(); err != nil {
					t.Fatal(err)
				}
			}
			var tail float64
			for _, l := range c.train[total-sampleEvery:] {
				tail += l / sampleEvery
			}
			held := c.held[len(c.held)-1]
			far[cell] = c.currentReach().Far
			t.Logf("seed %d %s: train loss (last %d steps) %.3f, held-out %.3f → %.3f (ln V %.3f); reach %d → %d characters",
				seed, cell, sampleEvery, tail, c.held[0], held, math.Log(float64(len(vocab))), far0, far[cell])
			if lnV := math.Log(float64(len(vocab))); tail >= lnV || held >= lnV {
				t.Errorf("seed %d %s: losses %.3f (train) and %.3f (held out) not below ln V %.3f", seed, cell, tail, held, lnV)
			}
			if held <= tail {
				t.Errorf("seed %d %s: held-out loss %.3f not above the training loss %.3f", seed, cell, held, tail)
			}
			if low := slices.Min(c.held); cell == "gru" && held <= low {
				t.Errorf("seed %d gru: the held-out loss ends at its lowest, %.3f", seed, held)
			}
			if far[cell] <= far0 {
				t.Errorf("seed %d %s: the reach did not grow: %d → %d", seed, cell, far0, far[cell])
			}
		}
		if far["gru"] <= far["rnn"] {
			t.Errorf("seed %d: the GRU reaches %d characters back, the RNN %d", seed, far["gru"], far["rnn"])
		}
	}
}
