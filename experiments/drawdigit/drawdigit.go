package run

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/paramshare/paramshare/engine"
	"github.com/paramshare/paramshare/lab"
	"github.com/paramshare/paramshare/viz"
)

// DrawDigitName is the registry name of the draw-digit experiment.
const DrawDigitName = "draw-digit"

func init() {
	Register(DrawDigitName, func(raw json.RawMessage) (Experiment, error) {
		d := NewDrawDigit()
		if err := d.SetParams(raw); err != nil {
			return nil, err
		}
		StartDigitTraining()
		return d, nil
	})
}

// Limits of the draw-digit parameters.
const (
	DrawMinShift, DrawMaxShift = -8, 8
)

// DrawDigitParams are what a draw-digit run shows: a 28×28 drawing (or a
// digit of the MNIST test set), whether it is centred as MNIST's digits
// were, and how far it is moved sideways after that.
type DrawDigitParams struct {
	Pixels []byte // DigitPixels bytes, row-major, 0 background … 255 ink
	Digit  int    // the test digit Pixels came from, or -1 for a drawing
	Center bool   // CenterDigit before the shift
	Shift  int    // pixels to the right (negative: left), DrawMinShift…DrawMaxShift
}

// DrawDigit is the "draw a digit" experiment: a drawing goes through the
// three trained models (cnn, lc, mlp); the frame shows what the CNN's two
// convolution layers make of it and every model's class probabilities.
//
// It has one step: loading this run's copies of the trained models, which
// can happen only once the server-wide training (see StartDigitTraining)
// has finished. While the models train, Advance leaves the step at 0 and the
// frames carry the training's progress, so a playing run shows it; after
// the step, every parameter change is answered at once.
type DrawDigit struct {
	p   DrawDigitParams
	rev int

	input  []byte // the preprocessed image the models read
	nets   map[string]*engine.Model
	pos    int
	result *digitResult // for the current input; nil at step 0 or with no ink
}

// digitResult is what the models made of one input.
type digitResult struct {
	probs  map[string][]float64
	maps   [2][]float64 // relu1 [8, 28, 28] and relu2 [16, 14, 14] of the CNN
	sweep  map[string][]int
	sweepP map[string][]float64
}

// The CNN layers whose outputs the frame shows (after the ReLU: what the
// next layer reads), with their shapes for one image.
var digitMapLayers = [2]struct {
	layer, name string
	shape       []int
}{
	{"relu1", "conv1", []int{8, DigitSide, DigitSide}},
	{"relu2", "conv2", []int{16, DigitSide / 2, DigitSide / 2}},
}

// NewDrawDigit returns the experiment at step 0 with a blank drawing,
// centring on and no shift.
func NewDrawDigit() *DrawDigit {
	d := &DrawDigit{p: DrawDigitParams{Pixels: make([]byte, DigitPixels), Digit: -1, Center: true}, rev: 1}
	d.input = PrepareDigit(d.p.Pixels, d.p.Center, d.p.Shift)
	return d
}

// Params returns the current parameters (Pixels is the caller's copy).
func (d *DrawDigit) Params() DrawDigitParams {
	p := d.p
	p.Pixels = slices.Clone(p.Pixels)
	return p
}

// Input returns a copy of the preprocessed 28×28 image the models read.
func (d *DrawDigit) Input() []byte { return slices.Clone(d.input) }

// Total is 1: the one step loads the trained models.
func (d *DrawDigit) Total() int { return 1 }

// Pos is 1 once this run holds the trained models.
func (d *DrawDigit) Pos() int { return d.pos }

// Advance loads the trained models into this run and runs the input
// through them. While the server still trains them it changes nothing and
// returns nil (the next frame shows the progress); if the training failed,
// it returns that error.
func (d *DrawDigit) Advance() error {
	if d.pos >= 1 {
		return errors.New("run: draw-digit: the models are loaded already")
	}
	err := d.load()
	if errors.Is(err, ErrDigitTraining) {
		return nil
	}
	return err
}

func (d *DrawDigit) load() error {
	if d.nets == nil {
		nets := map[string]*engine.Model{}
		for _, name := range DigitModelNames() {
			m, err := NewDigitModel(name)
			if err != nil {
				return err
			}
			nets[name] = m
		}
		d.nets = nets
	}
	d.pos = 1
	d.rev++ // the static part now lists the trained models
	d.compute()
	return nil
}

