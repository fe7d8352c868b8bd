package lab

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/paramshare/paramshare/engine"
	"github.com/paramshare/paramshare/engine/data"
)

// This file is the gates lesson's trainer: one recurrent model (rnn, lstm
// or gru) learning a sequence task whose difficulty is a distance T, one
// freshly drawn batch per step, with the per-step contributions to the
// shared W_hh measured on a probe batch.

// The sequence tasks a SeqTrainConfig may name.
const (
	// TaskRemember is remember-the-first-symbol (data.RememberFirst): read
	// a symbol 1…7 and T noise tokens from 0…7, then name the symbol.
	// Scored by accuracy; chance is 1/7.
	TaskRemember = "remember-first"
	// TaskAdding is the adding problem (data.Adding): T pairs (value,
	// marker); output the sum of the two marked values. Scored by the
	// fraction of sequences solved, |ŷ − y| < AddingTolerance.
	TaskAdding = "adding"
)

// SeqTasks lists the tasks, SeqCells the recurrent cells, in lesson order.
func SeqTasks() []string { return []string{TaskRemember, TaskAdding} }
func SeqCells() []string { return []string{"rnn", "lstm", "gru"} }

// AddingTolerance is Hochreiter & Schmidhuber's criterion (1997, LSTM
// paper, experiment 4): a sequence of the adding problem is processed
// correctly when the absolute error of the output at the sequence end is
// below 0.04. Their target was 0.5 + (X1+X2)/4; ours (Le, Jaitly & Hinton
// 2015) is the plain sum X1 + X2 of values in [0, 1], so 0.04 on our
// target is four times stricter than theirs.
const AddingTolerance = 0.04

// rememberVocab is remember-first's vocabulary: 8 tokens, the symbol to
// remember one of 1…7 (engine.DefaultSeqConfig's).
const rememberVocab = 8

// forgetBias is the LSTM's starting forget-gate bias, as
// engine.DefaultSeqConfig documents (sigmoid(2) ≈ 0.88: the cell starts
// remembering).
const forgetBias = 2

// Limits of a SeqTrainConfig.
const (
	MinSeqT      = 2
	MaxSeqT      = 200
	MaxSeqHidden = 128
	MaxSeqBatch  = 256
)

// The PCG streams of a SeqTrainer's data: the training batches and the
// probe batch depend on the seed (the same for every cell, so the three
// models of a race see the same sequences); the evaluation set does not
// depend on the seed at all, so every run is measured on the same
// sequences.
const (
	seqTrainStream = 0x6c61622d73657174 // "lab-seqt"
	seqProbeStream = 0x6c61622d73657170 // "lab-seqp"
	seqEvalStream  = 0x6c61622d73657165 // "lab-seqe"
	seqEvalSeed    = 20260101
)

// SeqTrainConfig is one recurrent training run.
type SeqTrainConfig struct {
	Cell string `json:"cell"` // "rnn", "lstm" or "gru"
	Task string `json:"task"` // TaskRemember or TaskAdding
	// T is the task's distance: for remember-first the noise tokens
	// between the symbol and the answer (sequences of T+1 tokens), for
	// adding the sequence length (the first marker lies in its first
	// half, so it is up to T−1 steps back).
	T         int     `json:"T"`
	Hidden    int     `json:"hidden"`
	Batch     int     `json:"batch"`
	Optimizer string  `json:"optimizer"` // of Optimizers()
	LR        float64 `json:"lr"`
	// Clip is the largest gradient norm a step applies (engine.ClipGradNorm
	// over every parameter); 0 leaves the gradient as it is.
	Clip float64 `json:"clip"`
	Seed uint64  `json:"seed"`
}

// DefaultSeqTrainConfig is the lesson's starting point: distance 20, 32
// hidden units, batches of 16, Adam at 5e-3 with the gradient norm clipped
// at 1 (the engine's training test: an LSTM learns remember-first at
// distance 20 within 500 steps, a tanh RNN stays near chance), seed 1.
func DefaultSeqTrainConfig(cell, task string) SeqTrainConfig {
	return SeqTrainConfig{Cell: cell, Task: task, T: 20, Hidden: 32, Batch: 16, Optimizer: "adam", LR: 5e-3, Clip: 1, Seed: 1}
}

