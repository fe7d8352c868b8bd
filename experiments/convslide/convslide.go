// Package convslide is the experiment of lesson 2, "One kernel, many
// places": a 3×3 kernel (one engine Conv2d, one channel in and out) slides
// over a real MNIST digit, and each step computes the next output cell, in
// raster order, as the sum of the engine's nine terms plus the bias. The
// same ten parameters make every cell; stride, padding and dilation change
// where the kernel reads and how many cells there are.
package convslide

import (
	"embed"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/paramshare/paramshare/engine"
	"github.com/paramshare/paramshare/lab"
	"github.com/paramshare/paramshare/run"
)

const (
	name   = "conv-slide"
	kernel = 3 // the kernel is kernel×kernel
)

// presetNames lists the kernel presets in teaching order.
var presetNames = []string{"identity", "vertical-edge", "horizontal-edge", "blur", "sharpen"}

// presets are 3×3 kernels as data, row-major; the bias is 0.
var presets = map[string][9]float64{
	// identity: copies the centre pixel, so the output is the input (shifted
	// by the padding) — the kernel that changes nothing.
	"identity": {0, 0, 0, 0, 1, 0, 0, 0, 0},
	// vertical-edge: Sobel's x-derivative kernel; large where brightness
	// changes from left to right, i.e. on vertical strokes' sides.
	"vertical-edge": {-1, 0, 1, -2, 0, 2, -1, 0, 1},
	// horizontal-edge: Sobel's y-derivative kernel; large on the top and
	// bottom edges of horizontal strokes.
	"horizontal-edge": {-1, -2, -1, 0, 0, 0, 1, 2, 1},
	// blur: the 3×3 binomial (Gaussian) kernel [1 2 1; 2 4 2; 1 2 1]/16,
	// a weighted average that softens the strokes.
	"blur": {1.0 / 16, 2.0 / 16, 1.0 / 16, 2.0 / 16, 4.0 / 16, 2.0 / 16, 1.0 / 16, 2.0 / 16, 1.0 / 16},
	// sharpen: 5·centre minus the four neighbours, the identity plus a
	// Laplacian; it exaggerates the contrast at the edges.
	"sharpen": {0, -1, 0, -1, 5, -1, 0, -1, 0},
}

// presetText names each preset in both languages, for figures.
var presetText = map[string]run.Text{
	"identity":        {En: "identity", Zh: "恒等"},
	"vertical-edge":   {En: "vertical-edge", Zh: "竖直边缘"},
	"horizontal-edge": {En: "horizontal-edge", Zh: "水平边缘"},
	"blur":            {En: "blur", Zh: "模糊"},
	"sharpen":         {En: "sharpen", Zh: "锐化"},
}

// Presets lists the names of the 3×3 kernel presets in teaching order:
// identity, vertical-edge, horizontal-edge, blur, sharpen.
func Presets() []string { return slices.Clone(presetNames) }

// PresetText names a preset in English and Chinese, as conv-slide's
// figures do ("vertical-edge", "竖直边缘"); the zero Text for a name
// that is not one of Presets.
func PresetText(name string) run.Text { return presetText[name] }

// Preset returns a preset's nine kernel values (row-major; the bias is 0)
// and whether the name is one of Presets.
func Preset(name string) ([9]float64, bool) {
	k, ok := presets[name]
	return k, ok
}