// Seek goes to step 0 (the run forgets its predictions; Advance brings them
// back) or step 1, which needs the trained models: while they train, Seek(1)
// returns ErrDigitTraining.
func (d *DrawDigit) Seek(k int) error {
	switch k {
	case 0:
		if d.pos != 0 {
			d.rev++
		}
		d.pos, d.result = 0, nil
		return nil
	case 1:
		if d.pos == 1 {
			return nil
		}
		return d.load()
	}
	return fmt.Errorf("run: draw-digit: step %d outside [0, 1]", k)
}

// drawParamKeys are the fields a draw-digit parameter object may have;
// every one is optional, and the ones left out keep their values.
var drawParamKeys = []string{"pixels", "digit", "center", "shift"}

// SetParams validates raw — a JSON object with any of "pixels" (base64 of
// exactly 784 bytes), "digit" (a test digit, 0…999, instead of pixels),
// "center" (true or false) and "shift" (−8…8) — and only when all of it is
// valid takes it and recomputes the predictions. Errors are *Error with
// CodeBadParams and say which parameter is wrong and why.
func (d *DrawDigit) SetParams(raw json.RawMessage) error {
	p, err := decodeDrawParams(raw, d.p)
	if err != nil {
		return err
	}
	d.p = p
	d.input = PrepareDigit(p.Pixels, p.Center, p.Shift)
	if d.pos == 1 {
		d.compute()
	}
	return nil
}

// decodeDrawParams merges the JSON object raw onto cur strictly.
func decodeDrawParams(raw json.RawMessage, cur DrawDigitParams) (DrawDigitParams, error) {
	p := cur
	trimmed := bytes.TrimSpace(raw)
	if len(trimmed) == 0 || bytes.Equal(trimmed, []byte("null")) {
		return p, nil
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(trimmed, &fields); err != nil || fields == nil {
		return p, errorf(CodeBadParams, "parameters must be a JSON object")
	}
	for k := range fields {
		if !slices.Contains(drawParamKeys, k) {
			return p, errorf(CodeBadParams, "unknown parameter %q (allowed: %s)", k, strings.Join(drawParamKeys, ", "))
		}
	}
	_, hasPixels := fields["pixels"]
	_, hasDigit := fields["digit"]
	if hasPixels && hasDigit {
		return p, errorf(CodeBadParams, "give either pixels or digit, not both")
	}
	if v, ok := fields["pixels"]; ok {
		var s string
		if json.Unmarshal(v, &s) != nil {
			return p, errorf(CodeBadParams, "parameter \"pixels\" must be a base64 string of %d bytes (28×28, 0–255), got %s", DigitPixels, jsonKind(v))
		}
		px, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return p, errorf(CodeBadParams, "parameter \"pixels\" is not valid base64: %v", err)
		}
		if len(px) != DigitPixels {
			return p, errorf(CodeBadParams, "parameter \"pixels\" must hold exactly %d bytes (28×28), got %d", DigitPixels, len(px))
		}
		p.Pixels, p.Digit = px, -1
	}
	if v, ok := fields["digit"]; ok {
		var n int
		if json.Unmarshal(v, &n) != nil {
			if isJSONNumber(v) { // too big or not whole
				return p, wholeNumberError("digit", v, 0, ConvDigits()-1)
			}
			return p, errorf(CodeBadParams, "parameter \"digit\" must be a whole number, got %s", jsonKind(v))
		}
		if n < 0 || n >= ConvDigits() {
			return p, errorf(CodeBadParams, "digit must be between 0 and %d, got %d", ConvDigits()-1, n)
		}
		im := mnistTest()
		p.Pixels = slices.Clone(im.Pixels[n*DigitPixels : (n+1)*DigitPixels])
		p.Digit = n
	}
	if v, ok := fields["center"]; ok {
		if json.Unmarshal(v, &p.Center) != nil {
			return cur, errorf(CodeBadParams, "parameter \"center\" must be true or false, got %s", jsonKind(v))
		}
	}
	if v, ok := fields["shift"]; ok {
		var n int
		if json.Unmarshal(v, &n) != nil {
			if isJSONNumber(v) { // too big or not whole
				return cur, wholeNumberError("shift", v, DrawMinShift, DrawMaxShift)
			}
			return cur, errorf(CodeBadParams, "parameter \"shift\" must be a whole number, got %s", jsonKind(v))
		}
		if n < DrawMinShift || n > DrawMaxShift {
			return cur, errorf(CodeBadParams, "shift must be between %d and %d, got %d", DrawMinShift, DrawMaxShift, n)
		}
		p.Shift = n
	}
	return p, nil
}

