// Package drawdigit is the experiment of lesson 5, "Draw a digit": a
// student's drawing goes through three trained digit classifiers — the
// lessons' CNN, its locally connected twin (the same shapes, a kernel of
// its own at every position) and the MLP with about the CNN's parameter
// count. The frame shows what the CNN's two convolution layers make of the
// drawing, every model's class probabilities, and every model's answer
// with the drawing moved sideways, where sharing pays off.
//
// The run has one step: asking the trained models. The models are trained
// once per server and shared by every run (see digitmodels.go); until they
// are, a step runs a piece of their training and the frames show its
// progress. After the step, every new drawing is answered at once.
package drawdigit

import (
	"context"
	"embed"
	"encoding/base64"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/paramshare/paramshare/engine"
	"github.com/paramshare/paramshare/lab"
	"github.com/paramshare/paramshare/run"
	"github.com/paramshare/paramshare/viz"
)

const name = "draw-digit"

// Limits of the shift.
const minShift, maxShift = -8, 8

// blank is the empty drawing, the default.
var blank = base64.StdEncoding.EncodeToString(make([]byte, area))

// fields are draw-digit's parameters. Every combination is valid: a test
// digit (digit ≥ 0) is shown instead of the drawing, which it leaves as it
// is.
var fields = []run.Field{
	{Name: "pixels", Kind: run.Bytes, Len: area, Default: blank, Desc: run.Text{
		En: "the drawing: 28×28 bytes, row by row, 0 for paper to 255 for full ink",
		Zh: "画的数字：28×28 个字节，逐行排列，0 是白纸，255 是全黑的墨",
	}},
	{Name: "digit", Kind: run.Int, Default: -1, Min: -1, Max: float64(lab.TestSet().N - 1), Desc: run.Text{
		En: "a digit of the embedded MNIST test set to show instead of the drawing (−1: the drawing)",
		Zh: "代替画的数字显示的内置 MNIST 测试集数字（−1 表示用画的数字）",
	}},
	{Name: "center", Kind: run.Bool, Default: true, Desc: run.Text{
		En: "scale and centre the drawing as MNIST's digits were before the models read it",
		Zh: "在模型读取之前，像 MNIST 的数字那样缩放并居中",
	}},
	{Name: "shift", Kind: run.Int, Default: 0, Min: minShift, Max: maxShift, Desc: run.Text{
		En: "pixels the drawing moves to the right (negative: left) after centring",
		Zh: "居中之后向右平移的像素数（负数表示向左）",
	}},
}

// widget is the page's side of the experiment: its drawing code and
// strings (NAME.js) and styles (NAME.css), served under /static/widgets/.
//
//go:embed widget
var widget embed.FS

func init() {
	run.Register(run.Spec{
		Name:   name,
		Widget: run.Sub(widget, "widget"),
		Title:  run.Text{En: "Draw a digit", Zh: "画一个数字"},
		Fields: fields,
		New:    func(v run.Values) (run.Experiment, error) { return newDigit(v), nil },
		// The exports replay to step 1, which needs the trained models: the
		// first one in a server may train them (seconds), later ones only
		// ask them (milliseconds).
		Exports: []run.Export{
			{Format: "png", Heavy: true, Write: writeFigure("png")},
			{Format: "svg", Heavy: true, Write: writeFigure("svg")},
			{Format: "json", Heavy: true, Write: writeJSON},
			{Format: "trace.json", Heavy: true, Write: writeTrace},
		},
		// Measured by TestBudget (see its log) on the development machine:
		// the longest Advance is a piece of the shared training, 44–63 ms
		// (20 ms of steps plus one step of the twin; an Advance may first
		// wait for the driver's piece), or, once trained, asking the three
		// models about one drawing and its 17 shifts, 8–15 ms (70 ms seen
		// on a loaded machine). A run holds 112 kB at step 1 with a test
		// digit (the drawing, the feature maps, the answers and the update
		// the run keeps); the trained weights and the model instances (one
		// set per CPU) are shared. A frame's data is 17 kB (two layers of
		// quantized feature maps), its static part 0.5 kB.
		Budget: run.Budget{Step: 150 * time.Millisecond, Memory: 200_000, FrameBytes: 32 << 10, StaticBytes: 1 << 10},
		// A drawing with ink: the models are asked, the maps drawn.
		Costliest: map[string]any{"digit": 0},
	})
}

// params are the parameters as the experiment reads them.
type params struct {
	pixels []byte // the drawing (or the test digit), area bytes
	digit  int    // the test digit pixels came from, or −1 for the drawing
	center bool
	shift  int
}

