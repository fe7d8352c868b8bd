// Package albertshare is the albert-share experiment of lesson 14, "Share
// across layers" (ALBERT, Lan et al. 2019): four stacks of N transformer
// blocks — every block holding one set of weights, only the attention
// shared, only the feed-forward part shared, nothing shared — trained side
// by side by lab.AlbertTrainers on the same sequences with the same
// optimizer.
//
// Every step trains each model on one fresh batch, then probes it on a
// fixed batch (lab's Measure): each block's part of every shared gradient
// (the engine's UseLayer contributions, which sum to the one dW), one bias
// vector's ledger block by block, and the L2 distance and angle between
// each block's input and output (ALBERT's Figure 1). Every evalEvery steps
// the race scores the four on the same fixed sequences. Parameter counts
// are the engine's (Model.Count) beside the count by hand.
//
// Frames hold no wall-clock time: a frame must be the same byte for byte
// when a step is replayed. The forward and backward multiply-adds (the
// engine's Count.Uses, the same in every mode) are in the frame; the
// measured time per step is `lab albert-modes`'s.
package albertshare

import (
	"embed"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/paramshare/paramshare/engine"
	"github.com/paramshare/paramshare/lab"
	"github.com/paramshare/paramshare/run"
)

// Name is the experiment's name in the registry, the protocol and export
// URLs.
const Name = "albert-share"

//go:embed widget
var widget embed.FS

func init() {
	run.Register(run.Spec{
		Name:   Name,
		Widget: run.Sub(widget, "widget"),
		Title:  run.Text{En: "Share across layers", Zh: "跨层共享"},
		Fields: fields(),
		New:    func(v run.Values) (run.Experiment, error) { return newRace(v) },
		Exports: []run.Export{
			{Format: "png", Heavy: true, Write: writeFigure("png")},
			{Format: "svg", Heavy: true, Write: writeFigure("svg")},
			{Format: "json", Heavy: true, Write: writeJSON},
			{Format: "trace.json", Heavy: true, Write: writeTrace},
		},
		// At 6 blocks of d = 32, batch 16 (see README.md for the measured
		// figures; a step is ≈ 30 ms of CPU there). The memory is the four models' activation buffers: each
		// of the 24 blocks keeps its own forward and backward buffers,
		// shared weights or not — 27.4 MB measured, budget that + 15 %,
		// well inside the server's 256 MB per address. d = 64 (62 MB) is
		// not offered for that reason.
		Budget:    run.Budget{Step: 100 * time.Millisecond, Memory: 31_500_000, FrameBytes: 16 << 10, StaticBytes: 3 << 10},
		Costliest: map[string]any{"blocks": lab.MaxAlbertBlocks, "d": "32", "steps": maxSteps},
	})
}

// Modes are the race's sharing modes, in the order frames list them.
func Modes() []string { return lab.AlbertShares() }

// Limits and schedule.
const (
	minSteps = 50
	// maxSteps bounds a heavy export's replay: at 6 blocks of d = 32 a
	// race step costs ≈ 29 ms of CPU, so 800 steps replay in ≈ 23 s,
	// inside the ≈ 40 s a download may hold the server's one heavy slot.
	maxSteps    = 800
	maxSeed     = 1_000_000
	evalCount   = 20
	curvePoints = 150
	// smoothing is the β of the moving average of the batch accuracy
	// (bias-corrected as Adam's moments are).
	smoothing = 0.9
)

func fields() []run.Field {
	d := lab.DefaultAlbertConfig("all")
	return []run.Field{
		{Name: "task", Kind: run.Choice, Default: d.Task, Choices: lab.AlbertTasks(),
			Desc: run.Text{En: "reverse the 8 tokens, or copy them", Zh: "把 8 个词元倒过来，或原样复制"}},
		{Name: "blocks", Kind: run.Int, Default: d.Blocks, Min: lab.MinAlbertBlocks, Max: lab.MaxAlbertBlocks,
			Desc: run.Text{En: "transformer blocks N in each of the four stacks", Zh: "四个模型各自的 Transformer 块数 N"}},
		{Name: "d", Kind: run.Choice, Default: strconv.Itoa(d.D), Choices: []string{"16", "32"},
			Desc: run.Text{En: "model width d (heads of 8 features, feed-forward 2d)", Zh: "模型宽度 d（每个头 8 维，前馈层 2d）"}},
		{Name: "lr", Kind: run.Number, Default: d.LR, Min: 1e-4, Max: 0.03,
			Desc: run.Text{En: "Adam's learning rate, the same for the four", Zh: "Adam 学习率，四个模型相同"}},
		{Name: "steps", Kind: run.Int, Default: 400, Min: minSteps, Max: maxSteps,
			Desc: run.Text{En: "training steps of the race", Zh: "比赛的训练步数"}},
		{Name: "seed", Kind: run.Int, Default: int(d.Seed), Min: 0, Max: maxSeed,
			Desc: run.Text{En: "seed of the initial weights and of the sequences", Zh: "初始权重和序列的随机种子"}},
	}
}