// fields are conv-slide's parameters. Every combination within the bounds
// fits the 28×28 digit, so the spec needs no Check.
var fields = []run.Field{
	{Name: "digit", Kind: run.Int, Default: 0, Min: 0, Max: float64(lab.TestSet().N - 1), Desc: run.Text{
		En: "the digit the kernel slides over: its index in the embedded MNIST test set",
		Zh: "卷积核滑过的数字：它在内置 MNIST 测试集中的编号",
	}},
	{Name: "preset", Kind: run.Choice, Default: "vertical-edge", Choices: presetNames, Desc: run.Text{
		En: "the 3×3 kernel: identity, Sobel vertical or horizontal edge, binomial blur, or sharpen",
		Zh: "3×3 卷积核：恒等、Sobel 竖直或水平边缘、二项式模糊或锐化",
	}},
	{Name: "stride", Kind: run.Int, Default: 1, Min: 1, Max: 3, Desc: run.Text{
		En: "how many pixels the kernel moves from one output cell to the next",
		Zh: "卷积核从一个输出单元移到下一个时移动的像素数",
	}},
	{Name: "padding", Kind: run.Int, Default: 1, Min: 0, Max: 2, Desc: run.Text{
		En: "rings of zeros added around the digit",
		Zh: "在数字四周补零的圈数",
	}},
	{Name: "dilation", Kind: run.Int, Default: 1, Min: 1, Max: 2, Desc: run.Text{
		En: "the spacing of the pixels the kernel reads (1: neighbours)",
		Zh: "卷积核读取的像素之间的间距（1 表示相邻）",
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
		Title:  run.Text{En: "One kernel, many places", Zh: "同一个卷积核，用在许多位置"},
		Fields: fields,
		New:    func(v run.Values) (run.Experiment, error) { return newSlide(v) },
		Exports: []run.Export{
			{Format: "png", Write: writeFigure("png")},
			{Format: "svg", Write: writeFigure("svg")},
			{Format: "json", Write: writeJSON},
		},
		// Measured on the development machine at the largest map (stride
		// 1, padding 2: 900 cells): a step (one cell's nine terms) takes
		// 0.5 µs on average, 70 µs at worst (a GC pause); a run holds
		// 23 kB (the digit, the output map, the static part) besides what
		// the run keeps of its encoded frame; the largest data part seen
		// is 4.8 kB, the largest static part 2.4 kB.
		Budget: run.Budget{Step: 100 * time.Microsecond, Memory: 64 << 10, FrameBytes: 10 << 10, StaticBytes: 6 << 10},
		// The most cells: 30×30 with padding 2.
		Costliest: map[string]any{"padding": 2, "stride": 1, "dilation": 1},
	})
}

// params are the parameters as the frame's static part shows them.
type params struct {
	Digit    int    `json:"digit"`    // index into the embedded MNIST test set
	Preset   string `json:"preset"`   // one of presetNames
	Stride   int    `json:"stride"`   // 1..3
	Padding  int    `json:"padding"`  // 0..2
	Dilation int    `json:"dilation"` // 1..2
}

func paramsOf(v run.Values) params {
	return params{
		Digit: v.Int("digit"), Preset: v.String("preset"),
		Stride: v.Int("stride"), Padding: v.Int("padding"), Dilation: v.Int("dilation"),
	}
}

// slide is the experiment. Step k has computed the first k output cells.
type slide struct {
	v      run.Values
	p      params
	x      *engine.Tensor // the digit, [1, 1, 28, 28], pixel/255
	conv   *engine.Conv2d
	oh, ow int
	static staticPart // built once per parameters, never modified
	rev    int

	pos   int
	out   []float64     // cells 0..pos-1 in raster order
	terms []engine.Term // the terms of cell pos-1; nil at step 0
}

var _ run.Rewinder = (*slide)(nil)

func newSlide(v run.Values) (*slide, error) {
	s := &slide{}
	if err := s.load(v, 0); err != nil {
		return nil, err
	}
	return s, nil
}