// jsonKind names the JSON type of v for an error message, with the value
// itself when it is short.
func jsonKind(v json.RawMessage) string {
	s := string(bytes.TrimSpace(v))
	kind := "a number"
	switch {
	case s == "null":
		return "null"
	case s == "true" || s == "false":
		kind = "a boolean"
	case strings.HasPrefix(s, `"`):
		kind = "a string"
	case strings.HasPrefix(s, "["):
		return "an array"
	case strings.HasPrefix(s, "{"):
		return "an object"
	}
	if len(s) <= 24 {
		return kind + " " + s
	}
	return kind
}

// compute runs the current input through the three models, and the CNN's
// taps give the feature maps. A blank input has no result.
func (d *DrawDigit) compute() {
	d.result = nil
	if inkMass(d.input) == 0 {
		return
	}
	res := &digitResult{probs: map[string][]float64{}, sweep: map[string][]int{}, sweepP: map[string][]float64{}}
	x := digitTensor(d.input)
	tap := &mapTap{want: map[string]int{digitMapLayers[0].layer: 0, digitMapLayers[1].layer: 1}, maps: &res.maps}
	for _, name := range DigitModelNames() {
		var t engine.Tap
		if name == "cnn" {
			t = tap
		}
		res.probs[name] = engine.Softmax(d.nets[name].Forward(x, t).Data)
	}
	// The shift sweep: the same centred drawing at every shift, in one
	// batch per model, for the strip that shows where each model's answer
	// changes.
	base := d.p.Pixels
	if d.p.Center {
		base = CenterDigit(base)
	}
	n := DrawMaxShift - DrawMinShift + 1
	batch := engine.NewTensor(n, 1, DigitSide, DigitSide)
	for i := range n {
		for k, v := range ShiftDigit(base, DrawMinShift+i) {
			batch.Data[i*DigitPixels+k] = float64(v) / 255
		}
	}
	for _, name := range DigitModelNames() {
		logits := d.nets[name].Forward(batch, nil)
		classes := logits.Shape[1]
		tops, ps := make([]int, n), make([]float64, n)
		for i := range n {
			pr := engine.Softmax(logits.Data[i*classes : (i+1)*classes])
			tops[i] = digitArgmax(pr)
			ps[i] = pr[tops[i]]
		}
		res.sweep[name], res.sweepP[name] = tops, ps
	}
	d.result = res
}

// mapTap copies the outputs of the layers in want.
type mapTap struct {
	want map[string]int
	maps *[2][]float64
}

func (t *mapTap) Output(l engine.Layer, _, y *engine.Tensor) {
	if i, ok := t.want[l.Spec().Name]; ok {
		t.maps[i] = slices.Clone(y.Data)
	}
}

func (t *mapTap) Contribute(engine.Contribution) {}

func digitArgmax(p []float64) int {
	best := 0
	for i, v := range p {
		if v > p[best] {
			best = i
		}
	}
	return best
}

// Probabilities returns the named model's class probabilities for the
// current input, or nil before the models are loaded or with a blank input.
func (d *DrawDigit) Probabilities(model string) []float64 {
	if d.result == nil {
		return nil
	}
	return slices.Clone(d.result.probs[model])
}

// DrawDigitStatic is the part of a draw-digit frame that changes only when
// the run loads the trained models.
type DrawDigitStatic struct {
	Classes int              `json:"classes"` // 10
	Models  []DigitModelInfo `json:"models"`  // empty until loaded
	Budget  DigitTraining    `json:"budget"`
}

// DrawDigitData is the part of a frame that changes with the parameters.
type DrawDigitData struct {
	Training DigitProgress `json:"training"`
	Shift    int           `json:"shift"`
	Center   bool          `json:"center"`
	Digit    int           `json:"digit"` // the test digit drawn from, or -1
	Label    int           `json:"label"` // its class, or -1
	// Drawing is the test digit's 784 bytes (base64) when the drawing is
	// one (Digit ≥ 0), for the page to paint; omitted for a drawing the
	// page sent, which it has already.
	Drawing string `json:"drawing,omitempty"`
	// Input is the preprocessed image the models read (base64 of 784
	// bytes; each model reads byte/255).
	Input string `json:"input"`
	Empty bool   `json:"empty"` // no ink: nothing to predict
	// Predictions, Maps and Sweep are present once the models are loaded
	// and the input has ink.
	Predictions []DigitPrediction `json:"predictions,omitempty"`
	Maps        []DigitMaps       `json:"maps,omitempty"`
	Sweep       *DigitSweep       `json:"sweep,omitempty"`
}

