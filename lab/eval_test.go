package lab_test

import (
	"math"
	"slices"
	"testing"

	"github.com/paramshare/paramshare/lab"
)

// TestTQuantile975 checks gonum's Student-t quantile against the printed
// two-sided 95 % table (e.g. NIST/SEMATECH e-Handbook, table 1.3.6.7.2).
func TestTQuantile975(t *testing.T) {
	for df, want := range map[int]float64{1: 12.706, 2: 4.303, 4: 2.776, 9: 2.262, 30: 2.042} {
		if got := lab.TQuantile975(df); math.Abs(got-want) > 5e-4 {
			t.Errorf("t(0.975, %d) = %.4f, table %.3f", df, got, want)
		}
	}
}

func TestNewEvalStat(t *testing.T) {
	s := lab.NewEvalStat([]float64{1, 2, 3})
	// t(0.975, 2) in closed form: for 2 degrees of freedom the quantile of
	// p is (2p − 1)·√(2 / (4p(1 − p))).
	h := 0.95 * math.Sqrt(2/0.0975) / math.Sqrt(3) // t·sd/√n with sd = 1
	if s.N != 3 || s.Mean != 2 || math.Abs(s.SD-1) > 1e-15 || !s.HasCI || math.Abs(s.Lo-(2-h)) > 1e-12 || math.Abs(s.Hi-(2+h)) > 1e-12 {
		t.Errorf("stat of 1, 2, 3: %+v; want mean 2, sd 1, 2 ∓ %.6f", s, h)
	}
	one := lab.NewEvalStat([]float64{0.7})
	if one.HasCI || one.SD != 0 || one.Lo != 0.7 || one.Hi != 0.7 {
		t.Errorf("one seed: %+v; want no interval", one)
	}
}

func TestEvalConfigValidate(t *testing.T) {
	good := lab.EvalConfig{Comparison: lab.EvalCNN, Size: lab.EvalSmall, Seeds: 3}
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []lab.EvalConfig{
		{Comparison: "cnn", Size: lab.EvalSmall, Seeds: 3},
		{Comparison: lab.EvalCNN, Size: "huge", Seeds: 3},
		{Comparison: lab.EvalCNN, Size: lab.EvalSmall, Seeds: 0},
		{Comparison: lab.EvalCNN, Size: lab.EvalSmall, Seeds: lab.MaxEvalSeeds + 1},
	} {
		if bad.Validate() == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
	// Every comparison's budgets are valid for its lab function, and grow.
	for _, c := range lab.EvalComparisons() {
		prev := 0
		for _, size := range lab.EvalSizes() {
			b := lab.EvalConfig{Comparison: c, Size: size, Seeds: lab.MaxEvalSeeds}.Budget()
			if b.Steps <= prev || b.Batch < 1 || b.Eval < 1 || !(b.LR > 0) {
				t.Errorf("%s %s: budget %+v", c, size, b)
			}
			prev = b.Steps
		}
	}
}

// TestEvalParams: the counts shown before training are the models' as
// the lessons quote them (lessons 4, 15, 17 and lab's tests).
func TestEvalParams(t *testing.T) {
	for c, want := range map[string][]int{
		lab.EvalCNN:   {9098, 299498, 9550, 299725},
		lab.EvalGAP:   {9098, 1418, 10090},
		lab.EvalRNN:   {1608, 15048},
		lab.EvalTwins: {6624, 13248},
	} {
		got, err := lab.EvalParams(c)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("%s: %v (%v), want %v", c, got, err, want)
		}
	}
	for _, c := range lab.EvalComparisons() {
		if p, err := lab.EvalParams(c); err != nil || len(p) < 2 {
			t.Errorf("%s: %v, %v", c, p, err)
		}
	}
}
