package gaterace

import (
	"math"
	"slices"

	"github.com/paramshare/paramshare/lab"
	"github.com/paramshare/paramshare/run"
	"github.com/paramshare/paramshare/viz"
)

// staticFrame changes only with the parameters.
type staticFrame struct {
	Params       run.Values  `json:"params"`
	Total        int         `json:"total"`
	SeqLen       int         `json:"seqLen"` // steps the models read: T+1 (remember-first) or T (adding)
	EvalEvery    int         `json:"evalEvery"`
	EvalSize     int         `json:"evalSize"`
	ProfileEvery int         `json:"profileEvery"`
	Chance       float64     `json:"chance"`       // score of a model that learnt nothing
	BaselineLoss float64     `json:"baselineLoss"` // its loss
	Tolerance    float64     `json:"tolerance"`    // adding: |error| below this is solved
	Models       []raceModel `json:"models"`
}

// raceModel is one model's parameter count, from engine.Model.Count.
type raceModel struct {
	Name       string `json:"name"`
	Params     int    `json:"params"`     // the whole model
	CellParams int    `json:"cellParams"` // its recurrent layer
}

// dataFrame changes with each step.
type dataFrame struct {
	Step   int          `json:"step"`
	Total  int          `json:"total"`
	Models []modelNow   `json:"models"`
	Curves curveFrame   `json:"curves"`
	Evals  []evaluation `json:"evals"`
	// Profiles are each model's latest W_hh profile, element d the norm
	// of the contribution of the step d steps before the last, measured at
	// step ProfileStep on the probe batch; 4 significant digits (they are
	// drawn on a log scale, so a linear quantization would flatten them).
	Profiles    [][]float64 `json:"profiles"`
	ProfileStep int         `json:"profileStep"`
	Diverged    *run.Text   `json:"diverged,omitempty"`
}

// modelNow is a model's numbers at the frame's step, at full precision.
type modelNow struct {
	Name  string   `json:"name"`
	Loss  *float64 `json:"loss"`  // the last batch's loss (null at step 0)
	Score *float64 `json:"score"` // the smoothed batch score
}

// curveFrame is every model's batch loss and smoothed score since step 1,
// quantized: point i is the mean of steps i·Every+1 … min((i+1)·Every, step).
type curveFrame struct {
	Every int             `json:"every"`
	Loss  []viz.Quantized `json:"loss"`
	Score []viz.Quantized `json:"score"`
}

// Frame returns the static part and the step's data; nothing returned is
// shared with the race.
func (r *race) Frame() run.Frame {
	return run.Frame{StaticRev: r.rev, Static: r.staticFrame(), Data: r.dataFrame()}
}

func (r *race) staticFrame() staticFrame {
	task := r.v.String("task")
	s := staticFrame{
		Params: r.v, Total: r.Total(), SeqLen: Config(r.v, "rnn").Steps(), EvalEvery: EvalEvery(r.Total()), EvalSize: EvalSize,
		ProfileEvery: profileEvery, Chance: chance(task), BaselineLoss: baselineLoss(task), Tolerance: lab.AddingTolerance,
	}
	for i, m := range Models() {
		s.Models = append(s.Models, raceModel{Name: m, Params: r.counts[i].Params, CellParams: lab.CellParams(r.counts[i])})
	}
	return s
}

func (r *race) models() []modelNow {
	var out []modelNow
	for i, m := range Models() {
		mn := modelNow{Name: m}
		if n := len(r.loss[i]); n > 0 {
			mn.Loss, mn.Score = finitePtr(r.loss[i][n-1]), finitePtr(r.smooth[i][n-1])
		}
		out = append(out, mn)
	}
	return out
}

func (r *race) dataFrame() dataFrame {
	d := dataFrame{Step: r.pos, Total: r.Total(), Models: r.models(), Evals: slices.Clone(r.evals), ProfileStep: r.profAt}
	every := max(1, (r.pos+curvePoints-1)/curvePoints)
	d.Curves.Every = every
	for i := range Models() {
		loss, score := downsample(r.loss[i], every), downsample(r.smooth[i], every)
		d.Curves.Loss = append(d.Curves.Loss, viz.Quantize(loss, len(loss)))
		d.Curves.Score = append(d.Curves.Score, viz.Quantize(score, len(score)))
		// JSON has no NaN or infinity: a profile value that is not
		// finite is sent as 0, which the log-scale chart leaves out.
		p := viz.SigAll(r.prof[i], 4)
		for k, v := range p {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				p[k] = 0
			}
		}
		d.Profiles = append(d.Profiles, p)
	}
	if r.diverged != nil {
		d.Diverged = &r.diverged.Text
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
