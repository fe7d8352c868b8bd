package attnlearn

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
const Name = "attention-learn"

//go:embed widget
var widget embed.FS

func init() {
	run.Register(run.Spec{
		Name:   Name,
		Widget: run.Sub(widget, "widget"),
		Title:  run.Text{En: "Watch attention learn", Zh: "看注意力如何学会"},
		Fields: fields(),
		New:    func(v run.Values) (run.Experiment, error) { return newLearn(v) },
		Exports: []run.Export{
			{Format: "png", Heavy: true, Write: writeFigure("png")},
			{Format: "svg", Heavy: true, Write: writeFigure("svg")},
			{Format: "json", Heavy: true, Write: writeJSON},
			{Format: "trace.json", Heavy: true, Write: writeTrace},
		},
		// Measured at 2 blocks of 4 heads with learned positions (README.md,
		// docs/perf.md).
		Budget:    run.Budget{Step: 12 * time.Millisecond, Memory: 4_000_000, FrameBytes: 8 << 10, StaticBytes: 2 << 10},
		Costliest: map[string]any{"blocks": lab.MaxAttnBlocks, "heads": lab.MaxAttnHeads, "positions": engine.PositionsLearned, "steps": maxSteps},
	})
}

// Limits and schedule.
const (
	minSteps = 50
	maxSteps = 1000
	maxSeed  = 1_000_000
	// EvalSize is how many fixed sequences each length is scored on (the
	// same for every seed and setting of one task).
	EvalSize = 128
	// EvalEvery is the steps between two evaluations; step 0 and the last
	// are evaluated too.
	EvalEvery   = 25
	curvePoints = 200
)

// Lengths are the test lengths: the training length first, then longer
// ones. The model is built for the longest (its max_len) and trained only
// on the first.
var Lengths = []int{8, 12, 16}

func fields() []run.Field {
	d := lab.DefaultAttnTrainConfig(lab.TaskReverse)
	return []run.Field{
		{Name: "task", Kind: run.Choice, Default: lab.TaskReverse, Choices: lab.AttnTasks(),
			Desc: run.Text{En: "output the sequence as it is (copy), backwards (reverse) or in ascending order (sort)", Zh: "原样输出序列（复制）、倒序输出（反转）或按升序输出（排序）"}},
		{Name: "positions", Kind: run.Choice, Default: engine.PositionsSinusoidal, Choices: lab.AttnPositions(),
			Desc: run.Text{En: "positional encoding added to the token embeddings: fixed sines and cosines, a learned table, or none", Zh: "加到词嵌入上的位置编码：固定的正弦余弦、可学习的表，或不加"}},
		{Name: "blocks", Kind: run.Int, Default: d.Blocks, Min: 1, Max: lab.MaxAttnBlocks,
			Desc: run.Text{En: "transformer blocks (each with its own attention)", Zh: "Transformer 块数（每块有自己的注意力）"}},
		{Name: "heads", Kind: run.Int, Default: d.Heads, Min: 1, Max: lab.MaxAttnHeads,
			Desc: run.Text{En: "attention heads per block (d = 24 is split among them)", Zh: "每块的注意力头数（d = 24 平分给各头）"}},
		{Name: "lr", Kind: run.Number, Default: d.LR, Min: 1e-4, Max: 0.1,
			Desc: run.Text{En: "Adam's learning rate", Zh: "Adam 的学习率"}},
		{Name: "steps", Kind: run.Int, Default: 300, Min: minSteps, Max: maxSteps,
			Desc: run.Text{En: "training steps", Zh: "训练步数"}},
		{Name: "seed", Kind: run.Int, Default: int(d.Seed), Min: 0, Max: maxSeed,
			Desc: run.Text{En: "seed of the initial weights and of the training sequences", Zh: "初始权重和训练序列的随机种子"}},
	}
}

// Config is the lab configuration of the run with values v: the lesson's
// model (lab.DefaultAttnTrainConfig) with the fields' values, built for the
// longest test length.
func Config(v run.Values) lab.AttnTrainConfig {
	c := lab.DefaultAttnTrainConfig(v.String("task"))
	c.Positions, c.Blocks, c.Heads, c.LR, c.Seed = v.String("positions"), v.Int("blocks"), v.Int("heads"), v.Float("lr"), uint64(v.Int("seed"))
	c.Len, c.MaxLen = Lengths[0], Lengths[len(Lengths)-1]
	return c
}

// Probe returns the fixed probe sequence of task [1, 8] and its target:
// the first of the evaluation sequences of the training length.
func Probe(task string) (x, y *engine.Tensor) {
	d := lab.DefaultAttnTrainConfig(task)
	return lab.AttnEvalSet(task, 1, Lengths[0], d.Vocab)
}

func evaluates(step, total int) bool { return step == 0 || step == total || step%EvalEvery == 0 }

// learn is the experiment; only the run's worker touches it.
type learn struct {
	v      run.Values
	cfg    lab.AttnTrainConfig
	tr     *lab.AttnTrainer
	params int
	rev    int
	probeX *engine.Tensor
	probeY *engine.Tensor
	evalX  []*engine.Tensor // per Lengths
	evalY  []*engine.Tensor

	pos   int
	loss  []float64 // [step−1] batch loss
	acc   []float64 // [step−1] batch per-token accuracy
	evals []evaluation
	maps  [][][]float64 // [block][head] L×L on the probe, at pos
	pred  []int
	// diverged is the divergence's text; Advance refuses steps after it
	// until Restart or new parameters.
	diverged *run.Error
}

