package cnntrain

import (
	"math"
	"slices"

	"github.com/paramshare/paramshare/engine"
	"github.com/paramshare/paramshare/run"
	"github.com/paramshare/paramshare/viz"
)

// staticFrame is the part of a frame that changes only with the
// parameters (the widget, widget/cnn-train.js, reads it as "static").
type staticFrame struct {
	Params        run.Values  `json:"params"`
	Total         int         `json:"total"`
	StepsPerEpoch int         `json:"stepsPerEpoch"`
	EvalEvery     int         `json:"evalEvery"`
	EvalTest      int         `json:"evalTest"`  // test digits per evaluation
	EvalTrain     int         `json:"evalTrain"` // training digits per evaluation
	Shifts        []int       `json:"shifts"`
	ShiftSteps    []int       `json:"shiftSteps"`
	Models        []raceModel `json:"models"`
	Digit         digitImage  `json:"digit"`
}

// raceModel is one model's fixed facts, counted by the engine.
type raceModel struct {
	Name     string   `json:"name"`
	Params   int      `json:"params"`   // unique parameters, Model.Count().Params
	Uses     int      `json:"uses"`     // multiply-adds per digit, Count().Uses
	Unshared int      `json:"unshared"` // parameters without sharing, Count().Unshared
	Layers   []string `json:"layers"`   // layers with parameters: the order of gradNorms
}

// digitImage is the digit whose feature maps a frame shows.
type digitImage struct {
	Index int           `json:"index"`
	Label int           `json:"label"`
	Image viz.Quantized `json:"image"` // [28, 28], pixel/255
}

// dataFrame is the part of a frame that changes with each step.
type dataFrame struct {
	Step   int          `json:"step"`
	Total  int          `json:"total"`
	Epoch  int          `json:"epoch"`
	Models []modelNow   `json:"models"`
	Curves curveFrame   `json:"curves"`
	Evals  []evaluation `json:"evals"`
	Shift  *shiftFrame  `json:"shift"`
	// Filters are the CNN's first-layer kernels [8, 3, 3] on the symmetric
	// range ±max|w|; Maps are its first layer's outputs after ReLU for the
	// digit, [8, 28, 28] on 0…max.
	Filters viz.Quantized `json:"filters"`
	Maps    viz.Quantized `json:"maps"`
}

// modelNow is one model's numbers at the frame's step, at full precision.
type modelNow struct {
	Name     string   `json:"name"`
	Loss     *float64 `json:"loss"`     // the last batch's loss (null at step 0)
	BatchAcc *float64 `json:"batchAcc"` // the last batch's accuracy
	Acc      *float64 `json:"acc"`      // batch accuracy, smoothed
	// Test and Train are the latest evaluation's accuracies, Gap their
	// difference (train − test); null before the first evaluation.
	Test      *float64  `json:"test"`
	Train     *float64  `json:"train"`
	Gap       *float64  `json:"gap"`
	EvalStep  int       `json:"evalStep"`
	GradNorms []float64 `json:"gradNorms"` // per layer (static models[i].layers), the last step's; empty at step 0 and on a diverged step
	// Diverged says why the model diverged, in English (DivergedZh in
	// Chinese), omitted while it has not; DivergedStep is the step it
	// diverged at — the run's step, since a diverging step counts — and
	// DivergedLoss that step's batch loss, omitted when it is not finite
	// (Diverged then says "NaN" or "+Inf").
	Diverged     string   `json:"diverged,omitempty"`
	DivergedZh   string   `json:"divergedZh,omitempty"`
	DivergedStep int      `json:"divergedStep,omitempty"`
	DivergedLoss *float64 `json:"divergedLoss,omitempty"`
}

// curveFrame is every model's loss and smoothed accuracy since step 1,
// quantized (they are drawn, not read): point i is the mean of steps
// i·Every+1 … min((i+1)·Every, step).
type curveFrame struct {
	Every int             `json:"every"`
	Loss  []viz.Quantized `json:"loss"`
	Acc   []viz.Quantized `json:"acc"`
}

// shiftFrame is the shift test: the latest finished result, and the one
// the current step owes, with its progress.
type shiftFrame struct {
	Done    *shiftResult  `json:"done"`
	Running *shiftRunning `json:"running"`
}

// shiftRunning is a shift test in progress.
type shiftRunning struct {
	Step  int `json:"step"`  // the weights of this step
	Done  int `json:"done"`  // evaluations finished
	Total int `json:"total"` // evaluations in all (models × shifts)
}

// Frame returns the static part and the step's data; nothing returned is
// shared with the race.
func (r *race) Frame() run.Frame {
	r.mu.Lock()
	defer r.mu.Unlock()
	return run.Frame{StaticRev: r.rev, Static: r.staticFrame(), Data: r.dataFrame()}
}

