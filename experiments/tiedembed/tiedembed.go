// Package tiedembed is the experiment of lesson 13, "Tied embeddings": a
// word-level language model on the generated language data.WordCorpus,
// built twice from one seed — its output layer tied to the input embedding
// (engine.NewLinearShared, Press & Wolf 2017; Inan et al. 2017) and with an
// output matrix of its own — and trained side by side by a lab.TiedRace on
// the same batches with Adam.
//
// Every step shows the ledger of the tied matrix W [V, d]: what the input
// side (the embedding: each position reads one row) and the output side
// (the output layer: each position scores every word) added to W's
// gradient — the engine's UseLayer contributions — and their sum against
// the engine's dW. Every evalEvery steps both models' perplexities are
// measured on fixed windows of the training and the validation split.
package tiedembed

import (
	"embed"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/paramshare/paramshare/engine"
	"github.com/paramshare/paramshare/engine/data"
	"github.com/paramshare/paramshare/lab"
	"github.com/paramshare/paramshare/run"
)

// Name is the experiment's name in the registry, the protocol and export
// URLs.
const Name = "tied-embed"

//go:embed widget
var widget embed.FS

func init() {
	run.Register(run.Spec{
		Name:   Name,
		Widget: run.Sub(widget, "widget"),
		Title:  run.Text{En: "Tied embeddings", Zh: "绑定的词嵌入"},
		Fields: fields(),
		Check:  check,
		New:    func(v run.Values) (run.Experiment, error) { return newRace(v) },
		Exports: []run.Export{
			{Format: "png", Heavy: true, Write: writeFigure("png")},
			{Format: "svg", Heavy: true, Write: writeFigure("svg")},
			{Format: "json", Heavy: true, Write: writeJSON},
			{Format: "trace.json", Heavy: true, Write: writeTrace},
		},
		// Measured by the conformance test at d 48, batch 16: 29.0 MB held
		// by a run, +15 % (README.md, docs/perf.md).
		Budget:    run.Budget{Step: 150 * time.Millisecond, Memory: 33_500_000, FrameBytes: 12 << 10, StaticBytes: 4 << 10},
		Costliest: map[string]any{"d": maxD, "batch": maxBatch, "steps": maxSteps},
	})
}

// Limits and schedule.
const (
	minSteps = 50
	// maxSteps bounds a heavy export's replay, which runs in the server's
	// one heavy slot: at the costliest values (d 48, batch 16, ≈ 16 ms of
	// CPU a step, 20 ms under load) the full replay is 29–37 s of CPU.
	maxSteps = 1800
	// maxD and maxBatch keep a run's heap under 30 MB (the [batch·16, V]
	// logits, probabilities and their gradients of two models dominate it;
	// d 64 would take 35 MB), so a classroom behind one address stays well
	// inside the server's per-address cap.
	maxD     = 48
	maxBatch = 16
	maxSeed  = 1_000_000
	// EvalWindows is how many fixed windows of lab.TiedT words each
	// perplexity is measured on, per split.
	EvalWindows = 64
	evalCount   = 30
	curvePoints = 150
)

func fields() []run.Field {
	d := lab.DefaultTiedConfig()
	return []run.Field{
		{Name: "d", Kind: run.Int, Default: d.D, Min: lab.MinTiedD, Max: maxD,
			Desc: run.Text{En: "embedding size d (even): the tied matrix is V×d", Zh: "嵌入维数 d（偶数）：绑定的矩阵是 V×d"}},
		{Name: "batch", Kind: run.Int, Default: d.Batch, Min: 1, Max: maxBatch,
			Desc: run.Text{En: "windows of 16 words per step (the same for both models)", Zh: "每步的窗口数，每个窗口 16 个词（两个模型相同）"}},
		{Name: "lr", Kind: run.Number, Default: d.LR, Min: 1e-4, Max: lab.MaxTiedLR,
			Desc: run.Text{En: "Adam learning rate of both models", Zh: "两个模型共用的 Adam 学习率"}},
		{Name: "steps", Kind: run.Int, Default: lab.DefaultTiedSteps, Min: minSteps, Max: maxSteps,
			Desc: run.Text{En: "training steps of the race", Zh: "比赛的训练步数"}},
		{Name: "seed", Kind: run.Int, Default: int(d.Seed), Min: 0, Max: maxSeed,
			Desc: run.Text{En: "seed of the initial weights and of the batches", Zh: "初始权重和批次的随机种子"}},
	}
}

// check refuses an odd d: the block's two heads split d in halves.
func check(v run.Values) error {
	if d := v.Int("d"); d%2 != 0 {
		return run.CheckError("d", d, "d must be even (two attention heads of d/2)", "d 必须是偶数（两个注意力头，各 d/2）")
	}
	return nil
}

// Config is the lab configuration of the race with values v.
func Config(v run.Values) lab.TiedConfig {
	return lab.TiedConfig{D: v.Int("d"), Batch: v.Int("batch"), LR: v.Float("lr"), Seed: uint64(v.Int("seed"))}
}

