// Package cnntrain is the experiment of lesson 4, "Train a CNN live": a
// race of three digit classifiers — the lessons' CNN, its locally connected
// twin (the same shapes, a kernel of its own at every position) and an MLP
// with about the CNN's parameter count — trained side by side by
// lab.Trainers with the same configuration, one minibatch each per step.
// Every few steps the race measures test and training accuracy, and at a
// third, two thirds and the end of its budget the shift test: accuracy on
// test digits moved sideways.
//
// # What a step costs
//
// Training runs in passes of one example (lab's Micro) whose gradients add
// up to the batch's, so a race holds one example's activations per model
// whatever the batch: about 12 MB in all, most of it the twin's 299,498
// weights with their gradients and Adam's two moments. A step takes
// ~26 ms of one core at the default batch (32), ~0.25 s at the largest
// (256).
//
// Evaluations and shift tests are work a step owes on its own weights (the
// gate). They are cut into pieces of about 30 ms, run by the background
// worker through the run's Host (so the scheduler shares them like steps)
// and by Advance itself: until a step's gate is done, Advance runs one
// piece instead of training, so the weights never change under a test and
// are never copied. The frame of step k therefore always carries every
// evaluation and shift test of the steps before k; those of k itself
// appear when its gate is done (at once in an export, which settles it).
package cnntrain

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/paramshare/paramshare/engine"
	"github.com/paramshare/paramshare/engine/data"
	"github.com/paramshare/paramshare/lab"
	"github.com/paramshare/paramshare/run"
)

// Name is the experiment's name in the registry, the protocol and export
// URLs.
const Name = "cnn-train"

// widget is the page's side of the experiment: its drawing code and
// strings (NAME.js) and styles (NAME.css), served under /static/widgets/.
//
//go:embed widget
var widget embed.FS

func init() {
	run.Register(run.Spec{
		Name:   Name,
		Trains: true,
		Widget: run.Sub(widget, "widget"),
		Title:  run.Text{En: "Train a CNN live", Zh: "现场训练一个 CNN"},
		Fields: fields(),
		Check:  check,
		New:    func(v run.Values) (run.Experiment, error) { return newRace(v) },
		Exports: []run.Export{
			{Format: "png", Heavy: true, Write: writePNG},
			{Format: "svg", Heavy: true, Write: writeSVG},
			{Format: "json", Heavy: true, Write: writeJSON},
			{Format: "trace.json", Heavy: true, Write: writeTrace},
		},
		// Measured by TestBudget (see its log): the longest Advance is a
		// training step at batch 256, 0.25 s of CPU (0.30 s the first,
		// which sizes the buffers; a gate piece ≤ 40 ms); a race holds
		// 12.1 MB beyond the shared digits at batch 256, 5,000 training
		// digits, 600 steps and Adam — 9.6 MB of it the twin's weights,
		// gradients and Adam moments — against the limit of 15 MB;
		// a frame is ≤ 12 kB of data and 1.7 kB static.
		Budget:    run.Budget{Step: 500 * time.Millisecond, Memory: 15_000_000, FrameBytes: 20 << 10, StaticBytes: 4 << 10},
		Costliest: map[string]any{"batch": lab.MaxBatch, "trainSize": lab.MaxTrainSize, "epochs": 50}, // Adam, the default, holds the most
	})
}

// Models are the race's models, in the order frames list them.
func Models() []string { return []string{"cnn", "lc", "mlp"} }

// Limits and schedule of the race.
const (
	// maxSteps caps a run (and an export's replay): at ~26 ms a step at
	// the default batch, 600 steps are ~16 s of one core, and as many
	// again for the evaluations (~0.25 s each) and shift tests (~1.1 s).
	maxSteps = 600
	maxSeed  = 1_000_000
	// EvalImages is how many test digits (the first 500, 50 per class)
	// an evaluation and the shift test use, and the most training digits
	// an evaluation measures training accuracy on.
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
	// maxShift is the largest shift of the shift test, in pixels right.
	maxShift = 6
	// micro is the examples per forward and backward pass (lab's Micro):
	// one example's activations are ~0.55 MB per convolutional model.
	micro = 1
)

