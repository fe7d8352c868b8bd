package code_test

import (
	"math"
	"testing"

	"github.com/paramshare/paramshare/lab"
)

// TestEvalStat is lesson 17's "In code" in Go: the summary the widget shows
// for one model over its seeds, against the formula written out.
func TestEvalStat(t *testing.T) {
	// in-code:begin stats
	acc := []float64{0.71, 0.68, 0.73} // one model's test accuracy, seeds 1–3
	s := lab.NewEvalStat(acc)
	// s.Mean, s.SD (n − 1): the middle and the spread between seeds;
	// [s.Lo, s.Hi]: mean ± t(0.975, n−1)·sd/√n, with t from gonum's distuv
	// in-code:end stats
	mean := (0.71 + 0.68 + 0.73) / 3
	sd := math.Sqrt((math.Pow(0.71-mean, 2) + math.Pow(0.68-mean, 2) + math.Pow(0.73-mean, 2)) / 2)
	// Student's t with 2 degrees of freedom has a closed-form quantile:
	// t_p = (2p − 1)·√(2 / (4p(1 − p))); at p = 0.975 it is 4.3027 (any t table).
	const p = 0.975
	half := (2*p - 1) * math.Sqrt(2/(4*p*(1-p))) * sd / math.Sqrt(3)
	for _, c := range []struct {
		name      string
		got, want float64
	}{{"mean", s.Mean, mean}, {"sd", s.SD, sd}, {"lo", s.Lo, mean - half}, {"hi", s.Hi, mean + half}} {
		if math.Abs(c.got-c.want) > 1e-12 {
			t.Errorf("%s = %.15g, want %.15g", c.name, c.got, c.want)
		}
	}
	if !s.HasCI || s.N != 3 {
		t.Errorf("HasCI %v, N %d: three seeds give an interval", s.HasCI, s.N)
	}
}
