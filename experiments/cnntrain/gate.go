package cnntrain

import (
	"context"
	"slices"

	"github.com/paramshare/paramshare/lab"
	"github.com/paramshare/paramshare/run"
)

// evaluation is one measurement of every model, in Models order.
type evaluation struct {
	Step  int       `json:"step"`
	Test  []float64 `json:"test"`  // on the first EvalImages test digits
	Train []float64 `json:"train"` // on the first min(EvalImages, trainSize) training digits
}

// shiftResult is a finished shift test: Acc[model][i] is the accuracy on
// the EvalImages test digits moved shiftAmounts()[i] pixels right, with the
// weights of step Step.
type shiftResult struct {
	Step int         `json:"step"`
	Acc  [][]float64 `json:"acc"`
}

// gate is the work a step owes on its own weights before the race trains
// on: an evaluation, a shift test or both, cut into pieces of about 30 ms
// that run in order, each holding the race's mutex. The results are counts
// of digits classified right, exact whoever runs which piece.
type gate struct {
	step   int
	pieces []piece
	next   int // the next piece to run
	// evalPieces are the first pieces, the evaluation's; testHits and
	// trainHits its counts per model, trainN its training digits.
	evalPieces          int
	testHits, trainHits []int
	trainN              int
	// shiftHits[model][shift] are the shift test's counts (nil when the
	// step has none); shiftDone counts the (model, shift) pairs finished.
	shiftHits [][]int
	shiftDone int
	// known holds the results when an earlier pass over this step found
	// them: the gate then has no pieces and closes at its first run.
	known *owed
}

// owed is what a step's gate found, kept across Restart: training is
// deterministic, so a replay of the same parameters owes the same results.
type owed struct {
	eval  *evaluation
	shift *shiftResult
}

type pieceKind int

const (
	evalTest pieceKind = iota
	evalTrain
	shiftTest
)

// piece is the digits lo…hi−1 of one set through one model.
type piece struct {
	kind         pieceKind
	model, shift int
	lo, hi       int
}

// pieceDigits is how many digits a piece runs through model i: ~30 ms for
// the twin's 100 and the CNN's 500, a few ms for the MLP's.
func pieceDigits(i int) int {
	if Models()[i] == "lc" {
		return 100
	}
	return EvalImages
}

// cut appends the pieces of digits 0…n−1 of one set through model i.
func cut(ps []piece, kind pieceKind, i, shift, n int) []piece {
	for lo := 0; lo < n; lo += pieceDigits(i) {
		ps = append(ps, piece{kind: kind, model: i, shift: shift, lo: lo, hi: min(lo+pieceDigits(i), n)})
	}
	return ps
}

// openGateLocked sets the gate of the step just taken, if it owes
// anything, and wakes the background worker. r.mu must be held.
func (r *race) openGateLocked() {
	k := r.pos
	eval := k%EvalEvery(r.v) == 0 || k == r.Total()
	shift := slices.Contains(shiftSteps(r.v), k)
	if eval || shift {
		r.setGateLocked(eval, shift)
	}
}

// setGateLocked makes the current step owe an evaluation, a shift test or
// both, and wakes the background worker. r.mu must be held.
func (r *race) setGateLocked(eval, shift bool) {
	n := len(r.trainers)
	g := &gate{step: r.pos}
	if k, ok := r.known[r.pos]; ok && (k.eval != nil) == eval && (k.shift != nil) == shift {
		g.known = &k
		if shift {
			g.shiftHits = [][]int{} // the frame shows the test as owed until the gate closes
		}
		r.gate = g
		r.wakeLocked()
		return
	}
	if eval {
		g.testHits, g.trainHits = make([]int, n), make([]int, n)
		g.trainN = min(EvalImages, r.v.Int("trainSize"))
		for i := range n {
			g.pieces = cut(g.pieces, evalTest, i, 0, EvalImages)
			g.pieces = cut(g.pieces, evalTrain, i, 0, g.trainN)
		}
		g.evalPieces = len(g.pieces)
	}
	if shift {
		g.shiftHits = make([][]int, n)
		for i := range n {
			g.shiftHits[i] = make([]int, maxShift+1)
			for s := range shiftAmounts() {
				g.pieces = cut(g.pieces, shiftTest, i, s, EvalImages)
			}
		}
	}
	r.gate = g
	r.wakeLocked()
}