// divergeLoss is the batch loss above which a model counts as diverged:
// ten times ln 10, the cross-entropy of guessing uniformly among the 10
// digits. With lr ≤ 1 the losses rarely reach NaN: they blow up to
// hundreds or thousands (Adam at lr 1: 1.3e4 at the CNN's second step) and
// the network then dies at the guessing loss. A loss this high means the
// model is confidently wrong on most of the batch, which healthy runs never
// come near (their first loss is ≈ 2.3).
const divergeLoss = 10 * math.Ln10

// shiftAmounts are the shift test's shifts to the right, in pixels.
func shiftAmounts() []int {
	s := make([]int, maxShift+1)
	for i := range s {
		s[i] = i
	}
	return s
}

func fields() []run.Field {
	d := lab.DefaultTrainConfig("cnn")
	return []run.Field{
		{Name: "lr", Kind: run.Number, Default: d.LR, Min: 1e-5, Max: lab.MaxLR,
			Desc: run.Text{En: "learning rate of all three models", Zh: "三个模型共用的学习率"}},
		{Name: "batch", Kind: run.Int, Default: d.Batch, Min: lab.MinBatch, Max: lab.MaxBatch,
			Desc: run.Text{En: "training digits per step (at most trainSize)", Zh: "每步训练的数字个数（不超过 trainSize）"}},
		{Name: "optimizer", Kind: run.Choice, Default: d.Optimizer, Choices: lab.Optimizers(),
			Desc: run.Text{En: "plain SGD, SGD with momentum 0.9, or Adam", Zh: "普通 SGD、动量 0.9 的 SGD 或 Adam"}},
		{Name: "trainSize", Kind: run.Int, Default: d.TrainSize, Min: lab.MinTrainSize, Max: lab.MaxTrainSize,
			Desc: run.Text{En: "how many training digits the models learn from", Zh: "模型用来学习的训练数字个数"}},
		{Name: "seed", Kind: run.Int, Default: int(d.Seed), Min: 0, Max: maxSeed,
			Desc: run.Text{En: "seed of the initial weights and the order of the digits", Zh: "初始权重和数字顺序的随机种子"}},
		{Name: "epochs", Kind: run.Int, Default: 3, Min: 1, Max: 50,
			Desc: run.Text{En: "passes over the training digits (at most 600 steps in all)", Zh: "遍历训练数字的轮数（总共最多 600 步）"}},
		{Name: "digit", Kind: run.Int, Default: 0, Min: 0, Max: float64(lab.TestSet().N - 1),
			Desc: run.Text{En: "the test digit whose feature maps are shown", Zh: "显示其特征图的测试数字"}},
	}
}

// check refuses a batch larger than the training set.
func check(v run.Values) error {
	if b, n := v.Int("batch"), v.Int("trainSize"); b > n {
		return run.CheckError("batch", b,
			fmt.Sprintf("a step cannot take more digits than the %d being trained on; pick a batch of at most trainSize", n),
			fmt.Sprintf("每步用的数字不能多于训练用的 %d 个；批大小不能超过 trainSize", n))
	}
	return nil
}

// Config is the lab configuration of model in the race with values v: the
// same for the three models but the model's name.
func Config(v run.Values, model string) lab.TrainConfig {
	return lab.TrainConfig{
		Model: model, Optimizer: v.String("optimizer"), LR: v.Float("lr"), Batch: v.Int("batch"),
		TrainSize: v.Int("trainSize"), Seed: uint64(v.Int("seed")), Micro: micro,
	}
}

// total is the run's length in steps: epochs passes of trainSize/batch
// steps, at most maxSteps.
func total(v run.Values) int {
	return min(v.Int("epochs")*(v.Int("trainSize")/v.Int("batch")), maxSteps)
}

// EvalEvery is the number of steps between two evaluations (about ten per
// run, at least five steps apart); the last step is evaluated too.
func EvalEvery(v run.Values) int {
	return max(evalMinGap, (total(v)+evalCount-1)/evalCount)
}

// shiftSteps are the steps whose weights the shift test measures: a third,
// two thirds and all of the budget.
func shiftSteps(v run.Values) []int {
	t := total(v)
	steps := []int{}
	for _, k := range []int{(t + 2) / 3, (2*t + 2) / 3, t} {
		if k > 0 && !slices.Contains(steps, k) {
			steps = append(steps, k)
		}
	}
	return steps
}