// EvalEvery is the steps between two perplexity measurements (about
// evalCount per run, at least 10 apart); the last step is measured too.
func EvalEvery(total int) int { return max(10, (total+evalCount-1)/evalCount) }

func evaluates(step, total int) bool {
	return step == 0 || step == total || step%EvalEvery(total) == 0
}

// Bands are the frequency-rank bands the ledger's row norms are averaged
// over: ranks [lo, hi) of the training split's word counts.
var Bands = [][2]int{{0, 10}, {10, 30}, {30, 100}, {100, 300}, {300, 0}} // 0: to the end

// SampleRanks are the frequency ranks of the words whose rows the ledger
// shows one by one.
var SampleRanks = []int{0, 20, 200, 900}

// corpusInfo is what the frames say of the shared corpus, computed once.
type corpusInfo struct {
	ranks  []int // word ids by decreasing frequency
	sample string
}

var info = sync.OnceValue(func() corpusInfo {
	c := data.WordCorpus()
	s := ""
	for i, k := range c.Train[:40] {
		if i > 0 && c.Words[k] != "." {
			s += " "
		}
		s += c.Words[k]
	}
	return corpusInfo{ranks: c.Ranks(), sample: s}
})

// race is the experiment; only the run's worker touches it.
type race struct {
	v      run.Values
	r      *lab.TiedRace
	counts [2]engine.Count
	rev    int

	pos  int
	loss [2][]float64 // [model][step−1] batch loss
	// before is the tied model's parameters (Model.Params order) before
	// the last step's update: the weights the ledger's gradient was
	// computed with, for the trace export. Nil at step 0.
	before   [][]float64
	evals    []evaluation
	diverged *run.Error
}

// evaluation is both models' perplexities at Step (TiedModels order).
type evaluation struct {
	Step  int        `json:"step"`
	Train [2]float64 `json:"train"`
	Valid [2]float64 `json:"valid"`
}

var _ run.Experiment = (*race)(nil)

func newRace(v run.Values) (*race, error) {
	r := &race{}
	if err := r.load(v); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *race) load(v run.Values) error {
	tr, err := lab.NewTiedRace(Config(v))
	if err != nil {
		return fmt.Errorf("tiedembed: %w", err)
	}
	n := &race{v: v, r: tr, rev: r.rev + 1}
	for i, m := range lab.TiedModels() {
		n.counts[i] = tr.Model(m).Model.Count()
	}
	n.clear()
	*r = *n
	return nil
}

func (r *race) clear() {
	r.pos, r.diverged, r.before = 0, nil, nil
	r.loss = [2][]float64{}
	r.evals = nil
	r.evaluate()
}

// Total is the run's length in steps.
func (r *race) Total() int { return r.v.Int("steps") }

// Pos is the number of race steps taken.
func (r *race) Pos() int { return r.pos }

// Restart puts both models back at step 0.
func (r *race) Restart() error {
	if err := r.r.Reset(); err != nil {
		return fmt.Errorf("tiedembed: %w", err)
	}
	r.clear()
	return nil
}

// SetParams starts a new race for v (every field changes the training;
// steps only its length, but the schedule of evaluations with it).
func (r *race) SetParams(v run.Values) error {
	if v.Equal(r.v) {
		return nil
	}
	return r.load(v)
}

// Advance trains both models on the step's batch, then measures the
// perplexities when the schedule says so.
func (r *race) Advance() error {
	if r.pos >= r.Total() {
		return fmt.Errorf("tiedembed: the budget of %d steps is spent", r.Total())
	}
	if r.diverged != nil {
		return run.DivergedError(r.diverged)
	}
	r.keepBefore()
	losses, err := r.r.Step()
	if errors.Is(err, engine.ErrDiverged) {
		r.pos++
		r.diverged = run.NewError(run.CodeStepFailed,
			fmt.Sprintf("a model diverged at step %d (its loss or gradient is not a finite number) — lower the learning rate", r.pos),
			fmt.Sprintf("一个模型在第 %d 步发散（损失或梯度不是有限数）——请降低学习率", r.pos))
		return run.DivergedError(r.diverged)
	}
	if err != nil {
		return fmt.Errorf("tiedembed: %w", err)
	}
	r.pos++
	for i, l := range losses {
		r.loss[i] = append(r.loss[i], l)
	}
	if evaluates(r.pos, r.Total()) {
		r.evaluate()
	}
	return nil
}

// keepBefore copies the tied model's parameters into before, reusing its
// buffers.
func (r *race) keepBefore() {
	ps := r.r.Model(lab.Tied).Model.Params()
	if len(r.before) != len(ps) {
		r.before = make([][]float64, len(ps))
	}
	for i, p := range ps {
		r.before[i] = append(r.before[i][:0], p.Value.Data...)
	}
}

func (r *race) evaluate() {
	c := r.r.Corpus()
	r.evals = append(r.evals, evaluation{Step: r.pos, Train: r.r.Perplexity(c.Train, EvalWindows), Valid: r.r.Perplexity(c.Valid, EvalWindows)})
}