// DigitPrediction is one model's answer.
type DigitPrediction struct {
	Model string    `json:"model"`
	Probs []float64 `json:"probs"` // softmax of the logits, full precision
	Top   int       `json:"top"`   // the most probable class
	P     float64   `json:"p"`     // its probability
}

// DigitMaps are one CNN layer's feature maps after its ReLU, quantized on
// one scale for the whole layer (so maps of a layer compare by colour).
type DigitMaps struct {
	Layer string        `json:"layer"` // conv1 or conv2
	Maps  viz.Quantized `json:"maps"`  // shape [channels, h, w]
}

// DigitSweep is every model's top class (and its probability) with the
// same (centred) drawing at each shift from DrawMinShift to DrawMaxShift.
type DigitSweep struct {
	Shifts []int                `json:"shifts"`
	Top    map[string][]int     `json:"top"`
	P      map[string][]float64 `json:"p"`
}

// Frame returns the static part (revision changes when the models are
// loaded) and the data for the current parameters.
func (d *DrawDigit) Frame() Frame {
	return Frame{StaticRev: d.rev, Static: d.StaticFrame(), Data: d.DataFrame()}
}

// StaticFrame returns the static part of the frame.
func (d *DrawDigit) StaticFrame() DrawDigitStatic {
	s := DrawDigitStatic{Classes: 10, Models: []DigitModelInfo{}, Budget: digitBudget()}
	if d.pos == 1 {
		if info, err := DigitModels(); err == nil {
			s.Models = info
		}
	}
	return s
}

func digitBudget() DigitTraining {
	digitCache.mu.Lock()
	defer digitCache.mu.Unlock()
	return digitCache.budget
}

// DataFrame returns the data part of the frame. Nothing in it is shared
// with the experiment.
func (d *DrawDigit) DataFrame() DrawDigitData {
	out := DrawDigitData{
		Training: DigitTrainingProgress(),
		Shift:    d.p.Shift, Center: d.p.Center, Digit: d.p.Digit, Label: -1,
		Input: base64.StdEncoding.EncodeToString(d.input),
		Empty: inkMass(d.input) == 0,
	}
	if d.p.Digit >= 0 {
		out.Label = int(mnistTest().Labels[d.p.Digit])
		out.Drawing = base64.StdEncoding.EncodeToString(d.p.Pixels)
	}
	r := d.result
	if r == nil {
		return out
	}
	for _, name := range DigitModelNames() {
		pr := slices.Clone(r.probs[name])
		top := digitArgmax(pr)
		out.Predictions = append(out.Predictions, DigitPrediction{Model: name, Probs: pr, Top: top, P: pr[top]})
	}
	for i, l := range digitMapLayers {
		q := viz.Quantize(r.maps[i], l.shape...)
		out.Maps = append(out.Maps, DigitMaps{Layer: l.name, Maps: q})
	}
	sw := &DigitSweep{Top: map[string][]int{}, P: map[string][]float64{}}
	for s := DrawMinShift; s <= DrawMaxShift; s++ {
		sw.Shifts = append(sw.Shifts, s)
	}
	for _, name := range DigitModelNames() {
		sw.Top[name] = slices.Clone(r.sweep[name])
		sw.P[name] = slices.Clone(r.sweepP[name])
	}
	out.Sweep = sw
	return out
}

// CNN returns this run's CNN (nil before step 1). The caller must not use
// it concurrently with the run.
func (d *DrawDigit) CNN() *engine.Model { return d.nets["cnn"] }

// WriteTrace writes the step trace (engine.WriteTrace) of the CNN on the
// input the models read, with the CNN's own predicted class as the target:
// the gradients a training step on this drawing would use if the answer
// were right. The seed is the CNN's training seed. It returns an error
// before step 1 (the models are not loaded) and for a blank input (there
// is no prediction to take as the target).
func (d *DrawDigit) WriteTrace(w io.Writer) error {
	switch {
	case d.pos != 1:
		return errors.New("run: draw-digit: no trace before the models are loaded (step 1)")
	case d.result == nil:
		return errors.New("run: draw-digit: the drawing is blank: nothing to trace")
	}
	target := engine.TensorFrom([]float64{float64(digitArgmax(d.result.probs["cnn"]))}, 1)
	return engine.WriteTrace(w, d.CNN(), lab.DefaultTrainConfig("cnn").Seed, digitTensor(d.input), target)
}
