package lab

import (
	"context"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/paramshare/paramshare/engine"
	"github.com/paramshare/paramshare/viz"
)

// This file is the rnn-vs-unshared comparison: an Elman RNN, one cell used
// at every time step, against its control with a cell of its own at every
// step (engine.UnsharedRNN), on a task of fixed length, trained on the same
// fixed set of training sequences with the same budget.

// The models an UnsharedConfig may compare.
const (
	// ModelRNNShared is the tanh RNN: one cell (W_ih, W_hh, b_ih, b_hh)
	// used at every step.
	ModelRNNShared = "rnn"
	// ModelRNNUnshared is the same recurrence with a cell of its own at
	// every step (engine.UnsharedRNN): Steps times the cell's parameters.
	ModelRNNUnshared = "unshared"
)

// UnsharedModels lists the models of the rnn-vs-unshared comparison.
func UnsharedModels() []string { return []string{ModelRNNShared, ModelRNNUnshared} }

// Limits of an UnsharedConfig.
const (
	MinUnsharedTrain = 16
	MaxUnsharedTrain = 20000
	MaxUnsharedSteps = 20000
	MaxUnsharedEval  = 5000
)

// UnsharedConfig is the budget of rnn-vs-unshared. Both models get the same
// task and length, hidden size, optimizer, steps and training set: with
// the same seed they see the same training sequences in the same order
// (the set and its order depend on the seed only) and are measured on the
// same test sequences (the same for every seed).
type UnsharedConfig struct {
	Models []string `json:"models"` // of UnsharedModels(); both by default
	Task   string   `json:"task"`   // TaskRemember or TaskAdding
	// T is the task's distance, as SeqTrainConfig.T: the models are built
	// for exactly this length (T+1 tokens for remember-first, T steps for
	// adding).
	T         int     `json:"T"`
	TrainSize int     `json:"trainSize"` // training sequences, drawn once from the seed, MinUnsharedTrain…MaxUnsharedTrain
	Seeds     int     `json:"seeds"`     // seeds 1…Seeds, 1…MaxSeeds
	Steps     int     `json:"steps"`     // training steps per run, each a batch from the training set
	Hidden    int     `json:"hidden"`
	Batch     int     `json:"batch"`
	Optimizer string  `json:"optimizer"` // of Optimizers()
	LR        float64 `json:"lr"`
	Clip      float64 `json:"clip"` // gradient norm clip, 0: none
	// Eval is how many sequences the accuracies are measured on: the first
	// Eval training sequences and Eval fixed test sequences (all training
	// sequences and SeqEvalSize test ones when 0).
	Eval int `json:"eval"`
}

// DefaultUnsharedConfig is what `lab rnn-vs-unshared` runs by default:
// remember-the-first-symbol at distance 10 (sequences of 11 tokens), 1,000
// training sequences, 3,000 steps of 16 (48 epochs), 3 seeds, the rest as
// DefaultSeqTrainConfig (32 hidden units, Adam 5e-3, gradient norm clipped
// at 1), scored on all 1,000 training and SeqEvalSize test sequences.
func DefaultUnsharedConfig() UnsharedConfig {
	d := DefaultSeqTrainConfig("rnn", TaskRemember)
	return UnsharedConfig{
		Models: UnsharedModels(), Task: TaskRemember, T: 10, TrainSize: 1000, Seeds: 3, Steps: 3000,
		Hidden: d.Hidden, Batch: d.Batch, Optimizer: d.Optimizer, LR: d.LR, Clip: d.Clip,
	}
}

// seqConfig is the SeqTrainConfig of the shared model at seed: the task,
// its data and its scoring are the gates lesson's.
func (c UnsharedConfig) seqConfig(seed uint64) SeqTrainConfig {
	return SeqTrainConfig{Cell: "rnn", Task: c.Task, T: c.T, Hidden: c.Hidden, Batch: c.Batch, Optimizer: c.Optimizer, LR: c.LR, Clip: c.Clip, Seed: seed}
}

