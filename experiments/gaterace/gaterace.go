// Package gaterace is the experiment of lesson 9, "Gates help": a race of
// three recurrent models — a plain tanh RNN, an LSTM and a GRU of the same
// hidden size — trained side by side by lab.SeqTrainers on the same
// sequences with the same optimizer, on remember-the-first-symbol at
// distance T or on the adding problem of length T.
//
// Every step trains each model on one fresh batch. Every evalEvery steps
// (and at the last) the race scores the three on the same EvalSize fixed
// sequences; every profileEvery steps it measures each model's per-step
// contributions to its shared W_hh on a fixed probe batch (the engine's
// Recorder, UseStep): how much of the gradient still comes from far back.
// The parameter counts are the engine's (Model.Count): the LSTM's
// recurrent layer has 4× the RNN's, the GRU's 3×.
//
// The accuracy against T is not computed here: the widget keeps the final
// evaluation of each T the learner has raced (see README.md); `lab
// rnn-vs-gates` measures the whole curve over seeds.
package gaterace

import (
	"embed"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/paramshare/paramshare/engine"
	"github.com/paramshare/paramshare/lab"
	"github.com/paramshare/paramshare/run"
)

// Name is the experiment's name in the registry, the protocol and export
// URLs.
const Name = "gate-race"

//go:embed widget
var widget embed.FS

func init() {
	run.Register(run.Spec{
		Name:   Name,
		Widget: run.Sub(widget, "widget"),
		Title:  run.Text{En: "Gates help", Zh: "门控的作用"},
		Fields: fields(),
		New:    func(v run.Values) (run.Experiment, error) { return newRace(v) },
		Exports: []run.Export{
			{Format: "png", Heavy: true, Write: writeFigure("png")},
			{Format: "svg", Heavy: true, Write: writeFigure("svg")},
			{Format: "json", Heavy: true, Write: writeJSON},
			{Format: "trace.json", Heavy: true, Write: writeTrace},
		},
		// Measured by the conformance test at hidden 64, T 32, batch 16
		// (docs/perf.md): see README.md for the figures.
		Budget:    run.Budget{Step: 25 * time.Millisecond, Memory: 14_000_000, FrameBytes: 12 << 10, StaticBytes: 2 << 10},
		Costliest: map[string]any{"hidden": maxHidden, "T": maxT, "batch": maxBatch, "task": lab.TaskRemember, "steps": maxSteps},
	})
}

// Models are the race's cells, in the order frames list them.
func Models() []string { return lab.SeqCells() }

// Limits and schedule.
const (
	maxT      = 32
	maxHidden = 64
	maxBatch  = 16
	minSteps  = 50
	maxSteps  = 1000
	maxSeed   = 1_000_000
	// EvalSize is how many fixed sequences an evaluation scores (the same
	// for every seed and cell at one task and T).
	EvalSize = 256
	// evalCount is about how many evaluations a run makes; profileEvery
	// the steps between two W_hh profiles.
	evalCount    = 20
	profileEvery = 10
	curvePoints  = 150
	// smoothing is the β of the moving average of the batch score
	// (bias-corrected as Adam's moments are).
	smoothing = 0.9
	// clip is the gradient-norm clipping of every step (lab's Clip).
	clip = 1
)