// evaluation is the model scored on the fixed sequences of every length.
type evaluation struct {
	Step     int       `json:"step"`
	Loss     []float64 `json:"loss"`     // per Lengths
	Accuracy []float64 `json:"accuracy"` // per-token, per Lengths
}

var _ run.Experiment = (*learn)(nil)

func newLearn(v run.Values) (*learn, error) {
	l := &learn{}
	if err := l.load(v); err != nil {
		return nil, err
	}
	return l, nil
}

// load builds a fresh trainer for v at step 0 and only then replaces l's
// state, so an error leaves l as it was.
func (l *learn) load(v run.Values) error {
	cfg := Config(v)
	tr, err := lab.NewAttnTrainer(cfg)
	if err != nil { // the fields bound every value: a bug
		return fmt.Errorf("attnlearn: %w", err)
	}
	n := &learn{v: v, cfg: cfg, tr: tr, params: tr.Model().Count().Params, rev: l.rev + 1}
	n.probeX, n.probeY = Probe(cfg.Task)
	for _, L := range Lengths {
		x, y := lab.AttnEvalSet(cfg.Task, EvalSize, L, cfg.Vocab)
		n.evalX, n.evalY = append(n.evalX, x), append(n.evalY, y)
	}
	n.clear()
	*l = *n
	return nil
}

// clear empties the histories and measures step 0.
func (l *learn) clear() {
	l.pos, l.diverged = 0, nil
	l.loss, l.acc, l.evals = nil, nil, nil
	l.evaluate()
	l.look()
}

// Total is the run's length in steps; Pos the steps taken.
func (l *learn) Total() int { return l.v.Int("steps") }
func (l *learn) Pos() int   { return l.pos }

// Restart puts the model back at step 0.
func (l *learn) Restart() error {
	if err := l.tr.Reset(); err != nil {
		return fmt.Errorf("attnlearn: %w", err)
	}
	l.clear()
	return nil
}

// SetParams starts again for v (every field changes the training or its
// schedule of evaluations).
func (l *learn) SetParams(v run.Values) error {
	if v.Equal(l.v) {
		return nil
	}
	return l.load(v)
}

// Advance trains on the step's batch, looks at the probe's attention maps
// and, every EvalEvery steps and at the last, scores the model at every
// test length.
func (l *learn) Advance() error {
	if l.pos >= l.Total() {
		return fmt.Errorf("attnlearn: the budget of %d steps is spent", l.Total())
	}
	if l.diverged != nil {
		return run.DivergedError(l.diverged)
	}
	res, err := l.tr.Step()
	if errors.Is(err, engine.ErrDiverged) {
		l.diverged = run.NewError(run.CodeStepFailed,
			fmt.Sprintf("the model diverged at step %d (its loss or gradient is not a finite number) — lower the learning rate", res.Step),
			fmt.Sprintf("模型在第 %d 步发散（损失或梯度不是有限数）——请降低学习率", res.Step))
		l.pos++
		l.loss, l.acc = append(l.loss, math.NaN()), append(l.acc, math.NaN())
		return run.DivergedError(l.diverged)
	}
	if err != nil {
		return fmt.Errorf("attnlearn: %w", err)
	}
	l.pos++
	l.loss, l.acc = append(l.loss, res.Loss), append(l.acc, res.Accuracy)
	if evaluates(l.pos, l.Total()) {
		l.evaluate()
	}
	l.look()
	return nil
}

// evaluate scores the model on the fixed sequences of every length.
func (l *learn) evaluate() {
	e := evaluation{Step: l.pos}
	for i := range Lengths {
		loss, acc := l.tr.Evaluate(l.evalX[i], l.evalY[i])
		e.Loss, e.Accuracy = append(e.Loss, loss), append(e.Accuracy, acc)
	}
	l.evals = append(l.evals, e)
}

// look records the attention maps and the predictions on the probe.
func (l *learn) look() {
	l.maps, l.pred = l.tr.Maps(l.probeX)
}

// mass returns every map's PatternMass on the probe, [block][head].
func (l *learn) mass() [][]float64 {
	out := make([][]float64, len(l.maps))
	for b, bm := range l.maps {
		for _, m := range bm {
			out[b] = append(out[b], lab.PatternMass(l.cfg.Task, l.probeX.Data, m))
		}
	}
	return out
}

// sources is, for each output position of the probe, the input position
// its answer comes from.
func (l *learn) sources() []int { return lab.Target(l.cfg.Task, l.probeX.Data) }

func tokens(t *engine.Tensor) []int {
	out := make([]int, len(t.Data))
	for i, v := range t.Data {
		out[i] = int(v)
	}
	return out
}

// chance is the per-token accuracy of a model that guesses uniformly.
func (l *learn) chance() float64 { return 1 / float64(l.cfg.Vocab) }

// baselineLoss is that model's loss, ln vocab.
func (l *learn) baselineLoss() float64 { return math.Log(float64(l.cfg.Vocab)) }

// lastEval is the latest evaluation (there is always step 0's).
func (l *learn) lastEval() evaluation { return l.evals[len(l.evals)-1] }