// Validate returns an error naming the first field outside its range, or
// nil.
func (c UnsharedConfig) Validate() error {
	switch {
	case len(c.Models) == 0:
		return fmt.Errorf("lab: models: want at least one of %s", strings.Join(UnsharedModels(), ", "))
	case c.Seeds < 1 || c.Seeds > MaxSeeds:
		return fmt.Errorf("lab: seeds %d: want 1…%d", c.Seeds, MaxSeeds)
	case c.Steps < 1 || c.Steps > MaxUnsharedSteps:
		return fmt.Errorf("lab: steps %d: want 1…%d", c.Steps, MaxUnsharedSteps)
	case c.TrainSize < MinUnsharedTrain || c.TrainSize > MaxUnsharedTrain:
		return fmt.Errorf("lab: train size %d: want %d…%d sequences", c.TrainSize, MinUnsharedTrain, MaxUnsharedTrain)
	case c.Batch > c.TrainSize:
		return fmt.Errorf("lab: batch %d is larger than train size %d: want batch ≤ train size", c.Batch, c.TrainSize)
	case c.Eval < 0 || c.Eval > MaxUnsharedEval:
		return fmt.Errorf("lab: eval %d: want 0…%d (0: every training sequence and %d test ones)", c.Eval, MaxUnsharedEval, SeqEvalSize)
	}
	for i, m := range c.Models {
		if !slices.Contains(UnsharedModels(), m) {
			return fmt.Errorf("lab: model %q: want one of %s", m, strings.Join(UnsharedModels(), ", "))
		}
		if slices.Contains(c.Models[:i], m) {
			return fmt.Errorf("lab: model %q listed twice", m)
		}
	}
	return c.seqConfig(1).Validate()
}

// NewUnsharedTaskModel returns the model named model (of UnsharedModels())
// for c's task at c's length, initialised from seed. The shared one is
// NewSeqTaskModel's rnn; the unshared one has the same layers with an
// unshared_rnn named "cell" in place of the rnn, its weights drawn, like
// the rnn's, before the output layer's.
func NewUnsharedTaskModel(c UnsharedConfig, model string, seed uint64) (*engine.Model, error) {
	sc := c.seqConfig(seed)
	if err := sc.Validate(); err != nil {
		return nil, err
	}
	switch model {
	case ModelRNNShared:
		return NewSeqTaskModel(sc)
	case ModelRNNUnshared:
	default:
		return nil, fmt.Errorf("lab: model %q: want one of %s", model, strings.Join(UnsharedModels(), ", "))
	}
	rng := engine.NewRand(seed)
	steps := sc.Steps()
	var layers []engine.Layer
	in, shape, outputs := rememberVocab, []int{steps}, rememberVocab
	loss := engine.Loss(engine.NewCrossEntropy())
	if c.Task == TaskRemember {
		oh, err := engine.NewOneHot("onehot", rememberVocab)
		if err != nil {
			return nil, err
		}
		layers = append(layers, oh)
	} else {
		in, shape, outputs, loss = 2, []int{steps, 2}, 1, engine.NewMSE()
	}
	cell, err := engine.NewUnsharedRNN("cell", in, c.Hidden, steps, rng)
	if err != nil {
		return nil, fmt.Errorf("lab: %w", err)
	}
	out, err := engine.NewLinear("out", c.Hidden, outputs, rng)
	if err != nil {
		return nil, fmt.Errorf("lab: %w", err)
	}
	layers = append(layers, cell, engine.NewLastStep("last"), out)
	m, err := engine.NewModel(ModelRNNUnshared, shape, loss, layers...)
	if err != nil {
		return nil, fmt.Errorf("lab: %w", err)
	}
	return m, nil
}

// unsharedSetStream is the PCG stream of a run's training set (drawn from
// the seed); unsharedOrderStream the stream of its order.
const (
	unsharedSetStream   = 0x6c61622d75736574 // "lab-uset"
	unsharedOrderStream = 0x6c61622d756f7264 // "lab-uord"
)

// UnsharedResult is the rnn-vs-unshared table: per model, as CompareCNN's
// (RunResult and ModelResult with no shifts; LR is the config's).
type UnsharedResult struct {
	Config  UnsharedConfig `json:"config"`
	Models  []ModelResult  `json:"models"`
	Seconds float64        `json:"seconds"`
}

