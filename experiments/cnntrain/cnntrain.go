package run

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/paramshare/paramshare/engine"
	"github.com/paramshare/paramshare/engine/data"
	"github.com/paramshare/paramshare/lab"
	"github.com/paramshare/paramshare/viz"
)

// CNNTrainName is the registry name of the cnn-train experiment.
const CNNTrainName = "cnn-train"

func init() {
	Register(CNNTrainName, func(raw json.RawMessage) (Experiment, error) {
		p := DefaultCNNTrainParams()
		if err := decodeCNNTrainParams(raw, &p); err != nil {
			return nil, err
		}
		return NewCNNTrain(p)
	})
}

// RaceModels are the models cnn-train races, in the order frames list them:
// the lessons' CNN, its locally connected twin (same shapes, a kernel of its
// own at every position) and the MLP with about the CNN's parameter count.
var RaceModels = []string{"cnn", "lc", "mlp"}

// Limits and schedule of cnn-train. A race step trains all three models on
// one minibatch each: ~65 ms on one core of the development machine, most of
// it lc's (~50 ms; cnn ~11 ms, mlp ~0.3 ms). Evaluating 500 test and 500
// training digits for all three takes ~0.5 s, and the shift test (7 shifts
// × 500 digits × 3 models) ~3 s, so both are spaced out (see EvalEvery and
// ShiftSteps).
const (
	// CNNTrainMaxSteps caps a run's budget (and an export's replay): at
	// ~65 ms a step, 600 steps are under a minute of one core.
	CNNTrainMaxSteps = 600
	CNNTrainMinEpoch = 1
	CNNTrainMaxEpoch = 50
	CNNTrainMaxSeed  = 1_000_000
	// EvalImages is the size of the fixed test subset (the first 500 test
	// digits, 50 per class) that test accuracy and the shift test use, and
	// the most training digits the training accuracy is measured on.
	EvalImages = 500
	// evalCount is about how many evaluations a run makes, whatever its
	// length; evalMinGap is the fewest steps between two.
	evalCount  = 10
	evalMinGap = 5
	// curvePoints is the most points per curve a frame carries: longer
	// histories are averaged over equal runs of steps.
	curvePoints = 150
	// smoothing is the β of the exponential moving average of the batch
	// accuracy (bias-corrected as Adam's moments are).
	smoothing = 0.9
	// MaxShift is the largest shift of the shift test, in pixels.
	MaxShift = 6
)

// DivergeLoss is the batch loss above which a model counts as diverged:
// ten times ln 10, the cross-entropy of guessing uniformly among the 10
// digits. With lr ≤ 1 (lab's limit) the losses rarely reach NaN: they blow
// up to hundreds or thousands (Adam at lr 1: 1.3e4 at the CNN's second
// step) and the network then dies at the guessing loss. A loss this high
// means the model is confidently wrong on most of the batch, which healthy
// runs never come near (their first loss is ≈ 2.3).
const DivergeLoss = 10 * math.Ln10

// ShiftAmounts are the shift test's shifts to the right, in pixels.
func ShiftAmounts() []int {
	s := make([]int, MaxShift+1)
	for i := range s {
		s[i] = i
	}
	return s
}

// CNNTrainParams are the cnn-train widget's parameters. Every model of the
// race gets the same training configuration.
type CNNTrainParams struct {
	LR        float64 `json:"lr"`        // learning rate, 0 < lr ≤ 1
	Batch     int     `json:"batch"`     // digits per step, 1…256, ≤ trainSize
	Optimizer string  `json:"optimizer"` // sgd, momentum or adam
	TrainSize int     `json:"trainSize"` // the first trainSize training digits, 10…5000
	Seed      uint64  `json:"seed"`      // initial weights and shuffling, 0…1,000,000
	Epochs    int     `json:"epochs"`    // the budget: passes over the training subset, 1…50 (at most 600 steps)
	Digit     int     `json:"digit"`     // the test digit whose feature maps are shown, 0…999
}

// DefaultCNNTrainParams is what a widget gets for parameters it leaves out:
// lab's CNN defaults (Adam, lr 3e-3, batch 32, 1,000 training digits, seed
// 1), three epochs (93 steps).
func DefaultCNNTrainParams() CNNTrainParams {
	c := lab.DefaultTrainConfig("cnn")
	return CNNTrainParams{LR: c.LR, Batch: c.Batch, Optimizer: c.Optimizer, TrainSize: c.TrainSize, Seed: c.Seed, Epochs: 3, Digit: 0}
}

