package lab

import (
	"math"
	"testing"

	"github.com/paramshare/paramshare/engine"
	"gonum.org/v1/gonum/diff/fd"
)

func maxAbsDiff(a, b []float64) float64 {
	var m float64
	for i := range a {
		m = max(m, math.Abs(a[i]-b[i]))
	}
	return m
}

// TestPairDistanceGradient: the towers' distance and its backward against
// finite differences of the contrastive loss, in float64, with pairs both
// inside and beyond the margin.
func TestPairDistanceGradient(t *testing.T) {
	const bsz, f = 4, 3
	rng := engine.NewRand(3)
	a, c := engine.NewTensor(bsz, f), engine.NewTensor(bsz, f)
	engine.InitUniform(a, 0.6, rng)
	engine.InitUniform(c, 0.6, rng)
	y := engine.TensorFrom([]float64{1, 0, 1, 0}, bsz)
	loss := func(av, cv []float64) float64 {
		diff := make([]float64, bsz*f)
		d := PairDistance(engine.TensorFrom(av, bsz, f), engine.TensorFrom(cv, bsz, f), diff)
		return engine.NewContrastive(1).Forward(d, y)
	}
	diff := make([]float64, bsz*f)
	d := PairDistance(a, c, diff)
	cl := engine.NewContrastive(1)
	cl.Forward(d, y)
	da, dc := PairDistanceBackward(cl.Backward(), d, diff, a.Shape)
	ga := fd.Gradient(nil, func(v []float64) float64 { return loss(v, c.Data) }, a.Data, &fd.Settings{Formula: fd.Central})
	gc := fd.Gradient(nil, func(v []float64) float64 { return loss(a.Data, v) }, c.Data, &fd.Settings{Formula: fd.Central})
	if e := max(maxAbsDiff(ga, da.Data), maxAbsDiff(gc, dc.Data)); e > 1e-7 {
		t.Errorf("distance gradient off finite differences by %g", e)
	}
}

// TestTowersAreTheBranches: at step 0 the towers hold the twins' weights,
// so on the same pairs the towers' loss is the twins' and tower k's
// gradient is side k's contribution to the twins' gradient; the two
// contributions sum to the twins' dW (all to 1e-12); the towers hold twice
// the encoder's parameters.
func TestTowersAreTheBranches(t *testing.T) {
	cfg := DefaultTwinsConfig()
	cfg.Batch = 6
	tr, err := NewTwinsTrainer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	p := testPairs(TestSet(), 6)
	s := tr.sc.Size
	x, y := engine.NewTensor(6, 2, 1, s, s), engine.NewTensor(6)
	fillPairs(TestSet(), p, 0, x, y)
	tr.rec.Reset()
	l0, err := tr.twins.ComputeGrad(x, y, tr.rec)
	if err != nil {
		t.Fatal(err)
	}
	l1, err := tr.TowersGrad(x, y)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(l0-l1) > 1e-12 {
		t.Errorf("twins loss %v, towers %v", l0, l1)
	}
	for i, w := range tr.twins.Params() {
		uses := tr.rec.Uses(w, engine.UseBranch)
		if len(uses) != 2 {
			t.Fatalf("%s: %d branch contributions", w.Name, len(uses))
		}
		sum := tr.rec.Sum(w, engine.UseBranch)
		if e := maxAbsDiff(sum.Data, w.Grad.Data); e > 1e-12 {
			t.Errorf("%s: branch sum off dW by %g", w.Name, e)
		}
		for k := range 2 {
			if e := maxAbsDiff(uses[k].Grad.Data, tr.towers[k].Params()[i].Grad.Data); e > 1e-12 {
				t.Errorf("%s: side %d's contribution off tower %d's gradient by %g", w.Name, k, k, e)
			}
		}
	}
	enc := tr.twins.Count().Params
	towers := tr.towers[0].Count().Params + tr.towers[1].Count().Params
	if towers != 2*enc {
		t.Errorf("towers %d params, twins %d: want 2×", towers, enc)
	}
}

// TestTaskGradsSum: each task's trunk gradient sums to the trunk gradient
// of the joint loss (the engine's ComputeGrad) to 1e-12, and at step 0
// separate network k's trunk gradient is task k's.
func TestTaskGradsSum(t *testing.T) {
	cfg := DefaultTwinsConfig()
	cfg.Batch = 8
	tr, err := NewTasksTrainer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	idx := []int{0, 1, 2, 3, 4, 5, 6, 7}
	fillTasks(TrainSet(), idx, tr.x, tr.yt, tr.y0, tr.y1)
	parts, losses, err := tr.TaskGrads(tr.x, tr.yt)
	if err != nil {
		t.Fatal(err)
	}
	joint, err := tr.shared.ComputeGrad(tr.x, tr.yt, nil)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(joint-losses[0]-losses[1]) > 1e-12 {
		t.Errorf("joint loss %v, tasks %v", joint, losses)
	}
	for i, p := range tr.trunk {
		sum := make([]float64, len(p.Grad.Data))
		for j := range sum {
			sum[j] = parts[0][i].Data[j] + parts[1][i].Data[j]
		}
		if e := maxAbsDiff(sum, p.Grad.Data); e > 1e-12 {
			t.Errorf("%s: task parts off the joint gradient by %g", p.Name, e)
		}
	}
	for k, m := range tr.sep {
		y := []*engine.Tensor{tr.y0, tr.y1}[k]
		l, err := m.ComputeGrad(tr.x, y, nil)
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(l-losses[k]) > 1e-12 {
			t.Errorf("task %d: separate loss %v, shared head's %v", k, l, losses[k])
		}
		for i := range tr.trunk {
			if e := maxAbsDiff(m.Params()[i].Grad.Data, parts[k][i].Data); e > 1e-12 {
				t.Errorf("task %d param %d: separate trunk gradient off the task's part by %g", k, i, e)
			}
		}
	}
	if c := Cosine(parts[0], parts[1]); !(c >= -1 && c <= 1) {
		t.Errorf("cosine %v", c)
	}
}

func BenchmarkTwinsStep(b *testing.B) {
	tr, err := NewTwinsTrainer(DefaultTwinsConfig())
	if err != nil {
		b.Fatal(err)
	}
	for range b.N {
		if _, err := tr.Step(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkTasksStep(b *testing.B) {
	tr, err := NewTasksTrainer(DefaultTwinsConfig())
	if err != nil {
		b.Fatal(err)
	}
	for range b.N {
		if _, err := tr.Step(); err != nil {
			b.Fatal(err)
		}
	}
}
