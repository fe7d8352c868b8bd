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

// TwinsName is the siamese race's name in the registry.
const TwinsName = "siamese-twins"

func init() {
	run.Register(run.Spec{
		Name:   TwinsName,
		Widget: run.Sub(widget, "widget/twins"),
		Title:  run.Text{En: "Siamese twins and two towers", Zh: "孪生网络与两座塔"},
		Fields: fields(run.Text{En: "pairs per step, half of the same digit (the same pairs for both models)", Zh: "每步的数字对数，一半是同一个数字（两个模型用同样的数字对）"}),
		New:    func(v run.Values) (run.Experiment, error) { return newTwins(v) },
		Exports: []run.Export{
			{Format: "png", Heavy: true, Write: writeTwinsFigure("png")},
			{Format: "svg", Heavy: true, Write: writeTwinsFigure("svg")},
			{Format: "json", Heavy: true, Write: writeTwinsJSON},
			{Format: "trace.json", Heavy: true, Write: writeTwinsTrace},
		},
		// At batch 16 (the most) the conformance test measured a mean step of
		// 8.6 ms CPU, the slowest 15.6 ms, and 21.5 MB held: the twins (2B digits
		// a pass) and two towers' layer buffers (docs/perf.md).
		Budget:    run.Budget{Step: 40 * time.Millisecond, Memory: 26_000_000, FrameBytes: 10 << 10, StaticBytes: 2 << 10},
		Costliest: map[string]any{"batch": maxBatch, "steps": maxSteps},
	})
}

// twins is the siamese race; only the run's worker touches it.
type twins struct {
	v      run.Values
	tr     *lab.TwinsTrainer
	rev    int
	counts [2]int // parameters: twins, towers

	pos      int
	loss     [2][]float64 // [model][step−1]
	bcos     []float64    // [step−1] cosine between the two sides' contributions
	evals    []twinsEval
	ledger   []ledgerRow
	kern     *kernels
	diverged *run.Error
	before   weights // the model's weights before the last step's update, for the trace
}

type twinsEval struct {
	Step int        `json:"step"`
	Acc  [2]float64 `json:"acc"` // verification accuracy: twins, towers
}

var _ run.Experiment = (*twins)(nil)

func newTwins(v run.Values) (*twins, error) {
	t := &twins{}
	if err := t.load(v); err != nil {
		return nil, err
	}
	return t, nil
}

func (t *twins) load(v run.Values) error {
	tr, err := lab.NewTwinsTrainer(config(v))
	if err != nil { // the fields bound every value: a bug
		return fmt.Errorf("twinstasks: %w", err)
	}
	n := &twins{v: v, tr: tr, rev: t.rev + 1}
	n.counts[0] = tr.Twins().Count().Params
	n.counts[1] = tr.Towers()[0].Count().Params + tr.Towers()[1].Count().Params
	n.clear()
	*t = *n
	return nil
}

func (t *twins) clear() {
	t.pos, t.diverged, t.before = 0, nil, nil
	t.loss, t.bcos, t.evals, t.ledger, t.kern = [2][]float64{}, nil, nil, nil, nil
	t.evals = append(t.evals, twinsEval{Step: 0, Acc: t.tr.Evaluate()})
}

func (t *twins) Total() int { return t.v.Int("steps") }
func (t *twins) Pos() int   { return t.pos }

func (t *twins) Restart() error {
	if err := t.tr.Reset(); err != nil {
		return fmt.Errorf("twinstasks: %w", err)
	}
	t.clear()
	return nil
}

func (t *twins) SetParams(v run.Values) error {
	if v.Equal(t.v) {
		return nil
	}
	return t.load(v)
}

// Advance trains both models on one batch of fresh pairs and reads the
// twins' ledger from the recorded backward pass.
func (t *twins) Advance() error {
	if t.pos >= t.Total() {
		return fmt.Errorf("twinstasks: the budget of %d steps is spent", t.Total())
	}
	if t.diverged != nil {
		return run.DivergedError(t.diverged)
	}
	t.before.keep(t.tr.Twins().Params())
	st, err := t.tr.Step()
	t.pos++
	if errors.Is(err, engine.ErrDiverged) {
		t.diverged = diverged(t.pos)
		return run.DivergedError(t.diverged)
	}
	if err != nil {
		return fmt.Errorf("twinstasks: %w", err)
	}
	t.loss[0], t.loss[1] = append(t.loss[0], st.Loss[0]), append(t.loss[1], st.Loss[1])
	rec := t.tr.Recorder()
	params := t.tr.Twins().Params()
	t.bcos = append(t.bcos, lab.BranchCosine(rec, params))
	t.ledger = t.ledger[:0:0]
	for i, p := range params {
		u := rec.Uses(p, engine.UseBranch)
		name := u[0].Layer + "." + u[0].Local
		t.ledger = append(t.ledger, newLedgerRow(name, p, u[0].Grad, u[1].Grad))
		if i == 0 {
			t.kern = newKernels(name, p, u[0].Grad, u[1].Grad, 4)
		}
	}
	if evaluates(t.pos, t.Total()) {
		t.evals = append(t.evals, twinsEval{Step: t.pos, Acc: t.tr.Evaluate()})
	}
	return nil
}

// twinsStatic changes only with the parameters.
type twinsStatic struct {
	Params    run.Values `json:"params"`
	Total     int        `json:"total"`
	EvalEvery int        `json:"evalEvery"`
	EvalPairs int        `json:"evalPairs"`
	Margin    float64    `json:"margin"`
	Counts    [2]int     `json:"counts"` // parameters: twins, towers
}

type twinsData struct {
	Step     int              `json:"step"`
	Total    int              `json:"total"`
	Loss     [2]*float64      `json:"loss"` // the last batch (null at step 0)
	Every    int              `json:"every"`
	Curves   [2]viz.Quantized `json:"curves"` // batch loss per step
	Cos      viz.Quantized    `json:"cos"`    // cosine between the sides per step
	Evals    []twinsEval      `json:"evals"`
	Ledger   []ledgerRow      `json:"ledger"`
	Kernels  *kernels         `json:"kernels"`
	Diverged *run.Text        `json:"diverged,omitempty"`
}

func (t *twins) static() twinsStatic {
	return twinsStatic{Params: t.v, Total: t.Total(), EvalEvery: evalEvery, EvalPairs: lab.TwinsEvalPairs, Margin: engine.DefaultSiameseConfig().Margin, Counts: t.counts}
}

func (t *twins) Frame() run.Frame {
	d := twinsData{Step: t.pos, Total: t.Total(), Every: curveEvery(t.pos), Evals: append([]twinsEval(nil), t.evals...), Kernels: t.kern}
	for k := range 2 {
		if n := len(t.loss[k]); n > 0 {
			l := viz.Sig(t.loss[k][n-1], 4)
			d.Loss[k] = &l
		}
		d.Curves[k] = curve(t.loss[k])
	}
	d.Cos = curve(t.bcos)
	for _, r := range t.ledger {
		d.Ledger = append(d.Ledger, r.rounded())
	}
	if t.diverged != nil {
		d.Diverged = &t.diverged.Text
	}
	return run.Frame{StaticRev: t.rev, Static: t.static(), Data: d}
}