// sameTraining reports whether v and w train the same models (they may
// differ in the digit shown).
func sameTraining(v, w run.Values) bool {
	return v.With("digit", 0).Equal(w.With("digit", 0))
}

// The shift test's digits, shared read-only by every race: the first
// EvalImages test digits moved 1…maxShift pixels right (shift 0 is the
// test set itself).
var shiftedTest = sync.OnceValue(func() []*data.Images {
	sub := lab.TestSet().Subset(EvalImages)
	sets := []*data.Images{lab.TestSet()}
	for _, dx := range shiftAmounts()[1:] {
		sets = append(sets, data.Shift(sub, dx, 0))
	}
	return sets
})

// race is the experiment. Its worker-side state (the trainers' steps and
// the histories) is touched only by the run's worker; mu guards the gate
// and its results, and is held whenever the models are used, so that the
// background worker's pieces and the worker's steps never overlap.
type race struct {
	v        run.Values
	trainers []*lab.Trainer // Models order
	counts   []engine.Count
	rev      int
	digitX   *engine.Tensor
	label    int
	// conv and relu are a copy of the CNN's first layers that draws the
	// feature maps, with buffers of their own.
	conv *engine.Conv2d
	relu engine.Layer

	pos    int
	loss   [][]float64 // [model][step-1] batch loss
	smooth [][]float64 // [model][step-1] bias-corrected EMA of the batch accuracy
	ema    []float64
	last   []lastStep
	// diverged is per model why it diverged, for the page (zero while it
	// has not).
	diverged []divergence

	mu     sync.Mutex
	gate   *gate         // the work step pos still owes, or nil
	evals  []evaluation  // finished evaluations, by step
	shifts []shiftResult // finished shift tests, by step
	// known are the gates' results by step since the training parameters
	// last changed: a replay after Restart takes them instead of computing
	// them again.
	known map[int]owed

	host   run.Host // nil unless a run owns the race
	wake   chan struct{}
	cancel context.CancelFunc
	bg     sync.WaitGroup
}

// lastStep is a model's numbers of the last step.
type lastStep struct {
	batchAcc float64
	norms    []float64 // per layer with parameters; nil on a diverged step
}

// divergence is why a model diverged, in both languages, with the step and
// the batch loss of that step.
type divergence struct {
	text run.Text
	step int
	loss float64
}

var (
	_ run.Experiment = (*race)(nil)
	_ run.Attacher   = (*race)(nil)
	_ run.Closer     = (*race)(nil)
)

// newRace builds the race for v at step 0.
func newRace(v run.Values) (*race, error) {
	shiftedTest() // shared: loaded with the first race, not counted against one
	r := &race{wake: make(chan struct{}, 1)}
	if err := r.load(v); err != nil {
		return nil, err
	}
	return r, nil
}

