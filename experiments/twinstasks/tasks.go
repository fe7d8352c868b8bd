package twinstasks

import (
	"errors"
	"fmt"
	"time"

	"github.com/paramshare/paramshare/engine"
	"github.com/paramshare/paramshare/lab"
	"github.com/paramshare/paramshare/run"
	"github.com/paramshare/paramshare/viz"
)

// TasksName is the multi-task race's name in the registry.
const TasksName = "multitask-trunk"

func init() {
	run.Register(run.Spec{
		Name:   TasksName,
		Widget: run.Sub(widget, "widget/tasks"),
		Title:  run.Text{En: "One trunk, two tasks", Zh: "一个主干，两个任务"},
		Fields: fields(run.Text{En: "digits per step (the same digits for the shared model and the two separate ones)", Zh: "每步的数字个数（共享模型和两个独立模型用同样的数字）"}),
		New:    func(v run.Values) (run.Experiment, error) { return newTasks(v) },
		Exports: []run.Export{
			{Format: "png", Heavy: true, Write: writeTasksFigure("png")},
			{Format: "svg", Heavy: true, Write: writeTasksFigure("svg")},
			{Format: "json", Heavy: true, Write: writeTasksJSON},
			{Format: "trace.json", Heavy: true, Write: writeTasksTrace},
		},
		// At batch 16 (the most) the conformance test measured a mean step of
		// 7.2 ms CPU, the slowest 11 ms, and 27.3 MB held: three CNNs' layer
		// buffers, about 9 MB each (docs/perf.md).
		Budget:    run.Budget{Step: 40 * time.Millisecond, Memory: 32_000_000, FrameBytes: 10 << 10, StaticBytes: 2 << 10},
		Costliest: map[string]any{"batch": maxBatch, "steps": maxSteps},
	})
}

// tasks is the multi-task race; only the run's worker touches it.
type tasks struct {
	v      run.Values
	tr     *lab.TasksTrainer
	rev    int
	counts taskCounts

	pos      int
	loss     [4][]float64 // shared digit, shared parity, separate digit, separate parity
	cos      []float64    // cosine between the tasks' trunk gradients per step
	evals    []tasksEval
	ledger   []ledgerRow
	kern     *kernels
	diverged *run.Error
	before   weights // the model's weights before the last step's update, for the trace
}

// taskCounts are the engine's parameter counts.
type taskCounts struct {
	Shared   int `json:"shared"`   // the multi-task model
	Trunk    int `json:"trunk"`    // its trunk (conv1, conv2)
	Heads    int `json:"heads"`    // its two heads
	Separate int `json:"separate"` // the two separate CNNs together
}

type tasksEval struct {
	Step int        `json:"step"`
	Acc  [4]float64 `json:"acc"` // test accuracy, in loss order
}

var _ run.Experiment = (*tasks)(nil)

func newTasks(v run.Values) (*tasks, error) {
	t := &tasks{}
	if err := t.load(v); err != nil {
		return nil, err
	}
	return t, nil
}

func (t *tasks) load(v run.Values) error {
	tr, err := lab.NewTasksTrainer(config(v))
	if err != nil { // the fields bound every value: a bug
		return fmt.Errorf("twinstasks: %w", err)
	}
	n := &tasks{v: v, tr: tr, rev: t.rev + 1}
	n.counts.Shared = tr.Shared().Count().Params
	for _, p := range tr.Trunk() {
		n.counts.Trunk += p.Size()
	}
	n.counts.Heads = n.counts.Shared - n.counts.Trunk
	n.counts.Separate = tr.Separate()[0].Count().Params + tr.Separate()[1].Count().Params
	n.clear()
	*t = *n
	return nil
}

func (t *tasks) clear() {
	t.pos, t.diverged, t.before = 0, nil, nil
	t.loss, t.cos, t.evals, t.ledger, t.kern = [4][]float64{}, nil, nil, nil, nil
	t.evals = append(t.evals, tasksEval{Step: 0, Acc: t.tr.Evaluate()})
}