// Config returns the lab configuration of model in the race.
func (p CNNTrainParams) Config(model string) lab.TrainConfig {
	return lab.TrainConfig{Model: model, Optimizer: p.Optimizer, LR: p.LR, Batch: p.Batch, TrainSize: p.TrainSize, Seed: p.Seed}
}

// Validate returns an *Error with CodeBadParams naming the first parameter
// out of range, or nil.
func (p CNNTrainParams) Validate() error {
	if err := p.Config("cnn").Validate(); err != nil {
		return errorf(CodeBadParams, "%s", strings.TrimPrefix(err.Error(), "lab: "))
	}
	switch {
	case p.Seed > CNNTrainMaxSeed:
		return errorf(CodeBadParams, "seed %d: want 0…%d", p.Seed, CNNTrainMaxSeed)
	case p.Epochs < CNNTrainMinEpoch || p.Epochs > CNNTrainMaxEpoch:
		return errorf(CodeBadParams, "epochs %d: want %d…%d", p.Epochs, CNNTrainMinEpoch, CNNTrainMaxEpoch)
	case p.Digit < 0 || p.Digit >= lab.TestSet().N:
		return errorf(CodeBadParams, "digit %d: want 0…%d", p.Digit, lab.TestSet().N-1)
	}
	return nil
}

// Total is the run's budget in steps: Epochs passes of TrainSize/Batch
// steps, at most CNNTrainMaxSteps. p must be valid.
func (p CNNTrainParams) Total() int {
	return min(p.Epochs*(p.TrainSize/p.Batch), CNNTrainMaxSteps)
}

// EvalEvery is the number of steps between two evaluations of test and
// training accuracy (about ten per run, at least five steps apart); the
// last step is always evaluated too.
func (p CNNTrainParams) EvalEvery() int {
	return max(evalMinGap, (p.Total()+evalCount-1)/evalCount)
}

// ShiftSteps are the steps after which the shift test runs: a third, two
// thirds and all of the budget.
func (p CNNTrainParams) ShiftSteps() []int {
	t := p.Total()
	steps := []int{}
	for _, k := range []int{(t + 2) / 3, (2*t + 2) / 3, t} {
		if k > 0 && !slices.Contains(steps, k) {
			steps = append(steps, k)
		}
	}
	return steps
}

// sameTraining reports whether p and q train the same models (they may
// differ in the digit shown).
func (p CNNTrainParams) sameTraining(q CNNTrainParams) bool {
	p.Digit = q.Digit
	return p == q
}

// decodeCNNTrainParams merges the JSON object raw onto p. Unknown names,
// wrong types and trailing data are *Error with CodeBadParams; p is changed
// only when everything decodes.
func decodeCNNTrainParams(raw json.RawMessage, p *CNNTrainParams) error {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	var fields map[string]json.RawMessage
	if err := dec.Decode(&fields); err != nil || fields == nil {
		return errorf(CodeBadParams, "parameters must be a JSON object")
	}
	if _, err := dec.Token(); err != io.EOF {
		return errorf(CodeBadParams, "parameters must be one JSON object")
	}
	q := *p
	targets := map[string]struct {
		dst  any
		kind string
	}{
		"lr": {&q.LR, "number"}, "batch": {&q.Batch, "whole number"}, "optimizer": {&q.Optimizer, "string"},
		"trainSize": {&q.TrainSize, "whole number"}, "seed": {&q.Seed, "whole number ≥ 0"},
		"epochs": {&q.Epochs, "whole number"}, "digit": {&q.Digit, "whole number"},
	}
	names := make([]string, 0, len(fields))
	for k := range fields {
		names = append(names, k)
	}
	sort.Strings(names) // report the same problem first every time
	for _, k := range names {
		t, ok := targets[k]
		if !ok {
			return errorf(CodeBadParams, "unknown parameter %q", k)
		}
		if err := json.Unmarshal(fields[k], t.dst); err != nil || bytes.Equal(fields[k], []byte("null")) {
			if lo, hi, ok := q.intRange(k); ok && isJSONNumber(fields[k]) { // too big or not whole
				return wholeNumberError(k, fields[k], lo, hi)
			}
			return errorf(CodeBadParams, "parameter %q must be a %s, got %s", k, t.kind, fields[k])
		}
	}
	*p = q
	return nil
}

// Data shared read-only by every cnn-train run: the fixed test subset and
// its shifted copies.
var (
	evalTest    = sync.OnceValue(func() *data.Images { return lab.TestSet().Subset(EvalImages) })
	shiftedTest = sync.OnceValue(func() []*data.Images {
		sets := make([]*data.Images, 0, MaxShift+1)
		for _, dx := range ShiftAmounts() {
			sets = append(sets, data.Shift(evalTest(), dx, 0))
		}
		return sets
	})
)

