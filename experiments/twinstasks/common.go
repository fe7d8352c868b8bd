package twinstasks

import (
	"embed"
	"fmt"
	"io"
	"math"
	"slices"

	"github.com/paramshare/paramshare/engine"
	"github.com/paramshare/paramshare/lab"
	"github.com/paramshare/paramshare/run"
	"github.com/paramshare/paramshare/viz"
)

//go:embed widget
var widget embed.FS

// Limits and schedule shared by both experiments.
const (
	minBatch    = 4
	maxBatch    = 16 // a run holds its three models' buffers at this batch (docs/perf.md)
	minSteps    = 20
	maxSteps    = 600
	maxSeed     = 1_000_000
	evalEvery   = 20
	curvePoints = 150
)

// fields are the same for both experiments: the lab run's batch, Adam's
// learning rate, the steps of the race and the seed.
func fields(what run.Text) []run.Field {
	d := lab.DefaultTwinsConfig()
	return []run.Field{
		{Name: "batch", Kind: run.Int, Default: d.Batch, Min: minBatch, Max: maxBatch, Desc: what},
		{Name: "lr", Kind: run.Number, Default: d.LR, Min: 1e-4, Max: 0.03,
			Desc: run.Text{En: "Adam's learning rate (the same for the shared model and its control)", Zh: "Adam 的学习率（共享模型与对照组相同）"}},
		{Name: "steps", Kind: run.Int, Default: lab.DefaultTwinsCompareConfig().Steps, Min: minSteps, Max: maxSteps,
			Desc: run.Text{En: "training steps of the race", Zh: "比赛的训练步数"}},
		{Name: "seed", Kind: run.Int, Default: int(d.Seed), Min: 0, Max: maxSeed,
			Desc: run.Text{En: "seed of the initial weights and of the batches", Zh: "初始权重和批次的随机种子"}},
	}
}

// config is the lab configuration of values v.
func config(v run.Values) lab.TwinsConfig {
	c := lab.DefaultTwinsConfig()
	c.Batch, c.LR, c.Seed = v.Int("batch"), v.Float("lr"), uint64(v.Int("seed"))
	return c
}

// evaluates says whether step is scored on the fixed test set.
func evaluates(step, total int) bool { return step%evalEvery == 0 || step == total }

// ledgerRow is one weight's gradient split into its two parts (two sides
// of the pairs, or two tasks) with their sum and the engine's dW, whose
// largest difference from the sum is MaxDiff.
type ledgerRow struct {
	Name    string     `json:"name"`
	Shape   []int      `json:"shape"`
	Part    [2]float64 `json:"part"`    // ‖part k‖
	Sum     float64    `json:"sum"`     // ‖part 0 + part 1‖
	DW      float64    `json:"dW"`      // ‖engine's Grad‖
	Cos     float64    `json:"cos"`     // cosine between the parts
	MaxDiff float64    `json:"maxDiff"` // max |part 0 + part 1 − Grad|
}

// newLedgerRow measures p's two parts against its Grad.
func newLedgerRow(name string, p *engine.Param, a, b *engine.Tensor) ledgerRow {
	sum := engine.NewTensor(p.Grad.Shape...)
	var md float64
	for i := range sum.Data {
		sum.Data[i] = a.Data[i] + b.Data[i]
		md = max(md, math.Abs(sum.Data[i]-p.Grad.Data[i]))
	}
	return ledgerRow{
		Name: name, Shape: slices.Clone(p.Grad.Shape),
		Part: [2]float64{lab.Norm(a), lab.Norm(b)}, Sum: lab.Norm(sum), DW: lab.Norm(p.Grad),
		Cos: lab.Cosine([]*engine.Tensor{a}, []*engine.Tensor{b}), MaxDiff: md,
	}
}

// rounded is r with 4 significant digits (MaxDiff kept as it is: it is
// the check).
func (r ledgerRow) rounded() ledgerRow {
	r.Part = [2]float64{viz.Sig(r.Part[0], 4), viz.Sig(r.Part[1], 4)}
	r.Sum, r.DW, r.Cos = viz.Sig(r.Sum, 4), viz.Sig(r.DW, 4), viz.Sig(r.Cos, 4)
	return r
}

// kernels is one weight's values in full: the two parts and their sum
// (the first convolution's kernels, drawn as the lesson-3 ledger).
type kernels struct {
	Name  string       `json:"name"`
	Shape []int        `json:"shape"`
	Parts [2][]float64 `json:"parts"`
	Sum   []float64    `json:"sum"`
	DW    []float64    `json:"dW"`
}

func newKernels(name string, p *engine.Param, a, b *engine.Tensor, sig int) *kernels {
	k := &kernels{Name: name, Shape: slices.Clone(p.Grad.Shape), DW: viz.SigAll(p.Grad.Data, sig)}
	k.Parts[0], k.Parts[1] = viz.SigAll(a.Data, sig), viz.SigAll(b.Data, sig)
	s := make([]float64, len(a.Data))
	for i := range s {
		s[i] = a.Data[i] + b.Data[i]
	}
	k.Sum = viz.SigAll(s, sig)
	return k
}

// curve is values downsampled to at most curvePoints means and quantized.
func curve(v []float64) viz.Quantized {
	every := max(1, (len(v)+curvePoints-1)/curvePoints)
	out := make([]float64, 0, (len(v)+every-1)/every)
	for lo := 0; lo < len(v); lo += every {
		hi := min(lo+every, len(v))
		var s float64
		for _, x := range v[lo:hi] {
			s += x
		}
		out = append(out, s/float64(hi-lo))
	}
	return viz.Quantize(out, len(out))
}

// curveEvery is how many steps one point of curve(v) averages.
func curveEvery(n int) int { return max(1, (n+curvePoints-1)/curvePoints) }

func diverged(step int) *run.Error {
	return run.NewError(run.CodeStepFailed,
		fmt.Sprintf("a model diverged at step %d (its loss or gradient is not a finite number) — lower the learning rate", step),
		fmt.Sprintf("有模型在第 %d 步发散（损失或梯度不是有限数）——请降低学习率", step))
}

// weights is a copy of a model's parameter values (Model.Params order).
type weights [][]float64

// keep copies ps into w, reusing its buffers.
func (w *weights) keep(ps []*engine.Param) {
	if len(*w) != len(ps) {
		*w = make(weights, len(ps))
	}
	for i, p := range ps {
		(*w)[i] = append((*w)[i][:0], p.Value.Data...)
	}
}

// writeTraceWith writes m's step trace on x, y with the parameter values
// before (none: m's own), then puts m's values and gradients back, so the
// experiment is as it was.
func writeTraceWith(w io.Writer, m *engine.Model, before weights, seed uint64, x, y *engine.Tensor) error {
	ps := m.Params()
	if before != nil && len(before) != len(ps) {
		return fmt.Errorf("twinstasks: %d parameters kept for the trace, the model has %d", len(before), len(ps))
	}
	var saved weights
	var grads weights
	saved.keep(ps)
	for i, p := range ps {
		grads = append(grads, slices.Clone(p.Grad.Data))
		if before != nil {
			copy(p.Value.Data, before[i])
		}
	}
	defer func() {
		for i, p := range ps {
			copy(p.Value.Data, saved[i])
			copy(p.Grad.Data, grads[i])
		}
	}()
	return engine.WriteTrace(w, m, seed, x, y)
}
