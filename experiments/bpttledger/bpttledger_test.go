package bpttledger

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/paramshare/paramshare/engine"
	"github.com/paramshare/paramshare/run"
)

// values returns the defaults with the given changes.
func values(changes map[string]any) run.Values {
	v := run.Defaults(fields)
	for k, x := range changes {
		v = v.With(k, x)
	}
	return v
}

func build(t testing.TB, v run.Values) *ledger {
	t.Helper()
	l, err := newLedger(v)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func advanceTo(t testing.TB, l *ledger, pos int) {
	t.Helper()
	for l.Pos() < pos {
		if err := l.Advance(); err != nil {
			t.Fatal(err)
		}
	}
}

// twin is an independent engine run of the same training: the same model,
// optimizer and batches, trained by a plain loop without any tap (the
// engine's untapped backward sums the steps with one product, not step by
// step), so its gradients are computed without the ledger's path.
type twin struct {
	p     params
	model *engine.Model
	cell  *engine.RNN
	opt   engine.Optimizer
	rng   *rand.Rand
	x, y  *engine.Tensor
}

func newTwin(t *testing.T, v run.Values) *twin {
	t.Helper()
	p := paramsOf(v)
	m, c, err := newModel(p)
	if err != nil {
		t.Fatal(err)
	}
	return &twin{p: p, model: m, cell: c, opt: newOptimizer(p), rng: rand.New(rand.NewPCG(uint64(p.Seed), dataStream))}
}

// step computes training step k's gradient (k = 0, 1, … in order), after
// applying the previous step's update.
func (w *twin) step(t *testing.T, k int) float64 {
	t.Helper()
	if k > 0 {
		w.opt.Step(w.model.Params())
	}
	w.x, w.y = batchFor(w.p, w.rng)
	loss, err := w.model.ComputeGrad(w.x, w.y, nil)
	if err != nil {
		t.Fatal(err)
	}
	return loss
}

// grad returns the twin's gradient of the shown parameter, laid out as the
// ledger's matrix.
func (w *twin) grad(param string) []float64 {
	switch param {
	case paramHH:
		return slices.Clone(w.cell.WeightHH.Grad.Data)
	case paramIH:
		return slices.Clone(w.cell.WeightIH.Grad.Data)
	}
	return interleave(w.cell.BiasIH.Grad.Data, w.cell.BiasHH.Grad.Data)
}

func maxDiff(a, b []float64) float64 {
	var m float64
	for i := range a {
		m = math.Max(m, math.Abs(a[i]-b[i]))
	}
	return m
}

// TestSumIsEngineGrad: for every parameter the ledger shows, both tasks
// and several training steps, the Σ of all T contributions equals the
// engine's Grad to 1e-12 (the frame's maxDiff), and equals the gradient of
// an independent run without a tap to 1e-12.
func TestSumIsEngineGrad(t *testing.T) {
	for _, task := range []string{taskRemember, taskAdding} {
		for _, param := range shown {
			t.Run(task+"/"+param, func(t *testing.T) {
				v := values(map[string]any{"task": task, "param": param, "T": 7, "hidden": 5, "steps": 12, "seed": 3})
				l := build(t, v)
				tw := newTwin(t, v)
				for k := range 12 {
					tw.step(t, k)
					advanceTo(t, l, (k+1)*7)
					d := l.data(exact)
					if d.MaxDiff == nil || *d.MaxDiff > 1e-12 {
						t.Fatalf("step %d: max |Σ − dW| = %v", k+1, d.MaxDiff)
					}
					if m := maxDiff(d.Sum, tw.grad(param)); m > 1e-12 {
						t.Fatalf("step %d: Σ differs from an untapped engine run's gradient by %g", k+1, m)
					}
					// Every shown number was computed from the same matrices.
					if m := maxDiff(d.Engine, tw.grad(param)); m > 1e-12 {
						t.Fatalf("step %d: engine dW differs from the twin's by %g", k+1, m)
					}
				}
			})
		}
	}
}

// TestFramesMatchEngine: a frame's numbers — loss, ‖∂L/∂h_t‖, each
// contribution's norm and matrix, the running Σ part way — equal those of
// an independent engine run recorded here with its own Recorder.
func TestFramesMatchEngine(t *testing.T) {
	v := values(map[string]any{"T": 6, "hidden": 4, "steps": 5, "inspect": 2})
	l := build(t, v)
	tw := newTwin(t, v)
	for k := range 5 {
		tw.step(t, k)
	}
	// Record step 5 of the twin again, this time with a Recorder.
	rec := engine.NewRecorder(engine.RecordFilter{Internals: []string{engine.InternalHiddenGrad}})
	loss, err := tw.model.ComputeGrad(tw.x, tw.y, rec)
	if err != nil {
		t.Fatal(err)
	}
	uses := rec.Uses(tw.cell.WeightHH, engine.UseStep)
	hg := rec.ValueNorms(tw.cell, engine.InternalHiddenGrad)
	for j := 1; j <= 6; j++ {
		advanceTo(t, l, 4*6+j)
		d := l.data(exact)
		if d.TrainStep != 5 || d.Added != j || d.At != 6-j+1 {
			t.Fatalf("position %d: training step %d, added %d, at %d", l.Pos(), d.TrainStep, d.Added, d.At)
		}
		if d.Loss != loss {
			t.Fatalf("loss %v, twin %v", d.Loss, loss)
		}
		if m := maxDiff(d.HiddenGrad, hg); m > 1e-12 {
			t.Fatalf("‖∂L/∂h_t‖ differ by %g", m)
		}
		want := make([]float64, 16)
		for tt := 6 - j; tt < 6; tt++ {
			for e, g := range uses[tt].Grad.Data {
				want[e] += g
			}
			if n := norm(uses[tt].Grad.Data); math.Abs(d.Norms[tt]-n) > 1e-15 {
				t.Fatalf("norm of t = %d: %v, twin %v", tt+1, d.Norms[tt], n)
			}
		}
		if m := maxDiff(d.Sum, want); m > 1e-12 {
			t.Fatalf("after %d steps: Σ differs by %g", j, m)
		}
		if j < 5 {
			if d.Inspect != nil {
				t.Fatalf("t = 2 not added yet after %d steps, but inspected: %+v", j, d.Inspect)
			}
			continue
		}
		if d.Inspect == nil || d.Inspect.T != 2 || maxDiff(d.Inspect.Contribution, uses[1].Grad.Data) > 1e-15 {
			t.Fatalf("inspected t = 2: %+v", d.Inspect)
		}
	}
}

// TestStepOneAddsNothingToWhh: h_0 = 0, so time step 1's contribution to
// dW_hh (δ_1 h_0ᵀ) is exactly zero, in every training step; its
// contributions to W_ih and the biases are not.
func TestStepOneAddsNothingToWhh(t *testing.T) {
	for _, task := range []string{taskRemember, taskAdding} {
		l := build(t, values(map[string]any{"task": task, "steps": 20}))
		for k := range 20 {
			advanceTo(t, l, (k+1)*l.p.T)
			if n := l.cur.norms[0][0]; n != 0 {
				t.Fatalf("%s step %d: ‖contribution of t = 1 to dW_hh‖ = %g", task, k+1, n)
			}
			if l.cur.norms[1][0] == 0 || l.cur.norms[2][0] == 0 {
				t.Fatalf("%s step %d: t = 1 adds nothing to W_ih or the biases", task, k+1)
			}
		}
	}
}

// TestBiasColumnsAgree: in an RNN both biases are added into the same sum
// a_t, so each step's contributions to b_ih and b_hh are equal.
func TestBiasColumnsAgree(t *testing.T) {
	l := build(t, values(map[string]any{"param": paramBias}))
	advanceTo(t, l, l.p.T)
	for tt, c := range l.cur.contrib[2] {
		for j := 0; j < len(c); j += 2 {
			if c[j] != c[j+1] {
				t.Fatalf("t = %d unit %d: db_ih %v, db_hh %v", tt+1, j/2, c[j], c[j+1])
			}
		}
	}
}

// TestRewind: going back within a pass, into the pass before, and further
// gives the frames a fresh run gives, and stepping on from there too.
func TestRewind(t *testing.T) {
	v := values(map[string]any{"T": 5, "steps": 8})
	frameAt := func(pos int) []byte {
		l := build(t, v)
		advanceTo(t, l, pos)
		b, err := json.Marshal(l.Frame().Data)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	l := build(t, v)
	for _, to := range []int{23, 22, 21, 20, 16, 23, 25, 3, 0, 30} {
		if to < l.Pos() {
			if err := l.Rewind(to); err != nil {
				t.Fatal(err)
			}
		}
		advanceTo(t, l, to)
		got, _ := json.Marshal(l.Frame().Data)
		if !bytes.Equal(got, frameAt(to)) {
			t.Fatalf("at %d: frame differs from a fresh run's", to)
		}
	}
}

// TestSetParamsKeepsTraining: a new parameter to show or step to inspect
// keeps the position; a new seed trains anew.
func TestSetParamsKeepsTraining(t *testing.T) {
	l := build(t, values(nil))
	advanceTo(t, l, 25)
	if err := l.SetParams(l.v.With("param", paramIH).With("inspect", 3)); err != nil {
		t.Fatal(err)
	}
	if l.Pos() != 25 {
		t.Fatalf("a new view moved the run to %d", l.Pos())
	}
	if err := l.SetParams(l.v.With("seed", 2)); err != nil {
		t.Fatal(err)
	}
	if l.Pos() != 0 {
		t.Fatalf("a new seed kept position %d", l.Pos())
	}
}

// TestExports: the JSON export is the frame at full precision, and the
// step trace's W_hh gradient is the dW the ledger adds up to.
func TestExports(t *testing.T) {
	l := build(t, values(map[string]any{"T": 5, "steps": 4}))
	advanceTo(t, l, 13)
	var buf bytes.Buffer
	if err := writeTrace(&buf, l, "en"); err != nil {
		t.Fatal(err)
	}
	tr, err := engine.ReadTrace(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if err := engine.CheckTrace(tr); err != nil {
		t.Fatal(err)
	}
	var whh []float64
	for _, ly := range tr.Layers {
		if ly.Name == "cell" {
			g, ok := ly.Grads.Lookup("weight_hh")
			if !ok {
				t.Fatal("trace has no weight_hh gradient")
			}
			whh = g.Tensor.Data
		}
	}
	if m := maxDiff(whh, l.sum(l.p.T)); m > 1e-12 {
		t.Fatalf("trace dW_hh differs from Σ of the contributions by %g", m)
	}
	buf.Reset()
	if err := writeJSON(&buf, l, "en"); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Step int `json:"step"`
		Data struct {
			Sum  []float64 `json:"sum"`
			Heat struct {
				Rows  int        `json:"rows"`
				Log10 []*float64 `json:"log10"`
			} `json:"heat"`
		} `json:"data"`
	}
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if got.Step != 13 || maxDiff(got.Data.Sum, l.sum(l.j)) != 0 || got.Data.Heat.Rows != 3 || len(got.Data.Heat.Log10) != 15 {
		t.Fatalf("json export: step %d, heat rows %d", got.Step, got.Data.Heat.Rows)
	}
	for _, format := range []string{"png", "svg"} {
		for _, lang := range []string{"en", "zh"} {
			buf.Reset()
			if err := l.figure(&buf, format, lang); err != nil || buf.Len() == 0 {
				t.Fatalf("%s %s: %v", format, lang, err)
			}
		}
	}
}

// run trains a ledger with v to its end and returns it.
func trained(t *testing.T, v run.Values) *ledger {
	t.Helper()
	l := build(t, v)
	advanceTo(t, l, l.Total())
	return l
}

// last0 is the W_hh contribution norms of l's last training step.
func last0(l *ledger) []float64 { return l.norms[len(l.norms)-1][0] }

func mean(v []float64) float64 {
	var s float64
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}

// TestClaims checks what the lesson says of the run the page shows (the
// defaults: remember-first, T = 10, hidden 6, Adam 0.01, 200 steps) over
// seeds 1–5, and of T = 4.
func TestClaims(t *testing.T) {
	seeds := []int{1, 2, 3, 4, 5}
	for _, seed := range seeds {
		l := trained(t, values(map[string]any{"seed": seed}))
		T := l.p.T
		// "In every training step of the run, ‖∂L/∂h_t‖ shrinks with each
		// step back, from t = T to t = 1."
		for k, hg := range l.hgradNorms {
			for tt := 1; tt < T; tt++ {
				if hg[tt-1] >= hg[tt] {
					t.Errorf("seed %d step %d: ‖∂L/∂h_%d‖ = %g ≥ ‖∂L/∂h_%d‖ = %g", seed, k+1, tt, hg[tt-1], tt+1, hg[tt])
				}
			}
		}
		// "Already at the first training step, step 1's contribution to
		// dW_ih is less than a fiftieth of step T's; after 200 training
		// steps it is less than a ten-thousandth."
		first, last := l.norms[0][1], l.norms[len(l.norms)-1][1]
		r0, r1 := first[0]/first[T-1], last[0]/last[T-1]
		t.Logf("seed %d: W_ih contribution t=1 / t=T: first step %.2g, last step %.2g; ‖∂L/∂h_1‖/‖∂L/∂h_T‖ %.2g → %.2g; accuracy (last 50) %.2f",
			seed, r0, r1, l.hgradNorms[0][0]/l.hgradNorms[0][T-1], l.cur.hgrad[0]/l.cur.hgrad[T-1], mean(l.accs[len(l.accs)-50:]))
		if r0 >= 1.0/50 || r1 >= 1e-4 {
			t.Errorf("seed %d: step 1's W_ih contribution is %.3g of step T's at the first step, %.3g at the last", seed, r0, r1)
		}
		// "As training goes on, the far-back steps fade further":
		// ‖∂L/∂h_1‖/‖∂L/∂h_T‖ is smaller at the last step than the first.
		if a, b := l.hgradNorms[0][0]/l.hgradNorms[0][T-1], l.cur.hgrad[0]/l.cur.hgrad[T-1]; b >= a {
			t.Errorf("seed %d: ‖∂L/∂h_1‖/‖∂L/∂h_T‖ went from %.3g to %.3g", seed, a, b)
		}
		// …and so do the pieces of W_hh (the heat map's default): step 2's
		// (step 1's is zero) relative to step T's.
		if a, b := l.norms[0][0][1]/l.norms[0][0][T-1], last0(l)[1]/last0(l)[T-1]; b >= a {
			t.Errorf("seed %d: W_hh contribution t=2 / t=T went from %.3g to %.3g", seed, a, b)
		}
		// "At T = 20, already at the first training step, the oldest
		// step's ‖∂L/∂h_t‖ is at least two more decades further below the
		// newest's than at T = 10."
		l20 := build(t, values(map[string]any{"seed": seed, "T": 20}))
		r10, r20 := l.hgradNorms[0][0]/l.hgradNorms[0][T-1], l20.cur.hgrad[0]/l20.cur.hgrad[19]
		if r20 >= r10/100 {
			t.Errorf("seed %d: ‖∂L/∂h_1‖/‖∂L/∂h_T‖ at the first step is %.3g at T = 20, %.3g at T = 10", seed, r20, r10)
		}
		// "The accuracy stays near chance (25%)": the mean batch accuracy
		// of the last 50 steps is below 30%.
		if a := mean(l.accs[len(l.accs)-50:]); a >= 0.30 {
			t.Errorf("seed %d: accuracy of the last 50 steps %.2f, not near chance", seed, a)
		}
	}
	// "With T = 4 the RNN usually learns the task within the 200 steps
	// (in our runs, 4 seeds of 5 reach 100%), and then step 1's
	// contribution to dW_ih is at least as large as step T's."
	learned := 0
	for _, seed := range seeds {
		l := trained(t, values(map[string]any{"seed": seed, "T": 4}))
		a := mean(l.accs[len(l.accs)-50:])
		n := l.norms[len(l.norms)-1][1]
		t.Logf("T = 4 seed %d: accuracy (last 50) %.2f, W_ih contribution t=1 / t=T %.2g", seed, a, n[0]/n[3])
		if a >= 0.95 {
			learned++
			if r := n[0] / n[3]; r < 1 {
				t.Errorf("T = 4 seed %d learned, but step 1's W_ih contribution is %.3g of step T's", seed, r)
			}
		}
	}
	if learned < 4 {
		t.Errorf("T = 4: %d of 5 seeds learned the task", learned)
	}
}

var sink dataPart

// BenchmarkAdvance measures one position at the costliest values (T 40,
// hidden 16, W_hh, Adam): most positions only move the ledger; one in T
// trains and records the next pass. The frame is built each step, as the
// run does.
func BenchmarkAdvance(b *testing.B) {
	v := values(map[string]any{"T": maxT, "hidden": maxHidden, "steps": maxSteps})
	l := build(b, v)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if l.Pos() == l.Total() {
			l.Restart()
		}
		if err := l.Advance(); err != nil {
			b.Fatal(err)
		}
		sink = l.data(sig3)
	}
}

// BenchmarkTrainStep measures the costliest position alone: the optimizer
// step and the next pass's forward and backward with the Recorder.
func BenchmarkTrainStep(b *testing.B) {
	v := values(map[string]any{"T": maxT, "hidden": maxHidden, "steps": maxSteps})
	l := build(b, v)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if l.cur.k+1 >= l.p.Steps {
			b.StopTimer()
			l.Restart()
			b.StartTimer()
		}
		l.j = l.p.T
		if err := l.Advance(); err != nil {
			b.Fatal(err)
		}
	}
}