// CNNTrain is the "train a CNN live" experiment: a race of three lab
// Trainers (cnn, lc, mlp) with the same configuration, one minibatch each
// per step. It records every step's loss and batch accuracy, evaluates
// test and training accuracy every EvalEvery steps, and runs the shift test
// at ShiftSteps in the background (reporting progress through the run's
// notify hook), on a copy of the weights so training goes on meanwhile.
//
// Training cannot run backwards: Seek goes forwards by training, to 0 by
// resetting, and refuses any other backward seek.
type CNNTrain struct {
	p        CNNTrainParams
	trainers []*lab.Trainer // RaceModels order
	counts   []engine.Count
	rev      int
	digitX   *engine.Tensor
	label    int

	pos      int
	loss     [][]float64 // [model][step-1]
	acc      [][]float64 // raw batch accuracy
	smooth   [][]float64 // bias-corrected EMA of acc
	ema      []float64
	norms    [][]float64 // [model][layer] of the last step
	evals    []CNNEval
	diverged []string // per model: the divergence message, "" if none
	// divergedLoss is per model the batch loss of the step that diverged
	// (meaningful only where diverged is set).
	divergedLoss []float64

	// The shift test; mu guards these fields, written by the background job.
	mu     sync.Mutex
	shift  *ShiftResult // the latest finished test
	job    *shiftJob    // the test running now
	queued *shiftJob    // the next checkpoint's test, waiting for job
	notify func()
	sync   bool // run shift tests inside Advance (exports, tests)
	// skipShift leaves the shift test out of the next Advance (a replay
	// skips checkpoints whose result a later one replaces).
	skipShift bool
	closed    bool
	jobsDone  sync.WaitGroup
	// bgErr is a panic recovered in the background shift test; the Run
	// reads it through BackgroundErr and fails. clear forgets it.
	bgErr error
}

// CNNEval is one evaluation: accuracies per model in RaceModels order.
type CNNEval struct {
	Step  int       `json:"step"`
	Test  []float64 `json:"test"`  // on the first EvalImages test digits
	Train []float64 `json:"train"` // on the first min(EvalImages, trainSize) training digits
}

// ShiftResult is a finished shift test: Acc[model][i] is the accuracy on
// the EvalImages test digits moved ShiftAmounts()[i] pixels right, with the
// weights of step Step.
type ShiftResult struct {
	Step int         `json:"step"`
	Acc  [][]float64 `json:"acc"`
}

// shiftJob is a shift test of the weights after step: snapshots of every
// model's parameters, the accuracies found so far and a cancel flag (read
// and written under CNNTrain.mu).
type shiftJob struct {
	step      int
	weights   [][][]float64 // [model][param] values
	acc       [][]float64
	done      int
	cancelled bool
}

// NewCNNTrain validates p and returns the race at step 0. Its shift tests
// run in the background once a Run owns it (see SetNotify); on its own (an
// export, a test) they run inside the step that reaches their checkpoint.
func NewCNNTrain(p CNNTrainParams) (*CNNTrain, error) {
	c := &CNNTrain{sync: true}
	if err := c.load(p); err != nil {
		return nil, err
	}
	return c, nil
}

// load builds the trainers for p and only then replaces c's race, so a bad
// p leaves c as it was.
func (c *CNNTrain) load(p CNNTrainParams) error {
	if err := p.Validate(); err != nil {
		return err
	}
	trainers := make([]*lab.Trainer, len(RaceModels))
	counts := make([]engine.Count, len(RaceModels))
	for i, m := range RaceModels {
		tr, err := lab.NewTrainer(p.Config(m))
		if err != nil {
			return errorf(CodeBadParams, "%s", strings.TrimPrefix(err.Error(), "lab: "))
		}
		trainers[i], counts[i] = tr, tr.Count()
	}
	c.p, c.trainers, c.counts = p, trainers, counts
	c.setDigit(p.Digit)
	c.clear()
	return nil
}

func (c *CNNTrain) setDigit(d int) {
	c.p.Digit = d
	c.digitX = lab.TestSet().Image(d)
	c.label = int(lab.TestSet().Labels[d])
	c.rev++
}

// clear empties the history and cancels shift tests: the state of step 0.
func (c *CNNTrain) clear() {
	n := len(RaceModels)
	c.pos = 0
	c.loss, c.acc, c.smooth = make([][]float64, n), make([][]float64, n), make([][]float64, n)
	c.ema, c.norms, c.diverged, c.divergedLoss = make([]float64, n), make([][]float64, n), make([]string, n), make([]float64, n)
	c.evals = nil
	c.mu.Lock()
	if c.job != nil {
		c.job.cancelled = true
	}
	c.job, c.queued, c.shift = nil, nil, nil
	c.bgErr = nil
	c.mu.Unlock()
}