func fields() []run.Field {
	d := lab.DefaultSeqTrainConfig("rnn", lab.TaskAdding)
	return []run.Field{
		{Name: "task", Kind: run.Choice, Default: lab.TaskAdding, Choices: lab.SeqTasks(),
			Desc: run.Text{En: "remember the first symbol (accuracy), or add the two marked values (solved: |error| < 0.04)", Zh: "记住第一个符号（准确率），或把两个标记的数相加（解出：|误差| < 0.04）"}},
		{Name: "T", Kind: run.Int, Default: d.T, Min: lab.MinSeqT, Max: maxT,
			Desc: run.Text{En: "distance: noise symbols after the first (remember-first) or the sequence length (adding)", Zh: "距离：第一个符号之后的噪声符号个数（记住第一个），或序列长度（加法）"}},
		{Name: "hidden", Kind: run.Int, Default: d.Hidden, Min: 4, Max: maxHidden,
			Desc: run.Text{En: "hidden units of each of the three cells", Zh: "三个单元各自的隐藏单元数"}},
		{Name: "batch", Kind: run.Int, Default: d.Batch, Min: 1, Max: maxBatch,
			Desc: run.Text{En: "sequences per step (the same for the three models)", Zh: "每步的序列数（三个模型相同）"}},
		{Name: "optimizer", Kind: run.Choice, Default: d.Optimizer, Choices: lab.Optimizers(),
			Desc: run.Text{En: "plain SGD, SGD with momentum 0.9, or Adam (gradient norm clipped at 1)", Zh: "普通 SGD、动量 0.9 的 SGD 或 Adam（梯度范数裁剪到 1）"}},
		{Name: "lr", Kind: run.Number, Default: d.LR, Min: 1e-4, Max: lab.MaxLR,
			Desc: run.Text{En: "learning rate of the three models", Zh: "三个模型共用的学习率"}},
		{Name: "steps", Kind: run.Int, Default: 600, Min: minSteps, Max: maxSteps,
			Desc: run.Text{En: "training steps of the race", Zh: "比赛的训练步数"}},
		{Name: "seed", Kind: run.Int, Default: int(d.Seed), Min: 0, Max: maxSeed,
			Desc: run.Text{En: "seed of the initial weights and of the sequences", Zh: "初始权重和序列的随机种子"}},
	}
}

// Config is the lab configuration of cell in the race with values v: the
// same for the three cells but the cell.
func Config(v run.Values, cell string) lab.SeqTrainConfig {
	return lab.SeqTrainConfig{
		Cell: cell, Task: v.String("task"), T: v.Int("T"), Hidden: v.Int("hidden"), Batch: v.Int("batch"),
		Optimizer: v.String("optimizer"), LR: v.Float("lr"), Clip: clip, Seed: uint64(v.Int("seed")),
	}
}

// EvalEvery is the steps between two evaluations (about evalCount per run,
// at least 10 apart); the last step is evaluated too.
func EvalEvery(total int) int { return max(10, (total+evalCount-1)/evalCount) }

func evaluates(step, total int) bool {
	return step == 0 || step == total || step%EvalEvery(total) == 0
}

// race is the experiment; only the run's worker touches it.
type race struct {
	v        run.Values
	trainers []*lab.SeqTrainer
	counts   []engine.Count
	rev      int

	pos    int
	loss   [][]float64 // [model][step−1] batch loss
	smooth [][]float64 // [model][step−1] smoothed batch score
	ema    []float64
	evals  []evaluation
	prof   [][]float64 // [model][distance−1]: the latest W_hh profile
	profAt int         // the step prof was measured at
	// profW is the LSTM's parameter values (Model.Params order) at
	// profAt, for the trace export of the pass its profile measured.
	profW [][]float64
	// diverged is the first divergence's text; the race refuses steps
	// after it until Restart or new parameters.
	diverged *run.Error
}

// evaluation is the three models scored on the fixed sequences at Step.
type evaluation struct {
	Step  int       `json:"step"`
	Loss  []float64 `json:"loss"`  // Models order
	Score []float64 `json:"score"` // accuracy, or fraction solved
}

var _ run.Experiment = (*race)(nil)

func newRace(v run.Values) (*race, error) {
	r := &race{}
	if err := r.load(v); err != nil {
		return nil, err
	}
	return r, nil
}

// load builds fresh trainers for v (step 0, evaluated and profiled) and
// only then replaces r's race, so an error leaves r as it was.
func (r *race) load(v run.Values) error {
	trainers := make([]*lab.SeqTrainer, len(Models()))
	counts := make([]engine.Count, len(Models()))
	for i, m := range Models() {
		tr, err := lab.NewSeqTrainer(Config(v, m))
		if err != nil { // the fields bound every value: a bug
			return fmt.Errorf("gaterace: %w", err)
		}
		trainers[i], counts[i] = tr, tr.Count()
	}
	n := &race{v: v, trainers: trainers, counts: counts, rev: r.rev + 1}
	if err := n.clear(); err != nil {
		return err
	}
	*r = *n
	return nil
}

// clear empties the histories and measures step 0.
func (r *race) clear() error {
	n := len(Models())
	r.pos, r.diverged = 0, nil
	r.loss, r.smooth, r.ema = make([][]float64, n), make([][]float64, n), make([]float64, n)
	r.evals = nil
	r.evaluate()
	return r.profile()
}