// load builds everything for v at step min(keep, cells), and only then
// replaces s's state, so an error leaves s as it was.
func (s *slide) load(v run.Values, keep int) error {
	p := paramsOf(v)
	k := presets[p.Preset]
	im := lab.TestSet()
	x := im.Image(p.Digit)
	// The engine's Forward of the whole map (for the colour scale) and its
	// Count run on a layer of their own, dropped afterwards with the
	// buffers Forward keeps for a backward pass; the run keeps only a
	// layer whose Terms it asks for.
	fwd, err := newConv(p, k)
	if err != nil {
		return err
	}
	model, err := engine.NewModel(name, []int{1, im.H, im.W}, nil, fwd)
	if err != nil {
		return fmt.Errorf("convslide: %w", err)
	}
	var absMax float64
	for _, y := range model.Forward(x, nil).Data {
		absMax = math.Max(absMax, math.Abs(y))
	}
	count := model.Count()
	conv, err := newConv(p, k)
	if err != nil {
		return err
	}
	oh := engine.Conv2dOutSize(im.H, kernel, p.Stride, p.Padding, p.Dilation)
	ow := engine.Conv2dOutSize(im.W, kernel, p.Stride, p.Padding, p.Dilation)
	pixels := make([]int, im.H*im.W)
	for i, b := range im.Pixels[p.Digit*im.H*im.W : (p.Digit+1)*im.H*im.W] {
		pixels[i] = int(b)
	}
	*s = slide{
		v: v, p: p, x: x, conv: conv, oh: oh, ow: ow, rev: s.rev + 1,
		static: staticPart{
			Params: p, Label: int(im.Labels[p.Digit]), InputH: im.H, InputW: im.W,
			Pixels: pixels, Kernel: k, Bias: 0, OutH: oh, OutW: ow, OutAbsMax: absMax,
			Counts: counts{Params: count.Params, Positions: oh * ow, MultiplyAdds: count.Uses, Unshared: count.Unshared},
		},
		out: make([]float64, 0, oh*ow),
	}
	for s.pos < min(keep, s.Total()) {
		s.Advance()
	}
	return nil
}

// newConv returns the 3×3 convolution of p with kernel k and bias 0.
func newConv(p params, k [9]float64) (*engine.Conv2d, error) {
	conv, err := engine.NewConv2d("conv", engine.Conv2dConfig{
		InChannels: 1, OutChannels: 1, KernelSize: kernel,
		Stride: p.Stride, Padding: p.Padding, Dilation: p.Dilation,
	}, engine.NewRand(1))
	if err != nil {
		return nil, fmt.Errorf("convslide: %w", err)
	}
	copy(conv.Weight.Value.Data, k[:])
	conv.Bias.Value.Data[0] = 0
	return conv, nil
}

// Total is the number of output cells.
func (s *slide) Total() int { return s.oh * s.ow }

// Pos is the number of cells computed.
func (s *slide) Pos() int { return s.pos }

// Advance computes the next cell: Σ of the engine's nine terms plus the
// bias.
func (s *slide) Advance() error {
	s.terms = s.cellTerms(s.pos)
	s.out = append(s.out, sumTerms(s.terms)+s.conv.Bias.Value.Data[0])
	s.pos++
	return nil
}

// cellTerms returns the engine's terms of cell i (raster order).
func (s *slide) cellTerms(i int) []engine.Term {
	return s.conv.Terms(s.x, 0, 0, i/s.ow, i%s.ow)
}

func sumTerms(terms []engine.Term) float64 {
	var sum float64
	for _, t := range terms {
		sum += t.Product
	}
	return sum
}

// Rewind goes back to step k < Pos: the cells before k stay as they were
// computed, and only cell k-1's terms are asked for again.
func (s *slide) Rewind(k int) error {
	s.pos, s.out, s.terms = k, s.out[:k], nil
	if k > 0 {
		s.terms = s.cellTerms(k - 1)
	}
	return nil
}

// Restart goes back to step 0.
func (s *slide) Restart() error { return s.Rewind(0) }

// SetParams takes new parameters, keeping the step (or the last cell, if
// the new map has fewer).
func (s *slide) SetParams(v run.Values) error {
	if v.Equal(s.v) {
		return nil
	}
	return s.load(v, s.pos)
}

// staticPart is the part of a frame that changes only with the parameters.
type staticPart struct {
	Params params `json:"params"`
	Label  int    `json:"label"`  // the digit's class
	InputH int    `json:"inputH"` // 28
	InputW int    `json:"inputW"`
	// Pixels are the digit's bytes in row-major order; the layer's input
	// is pixel/255.
	Pixels []int      `json:"pixels"`
	Kernel [9]float64 `json:"kernel"` // row-major
	Bias   float64    `json:"bias"`
	OutH   int        `json:"outH"`
	OutW   int        `json:"outW"`
	// OutAbsMax is the largest |cell| of the whole output map (from the
	// engine's Forward), so the map's colour scale, −OutAbsMax..OutAbsMax,
	// stays fixed while it fills in, on screen and in exports alike.
	OutAbsMax float64 `json:"outAbsMax"`
	Counts    counts  `json:"counts"`
}