// BackgroundErr implements BackgroundFailer: the panic of a background
// shift test since the race last started afresh, or nil.
func (c *CNNTrain) BackgroundErr() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.bgErr
}

// SetNotify implements Notifier: from now on shift tests run in the
// background and report through changed.
func (c *CNNTrain) SetNotify(changed func()) {
	c.mu.Lock()
	c.notify, c.sync = changed, false
	c.mu.Unlock()
}

// Close implements Closer: it cancels the shift tests and waits for the
// running one to notice (within one evaluation, ~0.5 s at most).
func (c *CNNTrain) Close() {
	c.mu.Lock()
	c.closed = true
	if c.job != nil {
		c.job.cancelled = true
	}
	c.queued = nil
	c.mu.Unlock()
	c.jobsDone.Wait()
}

// Params returns the parameters in effect.
func (c *CNNTrain) Params() CNNTrainParams { return c.p }

// Trainer returns the trainer of RaceModels[i]. The caller must not step it.
func (c *CNNTrain) Trainer(i int) *lab.Trainer { return c.trainers[i] }

// Total is the budget in steps.
func (c *CNNTrain) Total() int { return c.p.Total() }

// Pos is the number of race steps taken.
func (c *CNNTrain) Pos() int { return c.pos }

// DivergedError is a run-level divergence with a message of its own: it
// wraps engine.ErrDiverged, so errors.Is(err, engine.ErrDiverged) holds and
// a Run turns Diverged, but its text is Msg alone — engine.ErrDiverged's
// text says "a loss or gradient is NaN or infinite", false for a race model
// stopped at a finite loss over DivergeLoss.
type DivergedError struct{ Msg string }

func (e *DivergedError) Error() string { return e.Msg }

// Unwrap returns engine.ErrDiverged.
func (e *DivergedError) Unwrap() error { return engine.ErrDiverged }

// divergence says why model i's step diverged (res and err are its
// trainer's Step result), in words for the page, or "" if it did not.
func divergence(i int, res lab.StepResult, err error) string {
	m := RaceModels[i]
	switch {
	case err == nil && res.Loss > DivergeLoss:
		return fmt.Sprintf("%s diverged at step %d: batch loss %.5g is over ten times the loss of guessing (%.1f) — lower the learning rate",
			m, res.Step, res.Loss, DivergeLoss)
	case err == nil:
		return ""
	case math.IsNaN(res.Loss) || math.IsInf(res.Loss, 0):
		return fmt.Sprintf("%s diverged at step %d: batch loss %v — lower the learning rate", m, res.Step, res.Loss)
	case errors.Is(err, engine.ErrDiverged):
		// lab found a gradient that is not finite; its text names the layer.
		what, _, _ := strings.Cut(strings.TrimPrefix(err.Error(), "lab: "), " — ")
		return fmt.Sprintf("%s diverged at step %d (batch loss %.5g): %s — lower the learning rate", m, res.Step, res.Loss, what)
	}
	return ""
}

// Advance trains each model on its next minibatch and records the step for
// all of them. If a model's loss or gradients stop being finite, or its
// loss exceeds DivergeLoss, that model is marked diverged (its frame entry
// gets the reason and the loss) and Advance returns a *DivergedError
// naming every diverged model: the step still counts — the other models
// took it, and a diverged model's trainer consumed its batch too — so Pos
// and every trainer's step count stay equal, but no evaluation or shift
// test runs, and the race refuses further steps until Seek(0) or new
// parameters. Any other trainer error is returned as it is, with the step
// not counted.
func (c *CNNTrain) Advance() error {
	if c.pos >= c.Total() {
		return errors.New("run: cnn-train: the budget is spent")
	}
	if slices.ContainsFunc(c.diverged, func(s string) bool { return s != "" }) {
		return &DivergedError{Msg: "run: cnn-train: the race diverged earlier; reset or lower the learning rate to start again"}
	}
	results := make([]lab.StepResult, len(c.trainers))
	var why []string
	for i, tr := range c.trainers {
		res, err := tr.Step()
		if msg := divergence(i, res, err); msg != "" {
			c.diverged[i], c.divergedLoss[i] = msg, res.Loss
			why = append(why, msg)
		} else if err != nil {
			return fmt.Errorf("run: cnn-train: %s: %w", RaceModels[i], err)
		}
		results[i] = res
	}
	c.pos++
	for i, res := range results {
		acc := res.Accuracy
		if c.diverged[i] != "" && (math.IsNaN(res.Loss) || math.IsInf(res.Loss, 0)) {
			acc = math.NaN() // lab stops before measuring it
		}
		c.loss[i] = append(c.loss[i], res.Loss)
		c.acc[i] = append(c.acc[i], acc)
		if !math.IsNaN(acc) {
			c.ema[i] = smoothing*c.ema[i] + (1-smoothing)*acc
		}
		c.smooth[i] = append(c.smooth[i], c.ema[i]/(1-math.Pow(smoothing, float64(c.pos))))
		c.norms[i] = nil
		if c.diverged[i] != "" {
			continue // a diverged step's norms are missing or meaningless
		}
		names := c.trainers[i].LayerNames()
		c.norms[i] = make([]float64, len(names))
		for j, n := range names {
			c.norms[i][j] = res.GradNorms[n]
		}
	}
	if why != nil {
		return &DivergedError{Msg: "run: cnn-train: " + strings.Join(why, "; ")}
	}
	if c.pos%c.p.EvalEvery() == 0 || c.pos == c.Total() {
		c.evaluate()
	}
	if !c.skipShift && slices.Contains(c.p.ShiftSteps(), c.pos) {
		c.startShift()
	}
	return nil
}