func paramsOf(v run.Values) params {
	p := params{pixels: v.Bytes("pixels"), digit: v.Int("digit"), center: v.Bool("center"), shift: v.Int("shift")}
	if p.digit >= 0 {
		p.pixels = slices.Clone(lab.TestSet().Pixels[p.digit*area : (p.digit+1)*area])
	}
	return p
}

// digit is the experiment.
type digit struct {
	v      run.Values
	p      params
	input  []byte  // the preprocessed image the models read
	pos    int     // 1 once the models were asked
	result *answer // for the current input; nil at step 0 or with no ink

	// A run's experiment lends its owner's CPU to the shared training
	// (see lend): host, ctx and busy are the driver's to use.
	host   run.Host
	ctx    context.Context
	cancel context.CancelFunc
	busy   sync.WaitGroup
}

var (
	_ run.Experiment = (*digit)(nil)
	_ run.Attacher   = (*digit)(nil)
	_ run.Closer     = (*digit)(nil)
)

// answer is what the models made of one input.
type answer struct {
	probs  map[string][]float64
	maps   [2][]float64 // relu1 [8, 28, 28] and relu2 [16, 14, 14] of the CNN
	sweep  map[string][]int
	sweepP map[string][]float64
}

// The CNN layers whose outputs the frame shows (after the ReLU: what the
// next layer reads), with their shapes for one image.
var mapLayers = [2]struct {
	layer, name string
	shape       []int
}{
	{"relu1", "conv1", []int{8, side, side}},
	{"relu2", "conv2", []int{16, side / 2, side / 2}},
}

func newDigit(v run.Values) *digit {
	d := &digit{}
	d.setParams(v)
	return d
}

func (d *digit) setParams(v run.Values) {
	d.v, d.p = v, paramsOf(v)
	d.input = prepare(d.p.pixels, d.p.center, d.p.shift)
}

// Attach lends the run's CPU to the shared training while the models are
// not trained.
func (d *digit) Attach(h run.Host) {
	d.host = h
	d.ctx, d.cancel = context.WithCancel(context.Background())
	lend(d)
}

// Close stops lending; it returns once the training no longer uses the
// run's host.
func (d *digit) Close() {
	if d.cancel != nil {
		unlend(d)
	}
}

// Total is 1: the step asks the trained models.
func (d *digit) Total() int { return 1 }

// Pos is 1 once the models were asked.
func (d *digit) Pos() int { return d.pos }

// Advance asks the trained models about the input. While they train, it
// runs a piece of their training instead and leaves the step at 0 (the
// frame shows the progress); if the training failed, it returns why.
func (d *digit) Advance() error {
	if d.pos >= 1 {
		return errors.New("drawdigit: the models were asked already")
	}
	switch err := trained(); {
	case err == errTraining:
		startProgress()
		err := trainPiece()
		notifyLenders()
		return err
	case err != nil:
		return err
	}
	d.pos = 1
	d.ask()
	return nil
}

// Restart forgets the answers.
func (d *digit) Restart() error {
	d.pos, d.result = 0, nil
	return nil
}

// SetParams takes a new drawing, test digit, centring or shift, keeping
// the step: after it, the models are asked at once (a few milliseconds).
func (d *digit) SetParams(v run.Values) error {
	if v.Equal(d.v) {
		return nil
	}
	d.setParams(v)
	if d.pos == 1 {
		d.ask()
	}
	return nil
}