func (t *tasks) Total() int { return t.v.Int("steps") }
func (t *tasks) Pos() int   { return t.pos }

func (t *tasks) Restart() error {
	if err := t.tr.Reset(); err != nil {
		return fmt.Errorf("twinstasks: %w", err)
	}
	t.clear()
	return nil
}

func (t *tasks) SetParams(v run.Values) error {
	if v.Equal(t.v) {
		return nil
	}
	return t.load(v)
}

// trunkNames are the trunk Params as the page names them.
var trunkNames = []string{"conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias"}

// Advance trains the three models on one batch and keeps the ledger of
// the shared trunk: each task's part of its gradient.
func (t *tasks) Advance() error {
	if t.pos >= t.Total() {
		return fmt.Errorf("twinstasks: the budget of %d steps is spent", t.Total())
	}
	if t.diverged != nil {
		return run.DivergedError(t.diverged)
	}
	t.before.keep(t.tr.Shared().Params())
	st, err := t.tr.Step()
	t.pos++
	if errors.Is(err, engine.ErrDiverged) {
		t.diverged = diverged(t.pos)
		return run.DivergedError(t.diverged)
	}
	if err != nil {
		return fmt.Errorf("twinstasks: %w", err)
	}
	for k := range t.loss {
		t.loss[k] = append(t.loss[k], st.Loss[k])
	}
	t.cos = append(t.cos, st.Cos)
	t.ledger = t.ledger[:0:0]
	for i, p := range t.tr.Trunk() {
		t.ledger = append(t.ledger, newLedgerRow(trunkNames[i], p, st.Trunk[0][i], st.Trunk[1][i]))
		if i == 0 {
			t.kern = newKernels(trunkNames[i], p, st.Trunk[0][i], st.Trunk[1][i], 3)
		}
	}
	if evaluates(t.pos, t.Total()) {
		t.evals = append(t.evals, tasksEval{Step: t.pos, Acc: t.tr.Evaluate()})
	}
	return nil
}

type tasksStatic struct {
	Params    run.Values `json:"params"`
	Total     int        `json:"total"`
	EvalEvery int        `json:"evalEvery"`
	EvalSize  int        `json:"evalSize"`
	Counts    taskCounts `json:"counts"`
}

type tasksData struct {
	Step     int              `json:"step"`
	Total    int              `json:"total"`
	Loss     [4]*float64      `json:"loss"`
	CosNow   *float64         `json:"cosNow"`
	Every    int              `json:"every"`
	Curves   [4]viz.Quantized `json:"curves"`
	Cos      viz.Quantized    `json:"cos"`
	Evals    []tasksEval      `json:"evals"`
	Ledger   []ledgerRow      `json:"ledger"`
	Kernels  *kernels         `json:"kernels"`
	Diverged *run.Text        `json:"diverged,omitempty"`
}

func (t *tasks) static() tasksStatic {
	return tasksStatic{Params: t.v, Total: t.Total(), EvalEvery: evalEvery, EvalSize: lab.TasksEvalSize, Counts: t.counts}
}

func (t *tasks) Frame() run.Frame {
	d := tasksData{Step: t.pos, Total: t.Total(), Every: curveEvery(t.pos), Evals: append([]tasksEval(nil), t.evals...), Kernels: t.kern}
	for k := range t.loss {
		if n := len(t.loss[k]); n > 0 {
			l := viz.Sig(t.loss[k][n-1], 4)
			d.Loss[k] = &l
		}
		d.Curves[k] = curve(t.loss[k])
	}
	if n := len(t.cos); n > 0 {
		c := viz.Sig(t.cos[n-1], 4)
		d.CosNow = &c
	}
	d.Cos = curve(t.cos)
	for _, r := range t.ledger {
		d.Ledger = append(d.Ledger, r.rounded())
	}
	if t.diverged != nil {
		d.Diverged = &t.diverged.Text
	}
	return run.Frame{StaticRev: t.rev, Static: t.static(), Data: d}
}