// evaluate measures test and training accuracy of every model now.
func (c *CNNTrain) evaluate() {
	e := CNNEval{Step: c.pos, Test: make([]float64, len(c.trainers)), Train: make([]float64, len(c.trainers))}
	for i, tr := range c.trainers {
		e.Test[i] = tr.Evaluate(evalTest(), 0)
		e.Train[i] = tr.TrainAccuracy(EvalImages)
	}
	c.evals = append(c.evals, e)
}

// startShift snapshots the weights and runs the shift test on them: at
// once when c is synchronous, otherwise in the background (after the test
// running now, if any; a newer checkpoint replaces one still waiting).
func (c *CNNTrain) startShift() {
	job := &shiftJob{step: c.pos, acc: make([][]float64, len(c.trainers))}
	for i, tr := range c.trainers {
		ps := tr.Model().Params()
		w := make([][]float64, len(ps))
		for j, p := range ps {
			w[j] = slices.Clone(p.Value.Data)
		}
		job.weights = append(job.weights, w)
		job.acc[i] = make([]float64, MaxShift+1)
		for k := range job.acc[i] {
			job.acc[i][k] = math.NaN()
		}
	}
	c.mu.Lock()
	if c.sync {
		c.job = job
		c.mu.Unlock()
		c.runShift(job, c.p)
		c.mu.Lock()
		if c.job == job {
			c.job = nil
		}
		c.mu.Unlock()
		return
	}
	if c.closed {
		c.mu.Unlock()
		return
	}
	if c.job != nil {
		c.queued = job
		c.mu.Unlock()
		return
	}
	c.job = job
	c.jobsDone.Add(1)
	c.mu.Unlock()
	go c.background(job, c.p)
}

// background runs job, then any test queued meanwhile, until none is left.
// A reset replaces c.job; the goroutine of the old race then stops, leaving
// the queue to the new race's.
func (c *CNNTrain) background(job *shiftJob, p CNNTrainParams) {
	defer c.jobsDone.Done()
	// This goroutine is the shift test's own: a panic here would end the
	// process, so it is recovered, kept for BackgroundErr and reported
	// through notify, which makes the Run fail with its message.
	defer func() {
		pv := recover()
		if pv == nil {
			return
		}
		err := recovered("cnn-train shift test", pv)
		c.mu.Lock()
		c.bgErr = err
		if c.job == job {
			c.job, c.queued = nil, nil
		}
		notify, closed := c.notify, c.closed
		c.mu.Unlock()
		if notify != nil && !closed {
			notify()
		}
	}()
	for job != nil {
		c.runShift(job, p)
		c.mu.Lock()
		if c.job != job {
			c.mu.Unlock()
			return
		}
		c.job, job = nil, nil
		if c.queued != nil && !c.closed {
			job, c.queued = c.queued, nil
			c.job = job
		}
		notify := c.notify
		c.mu.Unlock()
		notify() // the finished result, and the next test if any
	}
}