// Validate returns an error naming the first field outside its range, or
// nil.
func (c SeqTrainConfig) Validate() error {
	switch {
	case !slices.Contains(SeqCells(), c.Cell):
		return fmt.Errorf("lab: cell %q: want one of %s", c.Cell, strings.Join(SeqCells(), ", "))
	case !slices.Contains(SeqTasks(), c.Task):
		return fmt.Errorf("lab: task %q: want one of %s", c.Task, strings.Join(SeqTasks(), ", "))
	case c.T < MinSeqT || c.T > MaxSeqT:
		return fmt.Errorf("lab: T %d: want %d…%d", c.T, MinSeqT, MaxSeqT)
	case c.Hidden < 1 || c.Hidden > MaxSeqHidden:
		return fmt.Errorf("lab: hidden %d: want 1…%d", c.Hidden, MaxSeqHidden)
	case c.Batch < 1 || c.Batch > MaxSeqBatch:
		return fmt.Errorf("lab: batch %d: want 1…%d", c.Batch, MaxSeqBatch)
	case !slices.Contains(Optimizers(), c.Optimizer):
		return fmt.Errorf("lab: optimizer %q: want one of %s", c.Optimizer, strings.Join(Optimizers(), ", "))
	case !(c.LR > 0 && c.LR <= MaxLR):
		return fmt.Errorf("lab: lr %v: want 0 < lr ≤ %v", c.LR, MaxLR)
	case !(c.Clip >= 0) || math.IsInf(c.Clip, 0):
		return fmt.Errorf("lab: clip %v: want a finite number ≥ 0 (0: no clipping)", c.Clip)
	}
	return nil
}

// Steps is the length of the task's sequences: T+1 for remember-first, T
// for adding.
func (c SeqTrainConfig) Steps() int {
	if c.Task == TaskRemember {
		return c.T + 1
	}
	return c.T
}

// Batch draws a batch of n sequences of c's task from rng.
func (c SeqTrainConfig) batch(rng *rand.Rand, n int) (x, y *engine.Tensor) {
	if c.Task == TaskRemember {
		return data.RememberFirst(rng, n, c.T, rememberVocab)
	}
	return data.Adding(rng, n, c.T)
}

// NewSeqTaskModel returns c's model, initialised from c.Seed: for
// remember-first engine.NewSeqModel (one_hot(8), CELL(8→H), last_step,
// linear H→8, cross_entropy); for adding the same with the two input
// channels fed straight in and one output, CELL(2→H), last_step, linear
// H→1, mse. The recurrent layer is named "cell"; an LSTM's forget gate
// starts at bias 2 (engine.DefaultSeqConfig's ForgetBias).
func NewSeqTaskModel(c SeqTrainConfig) (*engine.Model, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	sc := engine.SeqConfig{Cell: c.Cell, Vocab: rememberVocab, Hidden: c.Hidden, T: c.Steps()}
	if c.Task != TaskRemember {
		sc = engine.SeqConfig{Cell: c.Cell, Hidden: c.Hidden, T: c.T, Features: 2, Regression: true}
	}
	if c.Cell == "lstm" {
		sc.ForgetBias = forgetBias
	}
	m, err := engine.NewSeqModel(c.Cell, sc, c.Seed)
	if err != nil {
		return nil, fmt.Errorf("lab: %w", err)
	}
	return m, nil
}

// Score is the task's measure of a batch: the fraction classified right
// (remember-first) or solved within AddingTolerance (adding).
func (c SeqTrainConfig) Score(out, y *engine.Tensor) float64 {
	if c.Task == TaskRemember {
		return engine.Accuracy(out, y)
	}
	hits := 0
	for i, v := range out.Data {
		if math.Abs(v-y.Data[i]) < AddingTolerance {
			hits++
		}
	}
	return float64(hits) / float64(len(out.Data))
}

// SeqStep is what one training step did.
type SeqStep struct {
	Step  int     `json:"step"`  // steps taken, this one included
	Loss  float64 `json:"loss"`  // the batch's loss before the update
	Score float64 `json:"score"` // the batch's Score before the update
}