// Model returns the result of the named model, or nil.
func (r *UnsharedResult) Model(name string) *ModelResult {
	for i := range r.Models {
		if r.Models[i].Model == name {
			return &r.Models[i]
		}
	}
	return nil
}

// RNNVsUnshared trains every model of cfg from seeds 1…cfg.Seeds for
// cfg.Steps steps on the seed's cfg.TrainSize training sequences and
// measures its parameters (unique, unshared and uses), its accuracy on the
// training sequences and on the fixed test sequences (for adding: the
// fraction solved within AddingTolerance), their gap and the time, with
// the mean and standard deviation over seeds. progress (may be nil) is
// called after every step and before each measurement, from the calling
// goroutine. It returns cfg.Validate's error, or ctx's error (no result)
// when ctx is cancelled (checked between steps). A run that diverges is
// measured with the weights it had.
func RNNVsUnshared(ctx context.Context, cfg UnsharedConfig, progress func(Progress)) (*UnsharedResult, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if progress == nil {
		progress = func(Progress) {}
	}
	start := time.Now()
	res := &UnsharedResult{Config: cfg}
	runs := len(cfg.Models) * cfg.Seeds
	run := 0
	for _, model := range cfg.Models {
		mr := ModelResult{Model: model, LR: cfg.LR}
		for seed := uint64(1); seed <= uint64(cfg.Seeds); seed++ {
			run++
			p := Progress{Model: model, Seed: seed, Run: run, Runs: runs, Steps: cfg.Steps}
			rr, count, err := unsharedRun(ctx, cfg, model, seed, func(step int, phase string) {
				p.Step, p.Phase, p.Elapsed = step, phase, time.Since(start)
				progress(p)
			})
			if err != nil {
				return nil, err
			}
			mr.Params, mr.Unshared, mr.Uses = count.Params, count.Unshared, count.Uses
			mr.Runs = append(mr.Runs, rr)
		}
		mr.summarise(0)
		res.Models = append(res.Models, mr)
	}
	res.Seconds = time.Since(start).Seconds()
	return res, nil
}

// unsharedRun trains one model from one seed and measures it.
func unsharedRun(ctx context.Context, cfg UnsharedConfig, model string, seed uint64, report func(step int, phase string)) (RunResult, engine.Count, error) {
	// spent is the time in the steps and the measurements, not in report
	// (whose caller may pause the run): RunResult.Seconds.
	var spent time.Duration
	m, err := NewUnsharedTaskModel(cfg, model, seed)
	if err != nil {
		return RunResult{}, engine.Count{}, err
	}
	sc := cfg.seqConfig(seed)
	trainX, trainY := sc.batch(rand.New(rand.NewPCG(seed, unsharedSetStream)), cfg.TrainSize)
	order := rand.New(rand.NewPCG(seed, unsharedOrderStream))
	perm := make([]int, cfg.TrainSize)
	next := len(perm) // the first step shuffles
	xw, yw := trainX.Size()/cfg.TrainSize, trainY.Size()/cfg.TrainSize
	x := engine.NewTensor(append([]int{cfg.Batch}, trainX.Shape[1:]...)...)
	y := engine.NewTensor(append([]int{cfg.Batch}, trainY.Shape[1:]...)...)
	opt := newOptimizer(cfg.Optimizer, cfg.LR)
	steps := cfg.Steps
	perEpoch := cfg.TrainSize / cfg.Batch
	rr := RunResult{Seed: seed}
	var epochLoss float64
	for i := range steps {
		if err := ctx.Err(); err != nil {
			return RunResult{}, engine.Count{}, err
		}
		// Each epoch visits the set in a fresh order in whole batches; the
		// TrainSize mod Batch left over come up in other epochs' orders.
		if next+cfg.Batch > len(perm) {
			for j := range perm {
				perm[j] = j
			}
			order.Shuffle(len(perm), func(a, b int) { perm[a], perm[b] = perm[b], perm[a] })
			next = 0
		}
		for b, k := range perm[next : next+cfg.Batch] {
			copy(x.Data[b*xw:(b+1)*xw], trainX.Data[k*xw:(k+1)*xw])
			copy(y.Data[b*yw:(b+1)*yw], trainY.Data[k*yw:(k+1)*yw])
		}
		next += cfg.Batch
		t0 := time.Now()
		m.ZeroGrad()
		loss := m.Loss.Forward(m.Forward(x, nil), y)
		if math.IsNaN(loss) || math.IsInf(loss, 0) {
			rr.Diverged = true
			break
		}
		m.Backward(m.Loss.Backward(), nil)
		var norm float64
		if cfg.Clip > 0 {
			norm = engine.ClipGradNorm(m.Params(), cfg.Clip)
		} else {
			norm = engine.GradNorm(m.Params())
		}
		if math.IsNaN(norm) || math.IsInf(norm, 0) {
			rr.Diverged = true
			break
		}
		opt.Step(m.Params())
		spent += time.Since(t0)
		rr.Steps++
		if i%perEpoch == 0 {
			epochLoss = 0
		}
		epochLoss += loss
		rr.FinalLoss = epochLoss / float64(i%perEpoch+1)
		report(i+1, "train")
	}
	report(rr.Steps, "measure")
	if err := ctx.Err(); err != nil {
		return RunResult{}, engine.Count{}, err
	}
	t0 := time.Now()
	n := cfg.TrainSize
	if cfg.Eval > 0 {
		n = min(n, cfg.Eval)
	}
	rr.TrainAcc = scoreOn(m, sc, trainX, trainY, n, cfg.Batch)
	testN := SeqEvalSize
	if cfg.Eval > 0 {
		testN = cfg.Eval
	}
	testX, testY := sc.evalSet(testN)
	rr.TestAcc = scoreOn(m, sc, testX, testY, testN, cfg.Batch)
	rr.Gap = rr.TrainAcc - rr.TestAcc
	rr.Seconds = (spent + time.Since(t0)).Seconds()
	return rr, m.Count(), nil
}