// runShift evaluates job's weights on every shifted test set, model by
// model, recording each accuracy as it comes (and notifying, when
// asynchronous). A cancelled job stops at the next evaluation and records
// nothing more.
func (c *CNNTrain) runShift(job *shiftJob, p CNNTrainParams) {
	sets := shiftedTest()
	for i, m := range RaceModels {
		tr, err := lab.NewTrainer(p.Config(m))
		if err != nil { // p was validated when the race was built
			panic(fmt.Sprintf("run: cnn-train: shift test trainer: %v", err))
		}
		for j, param := range tr.Model().Params() {
			copy(param.Value.Data, job.weights[i][j])
		}
		for k, set := range sets {
			c.mu.Lock()
			stop := job.cancelled
			c.mu.Unlock()
			if stop {
				return
			}
			acc := tr.Evaluate(set, 0)
			c.mu.Lock()
			job.acc[i][k] = acc
			job.done++
			notify := c.notify
			if !c.sync && c.job != job { // replaced by a reset
				notify = nil
			}
			c.mu.Unlock()
			if notify != nil && !c.sync {
				notify()
			}
		}
	}
	c.mu.Lock()
	if c.job == job && !job.cancelled {
		c.shift = &ShiftResult{Step: job.step, Acc: job.acc}
	}
	c.mu.Unlock()
}

// WaitShift waits until no shift test is running or queued (for tests).
func (c *CNNTrain) WaitShift() {
	c.jobsDone.Wait()
}

// Seek moves the race to step k: to 0 by resetting every trainer, forwards
// by training. Training cannot be undone, and re-training from scratch
// takes ~65 ms a step, too slow to offer, so any other backward seek is an
// error.
func (c *CNNTrain) Seek(k int) error {
	switch {
	case k < 0 || k > c.Total():
		return fmt.Errorf("run: cnn-train: step %d outside [0, %d]", k, c.Total())
	case k == 0:
		for _, tr := range c.trainers {
			if err := tr.Reset(); err != nil {
				return fmt.Errorf("run: cnn-train: %w", err)
			}
		}
		c.clear()
		return nil
	case k < c.pos:
		return errorf(CodeBadParams, "cnn-train cannot go back to step %d: training cannot be undone; reset to start again from step 0", k)
	}
	for c.pos < k {
		if err := c.Advance(); err != nil {
			return err
		}
	}
	return nil
}

// SetParams merges raw onto the parameters. A change of the digit only
// changes the feature maps shown; any other change starts a new race at
// step 0 (re-training to the old step would take too long).
func (c *CNNTrain) SetParams(raw json.RawMessage) error {
	p := c.p
	if err := decodeCNNTrainParams(raw, &p); err != nil {
		return err
	}
	if err := p.Validate(); err != nil {
		return err
	}
	if p.sameTraining(c.p) {
		if p.Digit != c.p.Digit {
			c.setDigit(p.Digit)
		}
		return nil
	}
	return c.load(p)
}

// CNNTrainStatic is the part of a frame that changes only with the
// parameters.
type CNNTrainStatic struct {
	Params        CNNTrainParams `json:"params"`
	Total         int            `json:"total"`
	StepsPerEpoch int            `json:"stepsPerEpoch"`
	EvalEvery     int            `json:"evalEvery"`
	EvalTest      int            `json:"evalTest"`  // test digits per evaluation
	EvalTrain     int            `json:"evalTrain"` // training digits per evaluation
	Shifts        []int          `json:"shifts"`
	ShiftSteps    []int          `json:"shiftSteps"`
	Models        []RaceModel    `json:"models"`
	Digit         DigitImage     `json:"digit"`
}

// RaceModel is one model's fixed facts, counted by the engine.
type RaceModel struct {
	Name     string   `json:"name"`
	Params   int      `json:"params"`   // unique parameters, Model.Count().Params
	Uses     int      `json:"uses"`     // multiply-adds per digit, Count().Uses
	Unshared int      `json:"unshared"` // parameters without sharing, Count().Unshared
	Layers   []string `json:"layers"`   // layers with parameters: the order of gradNorms
}

// DigitImage is the digit whose feature maps a frame shows.
type DigitImage struct {
	Index int           `json:"index"`
	Label int           `json:"label"`
	Image viz.Quantized `json:"image"` // [28, 28], pixel/255
}

// CNNTrainData is the part of a frame that changes with each step.
type CNNTrainData struct {
	Step   int         `json:"step"`
	Total  int         `json:"total"`
	Epoch  int         `json:"epoch"`
	Models []ModelNow  `json:"models"`
	Curves CurveFrame  `json:"curves"`
	Evals  []CNNEval   `json:"evals"`
	Shift  *ShiftFrame `json:"shift"`
	// Filters are the CNN's first-layer kernels [8, 3, 3] on the symmetric
	// range ±max|w|; Maps are its first layer's outputs after ReLU for the
	// digit, [8, 28, 28] on 0…max.
	Filters viz.Quantized `json:"filters"`
	Maps    viz.Quantized `json:"maps"`
}