// SeqTrainer trains one recurrent model step by step on fresh batches of
// its task, drawn from the seed: the same config gives the same losses,
// and configs that differ only in the cell see the same sequences. It is
// not safe for concurrent use.
type SeqTrainer struct {
	cfg      SeqTrainConfig
	model    *engine.Model
	cell     engine.Layer
	whh      *engine.Param
	opt      engine.Optimizer
	rng      *rand.Rand
	steps    int
	diverged error
	probeX   *engine.Tensor
	probeY   *engine.Tensor
	evalX    *engine.Tensor // the evaluation sequences, drawn once
	evalY    *engine.Tensor
}

// NewSeqTrainer returns a trainer for c with a freshly initialised model,
// or c.Validate's error.
func NewSeqTrainer(c SeqTrainConfig) (*SeqTrainer, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	t := &SeqTrainer{cfg: c}
	if err := t.Reset(); err != nil {
		return nil, err
	}
	t.probeX, t.probeY = c.batch(rand.New(rand.NewPCG(c.Seed, seqProbeStream)), c.Batch)
	return t, nil
}

// Reset rebuilds the model from the seed, a new optimizer and the first
// batch again.
func (t *SeqTrainer) Reset() error {
	m, err := NewSeqTaskModel(t.cfg)
	if err != nil {
		return err
	}
	t.model = m
	for _, l := range m.Layers {
		if l.Spec().Name == "cell" {
			t.cell = l
		}
	}
	for _, np := range t.cell.Params() {
		if np.Local == "weight_hh" {
			t.whh = np.Param
		}
	}
	t.opt = newOptimizer(t.cfg.Optimizer, t.cfg.LR)
	t.rng = t.cfg.trainRand()
	t.steps, t.diverged = 0, nil
	return nil
}

// trainRand is the source of c's training batches.
func (c SeqTrainConfig) trainRand() *rand.Rand { return rand.New(rand.NewPCG(c.Seed, seqTrainStream)) }

// newOptimizer returns the named optimizer of Optimizers() at lr.
func newOptimizer(name string, lr float64) engine.Optimizer {
	switch name {
	case "sgd":
		return engine.NewSGD(lr, 0)
	case "momentum":
		return engine.NewSGD(lr, momentum)
	}
	return engine.NewAdam(lr, 0.9, 0.999, 1e-8)
}

// Config returns the trainer's configuration.
func (t *SeqTrainer) Config() SeqTrainConfig { return t.cfg }

// Model returns the model being trained (read it; do not step it).
func (t *SeqTrainer) Model() *engine.Model { return t.model }

// Steps returns the steps taken since the last Reset.
func (t *SeqTrainer) Steps() int { return t.steps }

// Probe returns the fixed probe batch Profile uses (the trainer's: read
// it only).
func (t *SeqTrainer) Probe() (x, y *engine.Tensor) { return t.probeX, t.probeY }

// Count returns the engine's parameter count of the model.
func (t *SeqTrainer) Count() engine.Count { return t.model.Count() }

// Step trains on the next batch: forward, loss, backward, the gradient
// norm clipped to Clip, one optimizer update. When the loss or a gradient
// is not finite it makes no update and returns an error wrapping
// engine.ErrDiverged, and so does every later Step until Reset.
func (t *SeqTrainer) Step() (SeqStep, error) {
	if t.diverged != nil {
		return SeqStep{}, t.diverged
	}
	x, y := t.cfg.batch(t.rng, t.cfg.Batch)
	t.steps++
	m := t.model
	m.ZeroGrad()
	out := m.Forward(x, nil)
	res := SeqStep{Step: t.steps, Loss: m.Loss.Forward(out, y)}
	res.Score = t.cfg.Score(out, y)
	if math.IsNaN(res.Loss) || math.IsInf(res.Loss, 0) {
		t.diverged = fmt.Errorf("lab: %s at step %d: loss %v: %w", t.cfg.Cell, t.steps, res.Loss, engine.ErrDiverged)
		return res, t.diverged
	}
	m.Backward(m.Loss.Backward(), nil)
	if t.cfg.Clip > 0 {
		if n := engine.ClipGradNorm(m.Params(), t.cfg.Clip); math.IsNaN(n) || math.IsInf(n, 0) {
			t.diverged = fmt.Errorf("lab: %s at step %d: gradient norm %v: %w", t.cfg.Cell, t.steps, n, engine.ErrDiverged)
			return res, t.diverged
		}
	} else if n := engine.GradNorm(m.Params()); math.IsNaN(n) || math.IsInf(n, 0) {
		t.diverged = fmt.Errorf("lab: %s at step %d: gradient norm %v: %w", t.cfg.Cell, t.steps, n, engine.ErrDiverged)
		return res, t.diverged
	}
	t.opt.Step(m.Params())
	return res, nil
}

