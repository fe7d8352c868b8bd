package lab

import (
	"context"
	"math"
	"testing"
	"time"
)

// TestTimeExcludesPauses: a model's time is its steps and measurements,
// not the pauses a caller's progress callback makes (a server waiting for
// a CPU slot): with the callback sleeping at every report, the models'
// times add up to at most the call's wall time less the sleeps.
func TestTimeExcludesPauses(t *testing.T) {
	const nap = 30 * time.Millisecond
	slept := 0
	sleepy := func(Progress) { slept++; time.Sleep(nap) }
	ctx := context.Background()
	var start time.Time
	begin := func() { slept, start = 0, time.Now() }
	check := func(name string, secs []float64) {
		t.Helper()
		wall := time.Since(start).Seconds()
		total := 0.0
		for _, s := range secs {
			if !(s > 0) {
				t.Errorf("%s: time %v, want > 0", name, s)
			}
			total += s
		}
		pauses := (time.Duration(slept) * nap).Seconds()
		if slept == 0 || total > wall-pauses+0.005 {
			t.Errorf("%s: models' times add up to %.3f s, the call took %.3f s of which %d pauses %.3f s: the pauses are counted", name, total, wall, slept, pauses)
		}
	}

	cc := DefaultCompareConfig()
	cc.Models, cc.LR, cc.Seeds, cc.Epochs, cc.TrainSize, cc.Eval, cc.Shifts = []string{"cnn", ModelMLPWide}, nil, 1, 1, 128, 64, []int{0}
	begin()
	cr, err := CompareCNN(ctx, cc, sleepy)
	if err != nil {
		t.Fatal(err)
	}
	check("cnn-vs-unshared", []float64{cr.Models[0].Runs[0].Seconds, cr.Models[1].Runs[0].Seconds})

	uc := DefaultUnsharedConfig()
	uc.Seeds, uc.Steps, uc.TrainSize, uc.Eval = 1, 10, 64, 64
	begin()
	ur, err := RNNVsUnshared(ctx, uc, sleepy)
	if err != nil {
		t.Fatal(err)
	}
	check("rnn-vs-unshared", []float64{ur.Models[0].Runs[0].Seconds, ur.Models[1].Runs[0].Seconds})

	tc := DefaultTiedCompareConfig()
	tc.Seeds, tc.Steps, tc.Eval = 1, 20, 16
	begin()
	tr, err := TiedVsUntied(ctx, tc, sleepy)
	if err != nil {
		t.Fatal(err)
	}
	check("tied-vs-untied", []float64{tr.Models[0].Runs[0].Seconds, tr.Models[1].Runs[0].Seconds})

	wc := DefaultTwinsCompareConfig()
	wc.Seeds, wc.Steps = 1, 5
	begin()
	wr, err := siameseVsTowers(ctx, wc, sleepy, false)
	if err != nil {
		t.Fatal(err)
	}
	check("twins-towers", []float64{wr.Rows[0].Runs["seconds"][0], wr.Rows[1].Runs["seconds"][0]})
	for _, r := range wr.Rows {
		if a := r.Runs["train-accuracy"]; len(a) != 1 || a[0] < 0 || a[0] > 1 {
			t.Errorf("%s: train accuracy %v", r.Model, a)
		}
	}
}

// TestPair: each model's paired difference is the per-seed difference to
// the first model, with the t interval of those differences.
func TestPair(t *testing.T) {
	r := &EvalResult{HigherBetter: true}
	for _, m := range []struct {
		name string
		test []float64
	}{{"a", []float64{0.70, 0.80, 0.75}}, {"b", []float64{0.72, 0.821, 0.769}}} {
		em := EvalModel{Model: m.name}
		for k, v := range m.test {
			em.Runs = append(em.Runs, EvalRun{Model: m.name, Seed: uint64(k + 1), Test: v})
		}
		em.summarise()
		r.Models = append(r.Models, em)
	}
	r.pair()
	if r.Ref != "a" || r.Models[0].Diff.Mean != 0 || r.Models[0].Diff.SD != 0 {
		t.Errorf("reference %q, its diff %+v", r.Ref, r.Models[0].Diff)
	}
	d := r.Models[1].Diff
	// Differences 0.020, 0.021, 0.019: mean 0.02, sd 0.001.
	h := TQuantile975(2) * 0.001 / math.Sqrt(3)
	if math.Abs(d.Mean-0.02) > 1e-12 || math.Abs(d.SD-0.001) > 1e-12 || math.Abs(d.Lo-(0.02-h)) > 1e-12 || math.Abs(d.Hi-(0.02+h)) > 1e-12 {
		t.Errorf("paired difference %+v, want 0.02 ± %.5f", d, h)
	}
	// Unpaired, the two means' intervals overlap; paired, the difference's
	// interval excludes 0: the seeds move both models together.
	a, b := r.Models[0].Test, r.Models[1].Test
	if !(a.Hi > b.Lo && d.Lo > 0) {
		t.Errorf("a %+v, b %+v, diff %+v: want overlapping means and a difference above 0", a, b, d)
	}
}

// TestEvalTrainSize: the CNN question's training digits are apart from its
// steps — the budget's steps on any of EvalTrainSizes — and no other
// comparison takes them.
func TestEvalTrainSize(t *testing.T) {
	small := EvalConfig{Comparison: EvalCNN, Size: EvalSmall, Seeds: 1}
	for _, n := range EvalTrainSizes() {
		c := small
		c.TrainSize = n
		if err := c.Validate(); err != nil {
			t.Fatal(err)
		}
		if b := c.Budget(); b.TrainSize != n || b.Steps != small.Budget().Steps {
			t.Errorf("train size %d: budget %+v, want %d digits and the small budget's %d steps", n, b, n, small.Budget().Steps)
		}
	}
	for _, bad := range []EvalConfig{
		{Comparison: EvalCNN, Size: EvalSmall, Seeds: 1, TrainSize: 123},
		{Comparison: EvalTwins, Size: EvalSmall, Seeds: 1, TrainSize: 1000},
	} {
		if bad.Validate() == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
	// CompareConfig.Steps replaces the epochs.
	cc := DefaultCompareConfig()
	cc.Models, cc.LR, cc.Seeds, cc.TrainSize, cc.Steps, cc.Eval, cc.Shifts = []string{"mlp"}, nil, 1, 100, 7, 50, []int{0}
	r, err := CompareCNN(context.Background(), cc, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Models[0].Runs[0].Steps; got != 7 {
		t.Errorf("%d steps, want 7", got)
	}
}