// wakeLocked tells the background worker there is work.
func (r *race) wakeLocked() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// runPieceLocked runs the gate's next piece and, after its last, records
// the results and closes the gate. It reports whether what a frame shows
// changed. r.mu must be held and r.gate not nil.
func (r *race) runPieceLocked() (changed bool) {
	g := r.gate
	if g.known != nil {
		if g.known.eval != nil {
			r.evals = append(r.evals, *g.known.eval)
		}
		if g.known.shift != nil {
			r.shifts = append(r.shifts, *g.known.shift)
		}
		r.gate = nil
		return true
	}
	p := g.pieces[g.next]
	g.next++
	tr := r.trainers[p.model]
	switch p.kind {
	case evalTest:
		g.testHits[p.model] += tr.Hits(lab.TestSet(), p.lo, p.hi)
	case evalTrain:
		g.trainHits[p.model] += tr.Hits(lab.TrainSet(), p.lo, p.hi)
	case shiftTest:
		g.shiftHits[p.model][p.shift] += tr.Hits(shiftedTest()[p.shift], p.lo, p.hi)
		if p.hi == EvalImages {
			g.shiftDone++
			changed = true
		}
	}
	if g.evalPieces > 0 && g.next == g.evalPieces {
		e := evaluation{Step: g.step}
		for i := range g.testHits {
			e.Test = append(e.Test, float64(g.testHits[i])/EvalImages)
			e.Train = append(e.Train, float64(g.trainHits[i])/float64(g.trainN))
		}
		r.evals = append(r.evals, e)
		changed = true
	}
	if g.next == len(g.pieces) {
		k := owed{}
		if g.evalPieces > 0 {
			e := r.evals[len(r.evals)-1]
			k.eval = &e
		}
		if g.shiftHits != nil {
			res := shiftResult{Step: g.step}
			for _, hits := range g.shiftHits {
				acc := make([]float64, len(hits))
				for s, h := range hits {
					acc[s] = float64(h) / EvalImages
				}
				res.Acc = append(res.Acc, acc)
			}
			r.shifts = append(r.shifts, res)
			k.shift = &res
		}
		r.known[g.step] = k
		r.gate = nil
		changed = true
	}
	return changed
}

// settle runs what the current step still owes, at once: an export shows
// its step's evaluation and shift test finished.
func (r *race) settle() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for r.gate != nil {
		r.runPieceLocked()
	}
}

// Attach starts the background worker: it runs the gate's pieces one at a
// time through h.Compute, so that they share the scheduler's slots with
// every run's steps, and publishes what they change.
func (r *race) Attach(h run.Host) {
	ctx, cancel := context.WithCancel(context.Background())
	r.host, r.cancel = h, cancel
	r.bg.Add(1)
	go r.background(ctx)
}

// Close stops the background worker and waits for it: it ends after the
// piece it is running, if any (~30 ms).
func (r *race) Close() {
	if r.cancel != nil {
		r.cancel()
		r.bg.Wait()
	}
}

func (r *race) background(ctx context.Context) {
	defer r.bg.Done()
	for {
		select {
		case <-ctx.Done():
			return
		case <-r.wake:
		}
		for {
			var more, changed bool
			var failure error
			err := r.host.Compute(ctx, func() { more, changed, failure = r.backgroundPiece() })
			if err != nil {
				return // closed
			}
			if failure != nil {
				r.host.Fail(failure)
				break
			}
			if changed {
				r.host.Changed()
			}
			if !more {
				break
			}
		}
	}
}

// backgroundPiece runs the gate's next piece, if any, and reports whether
// more remain and whether the frame changed. A panic is returned as a
// *run.PanicError, and the gate dropped: the run fails, and a reset
// starts afresh.
func (r *race) backgroundPiece() (more, changed bool, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = run.Recovered(Name+" background work", p)
			r.mu.Lock()
			r.gate = nil
			r.mu.Unlock()
		}
	}()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.gate == nil {
		return false, false, nil
	}
	changed = r.runPieceLocked()
	return r.gate != nil, changed, nil
}