// counts is the sharing line, from the engine's Model.Count.
type counts struct {
	Params       int `json:"params"`       // unique parameters (9 weights + 1 bias)
	Positions    int `json:"positions"`    // output cells, OH·OW
	MultiplyAdds int `json:"multiplyAdds"` // Count().Uses
	Unshared     int `json:"unshared"`     // parameters of the locally connected twin
}

// dataPart is the part of a frame that changes with each step.
type dataPart struct {
	Step  int   `json:"step"`
	Total int   `json:"total"`
	Cell  *cell `json:"cell"` // the last computed cell; null at step 0
	// Map holds the first Step cells of the output map in raster order
	// (row oy = i / OutW); cells not yet reached are not sent.
	Map []float64 `json:"map"`
}

// cell is one output cell's arithmetic.
type cell struct {
	OY     int     `json:"oy"`
	OX     int     `json:"ox"`
	Window window  `json:"window"`
	Terms  []term  `json:"terms"` // 9, kernel row-major
	Sum    float64 `json:"sum"`   // Σ products
	Bias   float64 `json:"bias"`
	Out    float64 `json:"out"` // Sum + Bias, the output cell
}

// window is the input rectangle the kernel covers, corners inclusive,
// every Dilation-th pixel; coordinates outside the image are padding.
type window struct {
	Top      int `json:"top"`
	Left     int `json:"left"`
	Bottom   int `json:"bottom"`
	Right    int `json:"right"`
	Dilation int `json:"dilation"`
}

// term is one of the nine products, from engine.Term.
type term struct {
	Y       int     `json:"y"`
	X       int     `json:"x"`
	Input   float64 `json:"input"`
	Weight  float64 `json:"weight"`
	Product float64 `json:"product"`
	Padding bool    `json:"padding,omitempty"`
}

// mapDigits is the number of decimals kept in a live frame's output map:
// the map is drawn as colours, so 4 decimals lose nothing visible and keep
// a full frame under 5 kB. The current cell's numbers keep full precision.
const mapDigits = 4

// Frame returns the static part (its revision changes with the parameters)
// and the step's data. Nothing returned is changed by later steps.
func (s *slide) Frame() run.Frame {
	return run.Frame{StaticRev: s.rev, Static: s.static, Data: s.data(mapDigits)}
}

// data returns the step's data with the map rounded to digits decimals
// (digits < 0 keeps full precision).
func (s *slide) data(digits int) dataPart {
	d := dataPart{Step: s.pos, Total: s.Total(), Map: slices.Clone(s.out)}
	if d.Map == nil {
		d.Map = []float64{}
	}
	if digits >= 0 {
		scale := math.Pow10(digits)
		for i, v := range d.Map {
			d.Map[i] = math.Round(v*scale) / scale
		}
	}
	if s.pos == 0 {
		return d
	}
	oy, ox := (s.pos-1)/s.ow, (s.pos-1)%s.ow
	c := &cell{OY: oy, OX: ox, Bias: s.conv.Bias.Value.Data[0], Out: s.out[s.pos-1], Sum: sumTerms(s.terms)}
	c.Window = window{Top: oy*s.p.Stride - s.p.Padding, Left: ox*s.p.Stride - s.p.Padding, Dilation: s.p.Dilation}
	c.Window.Bottom = c.Window.Top + (kernel-1)*s.p.Dilation
	c.Window.Right = c.Window.Left + (kernel-1)*s.p.Dilation
	c.Terms = make([]term, len(s.terms))
	for i, t := range s.terms {
		c.Terms[i] = term{Y: t.Y, X: t.X, Input: t.Input, Weight: t.Weight, Product: t.Product, Padding: t.Padding}
	}
	d.Cell = c
	return d
}