// SeqEvalSize is how many sequences Evaluate scores by default.
const SeqEvalSize = 500

// evalSet returns n evaluation sequences of c's task and T: the same for
// every seed and cell.
func (c SeqTrainConfig) evalSet(n int) (x, y *engine.Tensor) {
	return c.batch(rand.New(rand.NewPCG(seqEvalSeed, seqEvalStream)), n)
}

// Evaluate returns the mean loss and the Score of the model on n fixed
// sequences (SeqEvalSize when n ≤ 0), the same for every seed and cell at
// the same task and T. It runs them in passes of Batch, the size the
// layers' buffers already have, and changes neither the weights nor the
// gradients.
func (t *SeqTrainer) Evaluate(n int) (loss, score float64) {
	if n <= 0 {
		n = SeqEvalSize
	}
	if t.evalX == nil || t.evalX.Shape[0] != n {
		t.evalX, t.evalY = t.cfg.evalSet(n)
	}
	xw, yw := t.evalX.Size()/n, t.evalY.Size()/n
	for lo := 0; lo < n; lo += t.cfg.Batch {
		k := min(t.cfg.Batch, n-lo)
		x := engine.TensorFrom(t.evalX.Data[lo*xw:(lo+k)*xw], append([]int{k}, t.evalX.Shape[1:]...)...)
		y := engine.TensorFrom(t.evalY.Data[lo*yw:(lo+k)*yw], append([]int{k}, t.evalY.Shape[1:]...)...)
		out := t.model.Forward(x, nil)
		loss += t.model.Loss.Forward(out, y) * float64(k)
		score += t.cfg.Score(out, y) * float64(k)
	}
	return loss / float64(n), score / float64(n)
}

// normTap is a Tap that keeps only the norm of each time step's
// contribution to one Param (what a Recorder's Norms would return, without
// copying the contributions).
type normTap struct {
	p     *engine.Param
	norms []float64 // by step
}

func (n *normTap) Output(engine.Layer, *engine.Tensor, *engine.Tensor) {}

func (n *normTap) Contribute(c engine.Contribution) {
	if c.Param != n.p || c.Kind != engine.UseStep {
		return
	}
	var ss float64
	for _, g := range c.Grad.Data {
		ss += g * g
	}
	n.norms[c.Index[0]] = math.Sqrt(ss)
}

// Profile returns, for the fixed probe batch (Batch sequences drawn from
// the seed), the norm of each time step's contribution to the gradient of
// the cell's shared W_hh (weight_hh, the engine's UseStep contributions,
// which sum to that gradient), by distance from the last step: element k
// is step Steps−1−k, k steps before the last. Step 0's contribution is zero (h_{−1} = 0) and is left out, so the
// profile has Steps−1 values. Profile leaves the gradients zeroed; call it
// between Steps.
func (t *SeqTrainer) Profile() ([]float64, error) {
	tap := &normTap{p: t.whh, norms: make([]float64, t.cfg.Steps())}
	for i := range tap.norms {
		tap.norms[i] = math.NaN() // a step the engine did not report stays NaN
	}
	_, err := t.model.ComputeGrad(t.probeX, t.probeY, tap)
	t.model.ZeroGrad()
	if err != nil {
		return nil, fmt.Errorf("lab: %s probe: %w", t.cfg.Cell, err)
	}
	prof := make([]float64, len(tap.norms)-1)
	for k := range prof {
		prof[k] = tap.norms[len(tap.norms)-1-k]
		if math.IsNaN(prof[k]) {
			return nil, fmt.Errorf("lab: %s probe: the engine reported no contribution of step %d", t.cfg.Cell, len(tap.norms)-1-k)
		}
	}
	return prof, nil
}
