package lab_test

import (
	"context"
	"testing"

	"github.com/paramshare/paramshare/lab"
	"github.com/paramshare/paramshare/run"
)

// The lessons state the textbook claims about sharing and then say what the
// measurements show. These tests run the same experiments and check every
// ordering the lesson prose states, so the prose cannot drift from what the
// engine computes. They take about a minute of CPU: skipped with -short.

func models(t *testing.T, res *lab.CompareResult) (cnn, lc, mlp lab.ModelResult) {
	t.Helper()
	byName := map[string]lab.ModelResult{}
	for _, m := range res.Models {
		byName[m.Model] = m
	}
	return byName["cnn"], byName["lc"], byName["mlp"]
}

// TestClaimsCNNvsUnshared checks "Train a CNN live" against the 3-seed
// comparison `go run ./cmd/lab cnn-vs-unshared -seeds 3` prints.
func TestClaimsCNNvsUnshared(t *testing.T) {
	if testing.Short() {
		t.Skip("trains 9 models (about 35 s of CPU); run without -short")
	}
	t.Parallel()
	res, err := lab.CompareCNN(context.Background(), lab.DefaultCompareConfig(), nil)
	if err != nil {
		t.Fatal(err)
	}
	cnn, lc, mlp := models(t, res)
	for _, m := range []lab.ModelResult{cnn, lc, mlp} {
		t.Logf("%-3s params %7d  test %.1f %%  gap %.1f pts  shifts %v", m.Model, m.Params, 100*m.TestAcc.Mean, 100*m.Gap.Mean, m.ShiftAcc)
	}
	// "Fewer parameters: confirmed": the twin has 33 times as many, the
	// MLP about as many as the CNN.
	if lc.Params < 30*cnn.Params || mlp.Params > 2*cnn.Params {
		t.Errorf("params cnn %d lc %d mlp %d", cnn.Params, lc.Params, mlp.Params)
	}
	// "the CNN ends level with [the twin] or ahead; the MLP clearly behind both".
	if cnn.TestAcc.Mean < lc.TestAcc.Mean-0.005 || mlp.TestAcc.Mean > lc.TestAcc.Mean-0.02 || mlp.TestAcc.Mean > cnn.TestAcc.Mean-0.02 {
		t.Errorf("test accuracy cnn %.3f lc %.3f mlp %.3f", cnn.TestAcc.Mean, lc.TestAcc.Mean, mlp.TestAcc.Mean)
	}
	// "Locality buys most of the test accuracy" (MLP → twin) "; sharing
	// narrows the train/test gap further" (twin → CNN), and the gaps order
	// CNN < twin < MLP.
	if lc.TestAcc.Mean-mlp.TestAcc.Mean <= cnn.TestAcc.Mean-lc.TestAcc.Mean {
		t.Errorf("locality adds %.3f, sharing %.3f test accuracy", lc.TestAcc.Mean-mlp.TestAcc.Mean, cnn.TestAcc.Mean-lc.TestAcc.Mean)
	}
	if !(cnn.Gap.Mean < lc.Gap.Mean && lc.Gap.Mean < mlp.Gap.Mean) {
		t.Errorf("gaps cnn %.3f lc %.3f mlp %.3f, want increasing", cnn.Gap.Mean, lc.Gap.Mean, mlp.Gap.Mean)
	}
	// "The CNN's accuracy falls most slowly as the digits move, but it is far
	// from invariant."
	shifts := res.Config.Shifts
	for i, s := range shifts {
		if s > 0 && (cnn.ShiftAcc[i].Mean < lc.ShiftAcc[i].Mean || cnn.ShiftAcc[i].Mean < mlp.ShiftAcc[i].Mean) {
			t.Errorf("shift %d px: cnn %.3f lc %.3f mlp %.3f", s, cnn.ShiftAcc[i].Mean, lc.ShiftAcc[i].Mean, mlp.ShiftAcc[i].Mean)
		}
		if s == 4 && cnn.ShiftAcc[i].Mean > 0.7*cnn.TestAcc.Mean {
			t.Errorf("at 4 px the CNN keeps %.3f of %.3f: the lesson calls it far from invariant", cnn.ShiftAcc[i].Mean, cnn.TestAcc.Mean)
		}
	}
}

// TestClaimsDrawDigit checks "Draw a digit" against the models the server
// trains for it (run.DefaultDigitTraining's budget, seed 1).
func TestClaimsDrawDigit(t *testing.T) {
	if testing.Short() {
		t.Skip("trains 3 models on 5,000 digits (about 20 s of CPU); run without -short")
	}
	t.Parallel()
	d := run.DefaultDigitTraining()
	cfg := lab.DefaultCompareConfig()
	cfg.Seeds, cfg.Epochs, cfg.TrainSize, cfg.Eval = 1, d.Epochs, d.TrainSize, d.EvalSize
	cfg.Shifts = []int{0, 2, 4, 6, 8}
	res, err := lab.CompareCNN(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	cnn, lc, mlp := models(t, res)
	for _, m := range []lab.ModelResult{cnn, lc, mlp} {
		t.Logf("%-3s shifts %v: %v", m.Model, cfg.Shifts, m.ShiftAcc)
	}
	for i, s := range cfg.Shifts {
		c, l, p := cnn.ShiftAcc[i].Mean, lc.ShiftAcc[i].Mean, mlp.ShiftAcc[i].Mean
		// "the CNN stays the most accurate"; the twin "is less accurate than
		// the CNN, shifted or not".
		if c < l || c < p {
			t.Errorf("shift %d: cnn %.3f lc %.3f mlp %.3f: the CNN is not the most accurate", s, c, l, p)
		}
		// "the MLP falls furthest within the first few pixels".
		if s > 0 && s <= 6 && (p > l || p > c) {
			t.Errorf("shift %d: mlp %.3f is not the lowest (lc %.3f, cnn %.3f)", s, p, l, c)
		}
	}
	// "at 8 pixels all three have lost most of what they knew".
	last := len(cfg.Shifts) - 1
	for _, m := range []lab.ModelResult{cnn, lc, mlp} {
		if m.ShiftAcc[last].Mean > 0.5*m.ShiftAcc[0].Mean {
			t.Errorf("%s keeps %.3f of %.3f at 8 px", m.Model, m.ShiftAcc[last].Mean, m.ShiftAcc[0].Mean)
		}
	}
}