// ModelNow is one model's numbers at the frame's step, at full precision.
type ModelNow struct {
	Name     string   `json:"name"`
	Loss     *float64 `json:"loss"`     // the last batch's loss (null at step 0)
	BatchAcc *float64 `json:"batchAcc"` // the last batch's accuracy
	Acc      *float64 `json:"acc"`      // batch accuracy, smoothed
	// Test and Train are the latest evaluation's accuracies, Gap their
	// difference (train − test); null before the first evaluation.
	Test      *float64  `json:"test"`
	Train     *float64  `json:"train"`
	Gap       *float64  `json:"gap"`
	EvalStep  int       `json:"evalStep"`
	GradNorms []float64 `json:"gradNorms"` // per layer (static models[i].layers), the last step's; empty at step 0 and on a diverged step
	// Diverged says why the model diverged (and at which step), for the
	// page; "" (omitted) while it has not. DivergedLoss is the batch loss
	// of that step, omitted when it is not finite (Diverged then says
	// "NaN" or "+Inf").
	Diverged     string   `json:"diverged,omitempty"`
	DivergedLoss *float64 `json:"divergedLoss,omitempty"`
}

// CurveFrame is every model's loss and smoothed accuracy since step 1,
// quantized (they are drawn, not read): point i is the mean of steps
// i·Every+1 … min((i+1)·Every, step).
type CurveFrame struct {
	Every int             `json:"every"`
	Loss  []viz.Quantized `json:"loss"`
	Acc   []viz.Quantized `json:"acc"`
}

// ShiftFrame is the shift test: the latest finished result, and the one
// running now with its progress.
type ShiftFrame struct {
	Done    *ShiftResult  `json:"done"`
	Running *ShiftRunning `json:"running"`
}

// ShiftRunning is a shift test in progress.
type ShiftRunning struct {
	Step  int `json:"step"`  // the weights of this step
	Done  int `json:"done"`  // evaluations finished
	Total int `json:"total"` // evaluations in all (models × shifts)
}

// Frame returns the static part and the step's data; nothing returned is
// shared with the race.
func (c *CNNTrain) Frame() Frame {
	return Frame{StaticRev: c.rev, Static: c.StaticFrame(), Data: c.DataFrame()}
}

// StaticFrame returns the static part of the frame.
func (c *CNNTrain) StaticFrame() CNNTrainStatic {
	s := CNNTrainStatic{
		Params: c.p, Total: c.Total(), StepsPerEpoch: c.p.TrainSize / c.p.Batch, EvalEvery: c.p.EvalEvery(),
		EvalTest: EvalImages, EvalTrain: min(EvalImages, c.p.TrainSize),
		Shifts: ShiftAmounts(), ShiftSteps: c.p.ShiftSteps(),
		Digit: DigitImage{Index: c.p.Digit, Label: c.label, Image: viz.QuantizeRange(c.digitX.Data, 0, 1, 28, 28)},
	}
	for i, m := range RaceModels {
		s.Models = append(s.Models, RaceModel{
			Name: m, Params: c.counts[i].Params, Uses: c.counts[i].Uses, Unshared: c.counts[i].Unshared,
			Layers: c.trainers[i].LayerNames(),
		})
	}
	return s
}

func ptr(v float64) *float64 { return &v }

// finitePtr is ptr(v), or nil (JSON null) when v is NaN or infinite, which
// JSON cannot carry.
func finitePtr(v float64) *float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return &v
}

// DataFrame returns the step's data.
func (c *CNNTrain) DataFrame() CNNTrainData {
	d := CNNTrainData{Step: c.pos, Total: c.Total(), Epoch: c.trainers[0].Epoch(), Evals: slices.Clone(c.evals)}
	if d.Evals == nil {
		d.Evals = []CNNEval{}
	}
	var last *CNNEval
	if len(c.evals) > 0 {
		last = &c.evals[len(c.evals)-1]
	}
	every := max(1, (c.pos+curvePoints-1)/curvePoints)
	d.Curves.Every = every
	for i, m := range RaceModels {
		mn := ModelNow{Name: m, GradNorms: slices.Clone(c.norms[i]), Diverged: c.diverged[i]}
		if mn.GradNorms == nil {
			mn.GradNorms = []float64{}
		}
		if n := len(c.loss[i]); n > 0 {
			mn.Loss, mn.BatchAcc, mn.Acc = finitePtr(c.loss[i][n-1]), finitePtr(c.acc[i][n-1]), finitePtr(c.smooth[i][n-1])
		}
		if mn.Diverged != "" {
			mn.DivergedLoss = finitePtr(c.divergedLoss[i])
		}
		if last != nil {
			mn.Test, mn.Train, mn.Gap = ptr(last.Test[i]), ptr(last.Train[i]), ptr(last.Train[i]-last.Test[i])
			mn.EvalStep = last.Step
		}
		d.Models = append(d.Models, mn)
		loss, acc := downsample(c.loss[i], every), downsample(c.smooth[i], every)
		d.Curves.Loss = append(d.Curves.Loss, viz.Quantize(loss, len(loss)))
		d.Curves.Acc = append(d.Curves.Acc, viz.Quantize(acc, len(acc)))
	}
	conv := c.trainers[0].Model().Layers[0].(*engine.Conv2d)
	w := conv.Weight.Value.Data
	lim := 0.0
	for _, v := range w {
		if !math.IsNaN(v) && !math.IsInf(v, 0) {
			lim = max(lim, math.Abs(v))
		}
	}
	d.Filters = viz.QuantizeRange(w, -lim, lim, conv.Weight.Value.Shape[0], 3, 3)
	maps := c.FeatureMaps()
	d.Maps = viz.Quantize(maps.Data, maps.Shape[1:]...)

	c.mu.Lock()
	d.Shift = &ShiftFrame{Done: c.shift}
	if c.job != nil {
		d.Shift.Running = &ShiftRunning{Step: c.job.step, Done: c.job.done, Total: len(RaceModels) * (MaxShift + 1)}
	}
	c.mu.Unlock()
	return d
}