// Config is the lab configuration of share in the race with values v.
func Config(v run.Values, share string) lab.AlbertConfig {
	c := lab.DefaultAlbertConfig(share)
	d, _ := strconv.Atoi(v.String("d")) // one of the field's choices
	c.Task, c.Blocks, c.D, c.LR, c.Seed = v.String("task"), v.Int("blocks"), d, v.Float("lr"), uint64(v.Int("seed"))
	return c
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
	trainers []*lab.AlbertTrainer
	counts   []engine.Count
	rev      int

	pos    int
	loss   [][]float64 // [mode][step−1] batch loss
	smooth [][]float64 // [mode][step−1] smoothed batch accuracy
	ema    []float64
	evals  []evaluation
	probes []lab.AlbertProbe // the latest probe of each mode
	// diverged is the first divergence's text; the race refuses steps
	// after it until Restart or new parameters.
	diverged *run.Error
}

// evaluation is the four models scored on the fixed sequences at Step.
type evaluation struct {
	Step int       `json:"step"`
	Loss []float64 `json:"loss"` // Modes order
	Acc  []float64 `json:"acc"`
}

var _ run.Experiment = (*race)(nil)

func newRace(v run.Values) (*race, error) {
	r := &race{}
	if err := r.load(v); err != nil {
		return nil, err
	}
	return r, nil
}

// load builds fresh trainers for v (step 0, evaluated and probed) and only
// then replaces r's race, so an error leaves r as it was.
func (r *race) load(v run.Values) error {
	n := &race{v: v, rev: r.rev + 1}
	for _, m := range Modes() {
		tr, err := lab.NewAlbertTrainer(Config(v, m))
		if err != nil { // the fields bound every value: a bug
			return fmt.Errorf("albertshare: %w", err)
		}
		n.trainers, n.counts = append(n.trainers, tr), append(n.counts, tr.Model().Count())
	}
	if err := n.clear(); err != nil {
		return err
	}
	*r = *n
	return nil
}

// clear empties the histories and measures step 0.
func (r *race) clear() error {
	n := len(Modes())
	r.pos, r.diverged = 0, nil
	r.loss, r.smooth, r.ema = make([][]float64, n), make([][]float64, n), make([]float64, n)
	r.evals = nil
	r.evaluate()
	return r.probe()
}

// Total is the run's length in steps.
func (r *race) Total() int { return r.v.Int("steps") }

// Pos is the number of race steps taken.
func (r *race) Pos() int { return r.pos }

// Restart puts the four trainers back at step 0.
func (r *race) Restart() error {
	for _, tr := range r.trainers {
		if err := tr.Reset(); err != nil {
			return fmt.Errorf("albertshare: %w", err)
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
// the four), probes the four, and evaluates when the schedule says so.
func (r *race) Advance() error {
	if r.pos >= r.Total() {
		return fmt.Errorf("albertshare: the budget of %d steps is spent", r.Total())
	}
	if r.diverged != nil {
		return run.DivergedError(r.diverged)
	}
	results := make([]lab.AlbertStep, len(r.trainers))
	for i, tr := range r.trainers {
		res, err := tr.Step()
		if errors.Is(err, engine.ErrDiverged) {
			m := ModeName(Modes()[i])
			r.diverged = run.NewError(run.CodeStepFailed,
				fmt.Sprintf("%s diverged at step %d (its loss or gradient is not a finite number) — lower the learning rate", m.En, res.Step),
				fmt.Sprintf("%s 在第 %d 步发散（损失或梯度不是有限数）——请降低学习率", m.Zh, res.Step))
			r.pos++
			return run.DivergedError(r.diverged)
		}
		if err != nil {
			return fmt.Errorf("albertshare: %w", err)
		}
		results[i] = res
	}
	r.pos++
	for i, res := range results {
		r.loss[i] = append(r.loss[i], res.Loss)
		r.ema[i] = smoothing*r.ema[i] + (1-smoothing)*res.Acc
		r.smooth[i] = append(r.smooth[i], r.ema[i]/(1-math.Pow(smoothing, float64(r.pos))))
	}
	if evaluates(r.pos, r.Total()) {
		r.evaluate()
	}
	return r.probe()
}

// evaluate scores the four models on the fixed sequences.
func (r *race) evaluate() {
	e := evaluation{Step: r.pos}
	for _, tr := range r.trainers {
		l, a := tr.Evaluate()
		e.Loss, e.Acc = append(e.Loss, l), append(e.Acc, a)
	}
	r.evals = append(r.evals, e)
}

// probe measures the four models on the probe batch.
func (r *race) probe() error {
	probes := make([]lab.AlbertProbe, len(r.trainers))
	for i, tr := range r.trainers {
		p, err := tr.Measure()
		if err != nil {
			return fmt.Errorf("albertshare: %w", err)
		}
		probes[i] = p
	}
	r.probes = probes
	return nil
}

// ModeName is a mode as the page names it.
func ModeName(share string) run.Text {
	switch share {
	case string(engine.ShareAll):
		return run.Text{En: "all shared", Zh: "全部共享"}
	case string(engine.ShareAttention):
		return run.Text{En: "attention shared", Zh: "只共享注意力"}
	case string(engine.ShareFFN):
		return run.Text{En: "feed-forward shared", Zh: "只共享前馈层"}
	}
	return run.Text{En: "nothing shared", Zh: "不共享"}
}