// TestSumIsExactAtDefaults re-checks the lesson's "exactly 0": at the
// defaults (T = 10, hidden 6, Adam, 200 steps), both tasks, seeds 1–5,
// for W_hh, W_ih and the biases, once all T contributions are in, Σ equals
// the engine's dW exactly (max |Σ − dW| = 0) at every training step — the
// engine adds the very same pieces in the very same order.
func TestSumIsExactAtDefaults(t *testing.T) {
	for _, task := range []string{taskRemember, taskAdding} {
		for _, seed := range []int{1, 2, 3, 4, 5} {
			l := build(t, values(map[string]any{"seed": seed, "task": task}))
			T, worst := l.p.T, 0.0
			for k := range l.p.Steps {
				advanceTo(t, l, (k+1)*T)
				for i := range shown {
					full := make([]float64, len(l.cur.grad[i]))
					for tt := T - 1; tt >= 0; tt-- {
						for e, c := range l.cur.contrib[i][tt] {
							full[e] += c
						}
					}
					worst = math.Max(worst, maxDiff(full, l.cur.grad[i]))
				}
				if d := l.data(exact); d.MaxDiff == nil || *d.MaxDiff != 0 {
					t.Fatalf("%s seed %d step %d: the frame's max |Σ − dW| = %v, want exactly 0", task, seed, k+1, d.MaxDiff)
				}
			}
			t.Logf("%s seed %d: max |Σ − dW| over the run and the three parameters %g", task, seed, worst)
			if worst != 0 {
				t.Errorf("%s seed %d: max |Σ − dW| = %g at the defaults, want exactly 0", task, seed, worst)
			}
		}
	}
}