func (r *race) staticFrame() staticFrame {
	s := staticFrame{
		Params: r.v, Total: r.Total(), StepsPerEpoch: r.v.Int("trainSize") / r.v.Int("batch"), EvalEvery: EvalEvery(r.v),
		EvalTest: EvalImages, EvalTrain: min(EvalImages, r.v.Int("trainSize")),
		Shifts: shiftAmounts(), ShiftSteps: shiftSteps(r.v),
		Digit: digitImage{Index: r.v.Int("digit"), Label: r.label, Image: viz.QuantizeRange(r.digitX.Data, 0, 1, 28, 28)},
	}
	for i, m := range Models() {
		s.Models = append(s.Models, raceModel{
			Name: m, Params: r.counts[i].Params, Uses: r.counts[i].Uses, Unshared: r.counts[i].Unshared,
			Layers: r.trainers[i].LayerNames(),
		})
	}
	return s
}

func ptr(v float64) *float64 { return &v }

// finitePtr is ptr(v), or nil (JSON null) when v is NaN or infinite, which
// JSON cannot carry.
func finitePtr(v float64) *float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return &v
}

// models returns every model's numbers now. r.mu must be held.
func (r *race) models() []modelNow {
	var last *evaluation
	if len(r.evals) > 0 {
		last = &r.evals[len(r.evals)-1]
	}
	var out []modelNow
	for i, m := range Models() {
		mn := modelNow{Name: m, GradNorms: slices.Clone(r.last[i].norms)}
		if mn.GradNorms == nil {
			mn.GradNorms = []float64{}
		}
		if n := len(r.loss[i]); n > 0 {
			mn.Loss, mn.BatchAcc, mn.Acc = finitePtr(r.loss[i][n-1]), finitePtr(r.last[i].batchAcc), finitePtr(r.smooth[i][n-1])
		}
		if d := r.diverged[i]; d.step > 0 {
			mn.Diverged, mn.DivergedZh, mn.DivergedStep, mn.DivergedLoss = d.text.En, d.text.Zh, d.step, finitePtr(d.loss)
		}
		if last != nil {
			mn.Test, mn.Train, mn.Gap = ptr(last.Test[i]), ptr(last.Train[i]), ptr(last.Train[i]-last.Test[i])
			mn.EvalStep = last.Step
		}
		out = append(out, mn)
	}
	return out
}

// shiftNow is the shift test as a frame shows it. r.mu must be held.
func (r *race) shiftNow() *shiftFrame {
	sf := &shiftFrame{}
	if n := len(r.shifts); n > 0 {
		s := r.shifts[n-1]
		sf.Done = &s
	}
	if g := r.gate; g != nil && g.shiftHits != nil {
		sf.Running = &shiftRunning{Step: g.step, Done: g.shiftDone, Total: len(Models()) * (maxShift + 1)}
	}
	return sf
}

// dataFrame returns the step's data. r.mu must be held.
func (r *race) dataFrame() dataFrame {
	d := dataFrame{Step: r.pos, Total: r.Total(), Epoch: r.trainers[0].Epoch(), Models: r.models(), Evals: slices.Clone(r.evals), Shift: r.shiftNow()}
	if d.Evals == nil {
		d.Evals = []evaluation{}
	}
	every := max(1, (r.pos+curvePoints-1)/curvePoints)
	d.Curves.Every = every
	for i := range Models() {
		loss, acc := downsample(r.loss[i], every), downsample(r.smooth[i], every)
		d.Curves.Loss = append(d.Curves.Loss, viz.Quantize(loss, len(loss)))
		d.Curves.Acc = append(d.Curves.Acc, viz.Quantize(acc, len(acc)))
	}
	w, lim := r.filters()
	d.Filters = viz.QuantizeRange(w.Data, -lim, lim, w.Shape[0], 3, 3)
	maps := r.featureMaps()
	d.Maps = viz.Quantize(maps.Data, maps.Shape[1:]...)
	return d
}

// filters returns the CNN's first-layer kernels (the race's own tensor:
// read it only) and the largest finite |w| among them.
func (r *race) filters() (*engine.Tensor, float64) {
	w := r.trainers[0].Model().Layers[0].(*engine.Conv2d).Weight.Value
	lim := 0.0
	for _, v := range w.Data {
		if !math.IsNaN(v) && !math.IsInf(v, 0) {
			lim = max(lim, math.Abs(v))
		}
	}
	return w, lim
}

// featureMaps runs the CNN's first convolution and its ReLU on the chosen
// digit, on a copy of the layer (the model's buffers are the training's),
// and returns the output, [1, 8, 28, 28], owned by the copy.
func (r *race) featureMaps() *engine.Tensor {
	conv := r.trainers[0].Model().Layers[0].(*engine.Conv2d)
	copy(r.conv.Weight.Value.Data, conv.Weight.Value.Data)
	copy(r.conv.Bias.Value.Data, conv.Bias.Value.Data)
	return r.relu.Forward(r.conv.Forward(r.digitX, nil), nil)
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