// FeatureMaps runs the CNN's first convolution and its ReLU on the chosen
// digit and returns a copy of the output, [1, 8, 28, 28].
func (c *CNNTrain) FeatureMaps() *engine.Tensor {
	m := c.trainers[0].Model()
	y := m.Layers[0].Forward(c.digitX, nil)
	y = m.Layers[1].Forward(y, nil)
	return y.Clone()
}

// Evals returns the evaluations so far.
func (c *CNNTrain) Evals() []CNNEval { return slices.Clone(c.evals) }

// History returns model i's per-step losses and smoothed batch accuracies.
func (c *CNNTrain) History(i int) (loss, smoothAcc []float64) {
	return slices.Clone(c.loss[i]), slices.Clone(c.smooth[i])
}

// Shift returns the latest finished shift test, or nil.
func (c *CNNTrain) Shift() *ShiftResult {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.shift
}

// downsample averages v over runs of every values (the last run may be
// shorter).
func downsample(v []float64, every int) []float64 {
	if every <= 1 {
		return slices.Clone(v)
	}
	out := make([]float64, 0, (len(v)+every-1)/every)
	for lo := 0; lo < len(v); lo += every {
		hi := min(lo+every, len(v))
		var s float64
		for _, x := range v[lo:hi] {
			s += x
		}
		out = append(out, s/float64(hi-lo))
	}
	return out
}

// ReplayCNNTrain builds the race for p and trains it to step, running the
// shift test at the last checkpoint on the way, as a live run shows it at
// that step. It stops early with ctx's error when ctx is done.
func ReplayCNNTrain(ctx context.Context, p CNNTrainParams, step int) (*CNNTrain, error) {
	c, err := NewCNNTrain(p)
	if err != nil {
		return nil, err
	}
	if step < 0 || step > c.Total() {
		return nil, errorf(CodeBadParams, "step %d: want 0…%d for these settings", step, c.Total())
	}
	lastShift := 0
	for _, k := range p.ShiftSteps() {
		if k <= step {
			lastShift = k
		}
	}
	for c.pos < step {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		// Only the last checkpoint's shift test is shown: skip the others.
		c.skipShift = c.pos+1 != lastShift
		if err := c.Advance(); err != nil {
			return c, err
		}
	}
	c.skipShift = false
	return c, nil
}

// WriteCNNTrace trains a CNN with p's configuration to step (the race's
// CNN is trained independently of the others, so it is the same CNN) and
// writes the engine's step trace of it on the chosen digit.
func WriteCNNTrace(ctx context.Context, w io.Writer, p CNNTrainParams, step int) error {
	if err := p.Validate(); err != nil {
		return err
	}
	if step < 0 || step > p.Total() {
		return errorf(CodeBadParams, "step %d: want 0…%d for these settings", step, p.Total())
	}
	tr, err := lab.NewTrainer(p.Config("cnn"))
	if err != nil {
		return errorf(CodeBadParams, "%s", strings.TrimPrefix(err.Error(), "lab: "))
	}
	for tr.Steps() < step {
		if err := ctx.Err(); err != nil {
			return err
		}
		if _, err := tr.Step(); err != nil {
			return fmt.Errorf("run: cnn-train: %w", err)
		}
	}
	im := lab.TestSet()
	target := engine.TensorFrom([]float64{float64(im.Labels[p.Digit])}, 1)
	return engine.WriteTrace(w, tr.Model(), p.Seed, im.Image(p.Digit), target)
}