// Total is the run's length in steps.
func (r *race) Total() int { return r.v.Int("steps") }

// Pos is the number of race steps taken.
func (r *race) Pos() int { return r.pos }

// Restart puts the three trainers back at step 0.
func (r *race) Restart() error {
	for _, tr := range r.trainers {
		if err := tr.Reset(); err != nil {
			return fmt.Errorf("gaterace: %w", err)
		}
	}
	return r.clear()
}

// SetParams starts a new race for v (every field changes the training).
func (r *race) SetParams(v run.Values) error {
	if v.Equal(r.v) {
		return nil
	}
	return r.load(v)
}

// Advance trains each model on the step's batch (the same sequences for
// the three), then evaluates and profiles when the schedule says so. A
// model whose loss or gradient stops being finite ends the race: Advance
// returns an error wrapping engine.ErrDiverged, and so does every later
// Advance until Restart or new parameters.
func (r *race) Advance() error {
	if r.pos >= r.Total() {
		return fmt.Errorf("gaterace: the budget of %d steps is spent", r.Total())
	}
	if r.diverged != nil {
		return run.DivergedError(r.diverged)
	}
	results := make([]lab.SeqStep, len(r.trainers))
	for i, tr := range r.trainers {
		res, err := tr.Step()
		if errors.Is(err, engine.ErrDiverged) {
			m := Models()[i]
			r.diverged = run.NewError(run.CodeStepFailed,
				fmt.Sprintf("%s diverged at step %d (its loss or gradient is not a finite number) — lower the learning rate", m, res.Step),
				fmt.Sprintf("%s 在第 %d 步发散（损失或梯度不是有限数）——请降低学习率", m, res.Step))
			r.pos++
			return run.DivergedError(r.diverged)
		}
		if err != nil {
			return fmt.Errorf("gaterace: %w", err)
		}
		results[i] = res
	}
	r.pos++
	for i, res := range results {
		r.loss[i] = append(r.loss[i], res.Loss)
		r.ema[i] = smoothing*r.ema[i] + (1-smoothing)*res.Score
		r.smooth[i] = append(r.smooth[i], r.ema[i]/(1-math.Pow(smoothing, float64(r.pos))))
	}
	if evaluates(r.pos, r.Total()) {
		r.evaluate()
	}
	if r.pos%profileEvery == 0 || r.pos == r.Total() {
		return r.profile()
	}
	return nil
}

// evaluate scores the three models on the fixed sequences.
func (r *race) evaluate() {
	e := evaluation{Step: r.pos}
	for _, tr := range r.trainers {
		l, s := tr.Evaluate(EvalSize)
		e.Loss, e.Score = append(e.Loss, l), append(e.Score, s)
	}
	r.evals = append(r.evals, e)
}

// profile measures the three W_hh profiles on the probe batch.
func (r *race) profile() error {
	prof := make([][]float64, len(r.trainers))
	for i, tr := range r.trainers {
		p, err := tr.Profile()
		if err != nil {
			return fmt.Errorf("gaterace: %w", err)
		}
		prof[i] = p
	}
	r.prof, r.profAt = prof, r.pos
	ps := r.trainers[lstm].Model().Params()
	if len(r.profW) != len(ps) {
		r.profW = make([][]float64, len(ps))
	}
	for i, p := range ps {
		r.profW[i] = append(r.profW[i][:0], p.Value.Data...)
	}
	return nil
}

// chance is the score of a model that has learnt nothing: 1/7 for
// remember-first (the symbol is one of 1…7); for adding the fraction
// solved by always answering 1, P(|X1+X2−1| < 0.04) = 0.08 − 0.04² ≈ 0.078.
func chance(task string) float64 {
	if task == lab.TaskRemember {
		return 1.0 / 7
	}
	return 2*lab.AddingTolerance - lab.AddingTolerance*lab.AddingTolerance
}

// baselineLoss is the loss of that model: ln 7 (uniform over 1…7), or the
// variance of X1+X2, 1/6 (always answering its mean, 1).
func baselineLoss(task string) float64 {
	if task == lab.TaskRemember {
		return math.Log(7)
	}
	return 1.0 / 6
}