// scoreOn returns sc's Score of m on the first n sequences of x, y, run in
// passes of batch.
func scoreOn(m *engine.Model, sc SeqTrainConfig, x, y *engine.Tensor, n, batch int) float64 {
	xw, yw := x.Size()/x.Shape[0], y.Size()/y.Shape[0]
	var score float64
	for lo := 0; lo < n; lo += batch {
		k := min(batch, n-lo)
		xb := engine.TensorFrom(x.Data[lo*xw:(lo+k)*xw], append([]int{k}, x.Shape[1:]...)...)
		yb := engine.TensorFrom(y.Data[lo*yw:(lo+k)*yw], append([]int{k}, y.Shape[1:]...)...)
		score += sc.Score(m.Forward(xb, nil), yb) * float64(k)
	}
	return score / float64(n)
}

// UnsharedCharts returns the rnn-vs-unshared figures: train and test
// accuracy per model and unique parameters per model (means over seeds).
func UnsharedCharts(res *UnsharedResult) []Chart {
	seeds := fmt.Sprintf("mean of %d seeds", res.Config.Seeds)
	if res.Config.Seeds == 1 {
		seeds = "1 seed"
	}
	var names []string
	for _, m := range res.Models {
		names = append(names, m.Model)
	}
	return []Chart{
		{Name: "accuracy", Write: func(w io.Writer, format string) error {
			train, test := viz.BarGroup{Label: "train"}, viz.BarGroup{Label: "test"}
			for _, m := range res.Models {
				train.Values = append(train.Values, 100*m.TrainAcc.Mean)
				test.Values = append(test.Values, 100*m.TestAcc.Mean)
			}
			c := res.Config
			title := fmt.Sprintf("%s, T = %d: %d steps on %d sequences (%s)", taskTitle[c.Task].name, c.T, c.Steps, c.TrainSize, seeds)
			return viz.WriteBars(w, format, title, taskTitle[c.Task].score, names, false, train, test)
		}},
		{Name: "params", Write: func(w io.Writer, format string) error {
			g := viz.BarGroup{Label: "unique parameters"}
			for _, m := range res.Models {
				g.Values = append(g.Values, float64(m.Params))
			}
			return viz.WriteBars(w, format, "Parameters per model", "parameters", names, false, g)
		}},
	}
}