// TestHeatMapShowsTheRun: the heat map holds every training step so far in
// at most window rows (the shown step alone in the last), its colour range
// covers every norm of the run so far and does not move within a training
// step, and — the lesson's "the left of the heat map gets darker" — at the
// end of a default run (W_hh) step 2's piece in the bottom row is more than
// a decade below the top row's, seeds 1–5.
func TestHeatMapShowsTheRun(t *testing.T) {
	for _, seed := range []int{1, 2, 3, 4, 5} {
		l := build(t, values(map[string]any{"seed": seed}))
		T := l.p.T
		for _, k := range []int{0, 5, 23, 24, 60, 199} {
			advanceTo(t, l, k*T+1)
			every, rows, vals := l.heatGrid()
			if rows > window || (rows-2)*every >= k && k > 0 || (rows-1)*every < k || len(vals) != rows*T {
				t.Fatalf("seed %d step %d: %d rows of %d steps for %d earlier steps", seed, k+1, rows, every, k)
			}
			lo, hi := l.heatRange()
			for _, n := range l.norms[:k+1] {
				for _, v := range n[0] {
					if v > 0 && (math.Log10(v) < lo || math.Log10(v) > hi) {
						t.Fatalf("seed %d step %d: norm %g outside 10^%v…10^%v", seed, k+1, v, lo, hi)
					}
				}
			}
			advanceTo(t, l, (k+1)*T)
			if lo2, hi2 := l.heatRange(); lo2 != lo || hi2 != hi {
				t.Fatalf("seed %d step %d: the colour range moved within the step", seed, k+1)
			}
			h := l.heat()
			if h.Steps != k+1 || h.Every != every || h.Log10.Min != lo || h.Log10.Max != hi {
				t.Fatalf("seed %d step %d: frame heat %+v", seed, k+1, h)
			}
		}
		_, rows, vals := l.heatGrid()
		top, bottom := vals[1], vals[(rows-1)*T+1]
		t.Logf("seed %d: log₁₀ of step 2's W_hh piece, top row %.2f, bottom row %.2f", seed, top, bottom)
		if !(bottom < top-1) {
			t.Errorf("seed %d: step 2's piece %.2f at the bottom, not a decade below the top's %.2f", seed, bottom, top)
		}
	}
}
