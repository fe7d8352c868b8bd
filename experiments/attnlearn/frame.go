package attnlearn

import (
	"math"
	"slices"

	"github.com/paramshare/paramshare/run"
	"github.com/paramshare/paramshare/viz"
)

// staticFrame changes only with the parameters.
type staticFrame struct {
	Params       run.Values `json:"params"`
	Total        int        `json:"total"`
	Vocab        int        `json:"vocab"`
	D            int        `json:"d"`
	Batch        int        `json:"batch"`
	Len          int        `json:"len"`     // training length
	Lengths      []int      `json:"lengths"` // test lengths; the model is built for the last
	EvalEvery    int        `json:"evalEvery"`
	EvalSize     int        `json:"evalSize"`
	ModelParams  int        `json:"modelParams"` // engine.Model.Count().Params
	Chance       float64    `json:"chance"`
	BaselineLoss float64    `json:"baselineLoss"`
	Probe        []int      `json:"probe"`   // the probe's input tokens
	Target       []int      `json:"target"`  // its answer
	Sources      []int      `json:"sources"` // output i's answer is input Sources[i]
}

// dataFrame changes with each step.
type dataFrame struct {
	Step     int        `json:"step"`
	Total    int        `json:"total"`
	Loss     *float64   `json:"loss"`     // the last batch's loss (null at step 0)
	Accuracy *float64   `json:"accuracy"` // its per-token accuracy
	Curves   curveFrame `json:"curves"`
	// Evals are the fixed-set scores so far, 4 significant digits (the
	// JSON export has them at full precision).
	Evals []evaluation `json:"evals"`
	// Maps are the attention maps on the probe, [block][head], each L×L
	// on the fixed scale 0…1 (row i: how output i weighs each input).
	Maps [][]viz.Quantized `json:"maps"`
	// Mass is each map's mean weight on where the answer is
	// (lab.PatternMass), 3 significant digits.
	Mass     [][]float64 `json:"mass"`
	Pred     []int       `json:"pred"` // the model's answer on the probe
	Diverged *run.Text   `json:"diverged,omitempty"`
}

// curveFrame is the batch loss and accuracy since step 1, quantized:
// point i is the mean of steps i·Every+1 … min((i+1)·Every, step).
type curveFrame struct {
	Every    int           `json:"every"`
	Loss     viz.Quantized `json:"loss"`
	Accuracy viz.Quantized `json:"accuracy"`
}

// Frame returns the static part and the step's data; nothing returned is
// shared with the experiment.
func (l *learn) Frame() run.Frame {
	return run.Frame{StaticRev: l.rev, Static: l.staticFrame(), Data: l.dataFrame()}
}

func (l *learn) staticFrame() staticFrame {
	c := l.cfg
	return staticFrame{
		Params: l.v, Total: l.Total(), Vocab: c.Vocab, D: c.D, Batch: c.Batch, Len: c.Len, Lengths: slices.Clone(Lengths),
		EvalEvery: EvalEvery, EvalSize: EvalSize, ModelParams: l.params, Chance: l.chance(), BaselineLoss: l.baselineLoss(),
		Probe: tokens(l.probeX), Target: tokens(l.probeY), Sources: l.sources(),
	}
}

func (l *learn) dataFrame() dataFrame {
	d := dataFrame{Step: l.pos, Total: l.Total(), Pred: slices.Clone(l.pred)}
	for _, e := range l.evals { // 4 significant digits: what the widget shows
		d.Evals = append(d.Evals, evaluation{Step: e.Step, Loss: viz.SigAll(e.Loss, 4), Accuracy: viz.SigAll(e.Accuracy, 4)})
	}
	if n := len(l.loss); n > 0 {
		d.Loss, d.Accuracy = finitePtr(l.loss[n-1]), finitePtr(l.acc[n-1])
	}
	every := max(1, (l.pos+curvePoints-1)/curvePoints)
	loss, acc := downsample(l.loss, every), downsample(l.acc, every)
	d.Curves = curveFrame{Every: every, Loss: viz.Quantize(loss, len(loss)), Accuracy: viz.QuantizeRange(acc, 0, 1, len(acc))}
	L := l.cfg.Len
	for b, bm := range l.maps {
		d.Maps = append(d.Maps, nil)
		for _, m := range bm {
			d.Maps[b] = append(d.Maps[b], viz.QuantizeRange(m, 0, 1, L, L))
		}
	}
	for _, bm := range l.mass() {
		d.Mass = append(d.Mass, viz.SigAll(bm, 3))
	}
	if l.diverged != nil {
		d.Diverged = &l.diverged.Text
	}
	return d
}

func finitePtr(v float64) *float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return &v
}

// downsample averages v over runs of every values (the last run may be
// shorter).
func downsample(v []float64, every int) []float64 {
	if every <= 1 {
		return slices.Clone(v)
	}
	out := make([]float64, 0, (len(v)+every-1)/every)
	for lo := 0; lo < len(v); lo += every {
		hi := min(lo+every, len(v))
		var s float64
		for _, x := range v[lo:hi] {
			s += x
		}
		out = append(out, s/float64(hi-lo))
	}
	return out
}