// load builds fresh trainers for v and only then replaces r's race, so an
// error leaves r as it was.
func (r *race) load(v run.Values) error {
	trainers := make([]*lab.Trainer, len(Models()))
	counts := make([]engine.Count, len(Models()))
	for i, m := range Models() {
		tr, err := lab.NewTrainer(Config(v, m))
		if err != nil { // the fields bound every value: a bug
			return fmt.Errorf("cnntrain: %w", err)
		}
		trainers[i], counts[i] = tr, tr.Count()
	}
	conv := trainers[0].Model().Layers[0].(*engine.Conv2d)
	cp, err := engine.NewConv2d("conv1", conv.Config(), engine.NewRand(0))
	if err != nil {
		return fmt.Errorf("cnntrain: %w", err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.v, r.trainers, r.counts = v, trainers, counts
	r.conv, r.relu = cp, engine.NewReLU("relu1")
	r.known = map[int]owed{}
	r.setDigit(v.Int("digit"))
	r.clearLocked()
	return nil
}

func (r *race) setDigit(d int) {
	r.v = r.v.With("digit", d)
	r.digitX = lab.TestSet().Image(d)
	r.label = int(lab.TestSet().Labels[d])
	r.rev++
}

// clearLocked empties the histories and drops the gate and its results:
// the state of step 0. r.mu must be held.
func (r *race) clearLocked() {
	n := len(Models())
	r.pos = 0
	r.loss, r.smooth = make([][]float64, n), make([][]float64, n)
	r.ema, r.last, r.diverged = make([]float64, n), make([]lastStep, n), make([]divergence, n)
	r.gate, r.evals, r.shifts = nil, nil, nil
}

// Total is the run's length in steps.
func (r *race) Total() int { return total(r.v) }

// Pos is the number of race steps taken.
func (r *race) Pos() int { return r.pos }

// Restart puts every trainer back at step 0 (the same initial weights and
// order) and forgets the histories, evaluations and shift tests.
func (r *race) Restart() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, tr := range r.trainers {
		if err := tr.Reset(); err != nil {
			return fmt.Errorf("cnntrain: %w", err)
		}
	}
	r.clearLocked()
	return nil
}

// SetParams takes new values. A change of the digit only changes the
// feature maps shown; any other change starts a new race at step 0.
func (r *race) SetParams(v run.Values) error {
	if sameTraining(v, r.v) {
		if d := v.Int("digit"); d != r.v.Int("digit") {
			r.mu.Lock()
			r.setDigit(d)
			r.mu.Unlock()
		}
		return nil
	}
	return r.load(v)
}

func newDivergedError(t run.Text) error {
	return run.DivergedError(&run.Error{Code: run.CodeStepFailed, Text: t})
}

// diverges says why model i's step diverged (res and err are its trainer's
// Step result), or returns ok false if it did not. The step named is the
// trainer's count, which is the race's Pos after the step: the step the
// page shows.
func diverges(i int, res lab.StepResult, err error) (d divergence, ok bool) {
	m := Models()[i]
	d.step, d.loss = res.Step, res.Loss
	switch {
	case err == nil && res.Loss > divergeLoss:
		d.text = run.Text{
			En: fmt.Sprintf("%s diverged at step %d: batch loss %.5g is over ten times the loss of guessing (%.1f) — lower the learning rate", m, res.Step, res.Loss, divergeLoss),
			Zh: fmt.Sprintf("%s 在第 %d 步发散：批次损失 %.5g 超过随机猜测损失（%.1f）的十倍——请降低学习率", m, res.Step, res.Loss, divergeLoss),
		}
	case err == nil:
		return d, false
	case math.IsNaN(res.Loss) || math.IsInf(res.Loss, 0):
		d.text = run.Text{
			En: fmt.Sprintf("%s diverged at step %d: batch loss %v — lower the learning rate", m, res.Step, res.Loss),
			Zh: fmt.Sprintf("%s 在第 %d 步发散：批次损失为 %v——请降低学习率", m, res.Step, res.Loss),
		}
	case errors.Is(err, engine.ErrDiverged):
		// lab found a gradient that is not finite; its text names the layer.
		what := err.Error()
		if i := strings.Index(what, "layer "); i >= 0 {
			what = what[i:]
		}
		what, _, _ = strings.Cut(what, " — ")
		d.text = run.Text{
			En: fmt.Sprintf("%s diverged at step %d (batch loss %.5g): %s — lower the learning rate", m, res.Step, res.Loss, what),
			Zh: fmt.Sprintf("%s 在第 %d 步发散（批次损失 %.5g）：%s——请降低学习率", m, res.Step, res.Loss, what),
		}
	default:
		return d, false
	}
	return d, true
}

// Advance takes the race's next step: one piece of the gate while the
// current step owes one (Pos does not move), otherwise one minibatch for
// each model. If a model's loss or gradients stop being finite, or its
// loss exceeds divergeLoss, that model is marked diverged and Advance
// returns an error wrapping engine.ErrDiverged that names every diverged
// model: the step still counts — the other models took it, and a diverged
// model's trainer consumed its batch too — so Pos and every trainer's step
// count stay equal, but the step owes no evaluation, and the race refuses
// further steps until Restart or new parameters.
func (r *race) Advance() error {
	if r.pos >= r.Total() {
		return fmt.Errorf("cnntrain: the budget of %d steps is spent", r.Total())
	}
	if slices.ContainsFunc(r.diverged, func(d divergence) bool { return d.step > 0 }) {
		return newDivergedError(run.Text{
			En: "the race diverged earlier; reset or lower the learning rate to start again",
			Zh: "比赛之前已经发散；请重置或降低学习率后重新开始",
		})
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if g := r.gate; g != nil {
		r.runPieceLocked()
		if g.known == nil {
			return nil
		}
		// The step's results were known: the gate closed at once; train on.
	}
	results := make([]lab.StepResult, len(r.trainers))
	var why []run.Text
	for i, tr := range r.trainers {
		res, err := tr.Step()
		if d, ok := diverges(i, res, err); ok {
			r.diverged[i] = d
			why = append(why, d.text)
		} else if err != nil {
			return fmt.Errorf("cnntrain: %s: %w", Models()[i], err)
		}
		results[i] = res
	}
	r.pos++
	for i, res := range results {
		acc := res.Accuracy
		div := r.diverged[i].step > 0
		if div && (math.IsNaN(res.Loss) || math.IsInf(res.Loss, 0)) {
			acc = math.NaN() // lab stops before measuring it
		}
		r.loss[i] = append(r.loss[i], res.Loss)
		if !math.IsNaN(acc) {
			r.ema[i] = smoothing*r.ema[i] + (1-smoothing)*acc
		}
		r.smooth[i] = append(r.smooth[i], r.ema[i]/(1-math.Pow(smoothing, float64(r.pos))))
		r.last[i] = lastStep{batchAcc: acc}
		if div {
			continue // a diverged step's norms are missing or meaningless
		}
		names := r.trainers[i].LayerNames()
		r.last[i].norms = make([]float64, len(names))
		for j, n := range names {
			r.last[i].norms[j] = res.GradNorms[n]
		}
	}
	if why != nil {
		t := why[0]
		for _, w := range why[1:] {
			t.En, t.Zh = t.En+"; "+w.En, t.Zh+"；"+w.Zh
		}
		return newDivergedError(t)
	}
	r.openGateLocked()
	return nil
}

var _ run.Scorer = (*race)(nil)

// Score is the CNN's batch loss of the last step and its test accuracy at
// the latest finished evaluation: the CNN is the model the lesson's
// settings are about, so a class board compares students' CNNs.
func (r *race) Score() run.Score {
	s := run.Score{Loss: math.NaN(), Accuracy: math.NaN()}
	if r.pos > 0 && len(r.loss[0]) >= r.pos {
		s.Loss = r.loss[0][r.pos-1]
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := len(r.evals) - 1; i >= 0; i-- {
		if e := r.evals[i]; e.Step <= r.pos && len(e.Test) > 0 {
			s.Accuracy = e.Test[0]
			break
		}
	}
	return s
}

var _ run.Cloner = (*race)(nil)

// Clone returns an independent race in exactly r's state: trainers copied
// to the last bit (weights, optimizer buffers, shuffle state), histories,
// evaluations and shift tests. A step that still owes its gate owes it
// again in the copy, from its first piece (the counts are exact whoever
// computes them, so the copy's results are the original's). It lets a
// student fork the teacher's race at its step without replaying it.
func (r *race) Clone() (run.Experiment, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := &race{
		v: r.v, counts: slices.Clone(r.counts), rev: r.rev, digitX: r.digitX, label: r.label,
		pos: r.pos, ema: slices.Clone(r.ema), last: slices.Clone(r.last), diverged: slices.Clone(r.diverged),
		evals: slices.Clone(r.evals), shifts: slices.Clone(r.shifts), known: maps.Clone(r.known),
		wake: make(chan struct{}, 1),
	}
	for _, tr := range r.trainers {
		ct, err := tr.Clone()
		if err != nil {
			return nil, fmt.Errorf("cnntrain: %w", err)
		}
		c.trainers = append(c.trainers, ct)
	}
	for i := range r.loss {
		c.loss = append(c.loss, slices.Clone(r.loss[i]))
		c.smooth = append(c.smooth, slices.Clone(r.smooth[i]))
	}
	conv := c.trainers[0].Model().Layers[0].(*engine.Conv2d)
	cp, err := engine.NewConv2d("conv1", conv.Config(), engine.NewRand(0))
	if err != nil {
		return nil, fmt.Errorf("cnntrain: %w", err)
	}
	c.conv, c.relu = cp, engine.NewReLU("relu1")
	if g := r.gate; g != nil {
		eval := g.testHits != nil || g.known != nil && g.known.eval != nil
		c.setGateLocked(eval, g.shiftHits != nil)
	}
	return c, nil
}