// ask runs the current input through the three models, with a tap on the
// CNN for its feature maps, and the centred drawing at every shift through
// each. A blank input has no answer. The models must be trained.
func (d *digit) ask() {
	d.result = nil
	if inkMass(d.input) == 0 {
		return
	}
	ns := takeNets()
	defer putNets(ns)
	res := &answer{probs: map[string][]float64{}, sweep: map[string][]int{}, sweepP: map[string][]float64{}}
	x := digitTensor(d.input)
	tap := &mapTap{want: map[string]int{mapLayers[0].layer: 0, mapLayers[1].layer: 1}, maps: &res.maps}
	for _, m := range lab.Models() {
		var t engine.Tap
		if m == "cnn" {
			t = tap
		}
		res.probs[m] = engine.Softmax(ns[m].Forward(x, t).Data)
	}
	// The shift sweep: the same centred drawing at every shift, in one
	// batch per model, for the strip that shows where each model's answer
	// changes.
	base := d.p.pixels
	if d.p.center {
		base = centerDigit(base)
	}
	n := maxShift - minShift + 1
	batch := engine.NewTensor(n, 1, side, side)
	for i := range n {
		for k, v := range shiftDigit(base, minShift+i) {
			batch.Data[i*area+k] = float64(v) / 255
		}
	}
	for _, m := range lab.Models() {
		logits := ns[m].Forward(batch, nil)
		classes := logits.Shape[1]
		tops, ps := make([]int, n), make([]float64, n)
		for i := range n {
			pr := engine.Softmax(logits.Data[i*classes : (i+1)*classes])
			tops[i] = argmax(pr)
			ps[i] = pr[tops[i]]
		}
		res.sweep[m], res.sweepP[m] = tops, ps
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

func argmax(p []float64) int {
	best := 0
	for i, v := range p {
		if v > p[best] {
			best = i
		}
	}
	return best
}

// staticPart is the part of a frame that changes only with the step.
type staticPart struct {
	Classes int         `json:"classes"` // 10
	Models  []modelInfo `json:"models"`  // empty until the models are asked
	Budget  training    `json:"budget"`
}

// dataPart is the part of a frame that changes with the parameters.
type dataPart struct {
	Training progress `json:"training"`
	Shift    int      `json:"shift"`
	Center   bool     `json:"center"`
	Digit    int      `json:"digit"` // the test digit shown, or -1
	Label    int      `json:"label"` // its class, or -1
	// Drawing is the test digit's bytes (base64) when one is shown, for
	// the page to paint; omitted for a drawing the page sent, which it has
	// already.
	Drawing string `json:"drawing,omitempty"`
	// Input is the preprocessed image the models read (base64 of 784
	// bytes; each model reads byte/255).
	Input string `json:"input"`
	Empty bool   `json:"empty"` // no ink: nothing to predict
	// Predictions, Maps and Sweep are present once the models were asked
	// about an input with ink.
	Predictions []prediction `json:"predictions,omitempty"`
	Maps        []layerMaps  `json:"maps,omitempty"`
	Sweep       *sweep       `json:"sweep,omitempty"`
}

// prediction is one model's answer.
type prediction struct {
	Model string    `json:"model"`
	Probs []float64 `json:"probs"` // softmax of the logits, full precision
	Top   int       `json:"top"`   // the most probable class
	P     float64   `json:"p"`     // its probability
}

// layerMaps are one CNN layer's feature maps after its ReLU, quantized on
// one scale for the whole layer (so maps of a layer compare by colour).
type layerMaps struct {
	Layer string        `json:"layer"` // conv1 or conv2
	Maps  viz.Quantized `json:"maps"`  // shape [channels, h, w]
}

// sweep is every model's top class (and its probability) with the same
// (centred) drawing at each shift from minShift to maxShift.
type sweep struct {
	Shifts []int                `json:"shifts"`
	Top    map[string][]int     `json:"top"`
	P      map[string][]float64 `json:"p"`
}

// Frame returns the static part (its revision changes with the step) and
// the data for the current parameters.
func (d *digit) Frame() run.Frame {
	return run.Frame{StaticRev: 1 + d.pos, Static: d.static(), Data: d.data()}
}

func (d *digit) static() staticPart {
	s := staticPart{Classes: 10, Models: []modelInfo{}, Budget: shared.budget}
	if d.pos == 1 {
		s.Models = slices.Clone(shared.infos) // set before step 1, read-only since
	}
	return s
}

func (d *digit) data() dataPart {
	out := dataPart{
		Training: currentProgress(),
		Shift:    d.p.shift, Center: d.p.center, Digit: d.p.digit, Label: -1,
		Input: base64.StdEncoding.EncodeToString(d.input),
		Empty: inkMass(d.input) == 0,
	}
	if d.p.digit >= 0 {
		out.Label = int(lab.TestSet().Labels[d.p.digit])
		out.Drawing = base64.StdEncoding.EncodeToString(d.p.pixels)
	}
	r := d.result
	if r == nil {
		return out
	}
	for _, m := range lab.Models() {
		pr := slices.Clone(r.probs[m])
		top := argmax(pr)
		out.Predictions = append(out.Predictions, prediction{Model: m, Probs: pr, Top: top, P: pr[top]})
	}
	for i, l := range mapLayers {
		out.Maps = append(out.Maps, layerMaps{Layer: l.name, Maps: viz.Quantize(r.maps[i], l.shape...)})
	}
	sw := &sweep{Top: map[string][]int{}, P: map[string][]float64{}}
	for s := minShift; s <= maxShift; s++ {
		sw.Shifts = append(sw.Shifts, s)
	}
	for _, m := range lab.Models() {
		sw.Top[m] = slices.Clone(r.sweep[m])
		sw.P[m] = slices.Clone(r.sweepP[m])
	}
	out.Sweep = sw
	return out
}
