// Package paramcalc is the experiment of lesson 1, "Why share?": for an
// input of size×size pixels with some channels, it counts the parameters
// and the uses of a dense layer, a locally connected layer and a
// convolution that all map the input to an output of the same shape. The
// counts come from the engine's Model.Count on the built layers (through
// lab.CountLayer), or from the engine's formula for layers too large to
// build. It has a single step: its picture depends on the parameters only.
package paramcalc

import (
	"embed"
	"fmt"
	"time"

	"github.com/paramshare/paramshare/lab"
	"github.com/paramshare/paramshare/run"
)

const name = "param-calc"

// buildLimit is the largest layer (in parameters) the calculator builds to
// ask the engine for its count. A layer of n parameters holds 2n float64
// (values and gradients): 2²⁰ parameters are 16 MB, built in a few
// milliseconds, and dropped once counted. Larger layers (a dense layer on a
// 64×64 image has 16.8 million) are counted with the formula instead, and
// the frame says so.
const buildLimit = 1 << 20

// The input sizes the calculator takes (and its sweep spans, every
// sweepStep pixels).
const (
	minSize, maxSize = 8, 128
	sweepStep        = 8
)

// Kernels are odd so that "same" padding, (k−1)/2 on each side, keeps the
// output as large as the input: the three layers then map the same input
// to the same output and differ only in how they connect the two.
var fields = []run.Field{
	{Name: "size", Kind: run.Int, Default: 28, Min: minSize, Max: maxSize, Desc: run.Text{
		En: "the input's height and width, in pixels",
		Zh: "输入的高和宽（像素）",
	}},
	{Name: "inChannels", Kind: run.Int, Default: 1, Min: 1, Max: 64, Desc: run.Text{
		En: "the input's channels (1 for grey, 3 for colour)",
		Zh: "输入的通道数（灰度为 1，彩色为 3）",
	}},
	{Name: "kernel", Kind: run.Int, Default: 3, Min: 1, Max: 11, Step: 2, Desc: run.Text{
		En: "the window's side k (odd) for the convolution and the locally connected layer",
		Zh: "卷积层和局部连接层的窗口边长 k（奇数）",
	}},
	{Name: "outChannels", Kind: run.Int, Default: 1, Min: 1, Max: 256, Desc: run.Text{
		En: "the output's channels",
		Zh: "输出的通道数",
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
		Title:  run.Text{En: "Why share?", Zh: "为什么要共享？"},
		Fields: fields,
		New:    func(v run.Values) (run.Experiment, error) { return newCalc(v) },
		Exports: []run.Export{
			{Format: "png", Write: writeFigure("png")},
			{Format: "svg", Write: writeFigure("svg")},
			{Format: "json", Write: writeJSON},
		},
		// Measured on the development machine: the step changes nothing
		// (0.1 µs; the budget is a floor for timing noise). The counting is
		// done by New and SetParams: 6–13 ms at worst (11×11 input, 11×11
		// kernel, 64 output channels builds 1.9 M parameters in two layers,
		// dropped once counted). A run holds 3.1 kB with its encoded frame
		// (the experiment alone 1.1 kB); the static part is at most 1.25 kB
		// (every field at its maximum), the data part 20 B.
		Budget:    run.Budget{Step: 100 * time.Microsecond, Memory: 8 << 10, FrameBytes: 64, StaticBytes: 2 << 10},
		Costliest: map[string]any{"size": 128, "inChannels": 64, "kernel": 11, "outChannels": 256},
	})
}

// params are the parameters as the frame shows them.
type params struct {
	Size        int `json:"size"`        // height = width
	InChannels  int `json:"inChannels"`  // input channels
	Kernel      int `json:"kernel"`      // odd window side
	OutChannels int `json:"outChannels"` // output channels
}

func paramsOf(v run.Values) params {
	return params{Size: v.Int("size"), InChannels: v.Int("inChannels"), Kernel: v.Int("kernel"), OutChannels: v.Int("outChannels")}
}

// The three layers the calculator compares, in the order it shows them,
// named as the frame names them.
const (
	layerDense = "dense"
	layerLocal = "locally-connected"
	layerConv  = "conv"
)

var layers = []string{layerDense, layerLocal, layerConv}

// labKind maps the frame's layer names to lab's.
var labKind = map[string]string{layerDense: lab.LayerDense, layerLocal: lab.LayerLocal, layerConv: lab.LayerConv}

// count is one layer's count: unique parameters and uses (multiply-adds
// per example that parameters take part in). Computed is true when it came
// from the formula because the layer was too large to build, false when
// from engine.Model.Count on the built layer.
type count struct {
	Layer    string `json:"layer"`
	Params   int    `json:"params"`
	Uses     int    `json:"uses"`
	Computed bool   `json:"computed"`
}

// countLayer asks lab's parameter table for one layer on p — "same"
// padding, (k−1)/2 on each side — building it when it holds at most limit
// parameters (a limit of 0 builds nothing: the formula).
func countLayer(layer string, p params, limit int) (count, error) {
	cfg := lab.ParamsConfig{Sizes: []int{p.Size}, InChannels: p.InChannels, OutChannels: p.OutChannels, Kernel: p.Kernel, Padding: (p.Kernel - 1) / 2}
	row, err := lab.CountLayer(cfg, p.Size, labKind[layer], limit)
	if err != nil {
		return count{}, fmt.Errorf("paramcalc: %w", err)
	}
	return count{Layer: layer, Params: row.Params, Uses: row.Uses, Computed: row.Source != "built"}, nil
}

// sweepPoint is the three layers' parameter counts at one input size, the
// other parameters fixed (by the formula, for a chart over sizes).
type sweepPoint struct {
	Size   int    `json:"size"`
	Params [3]int `json:"params"` // in layers' order
}

// staticPart is the calculator's whole picture; it travels as the frame's
// static part (it changes only with the parameters).
type staticPart struct {
	Params params  `json:"params"`
	Out    [3]int  `json:"out"` // output shape [OC, H, W] of every layer
	Counts []count `json:"counts"`
	Limit  int     `json:"buildLimit"` // buildLimit
	// Sweep is the parameter counts at input sizes 8, 16, …, 128 with the
	// other parameters as they are, by the formula.
	Sweep []sweepPoint `json:"sweep"`
}

// dataPart is the step: the calculator has nothing else that moves.
type dataPart struct {
	Step  int `json:"step"`
	Total int `json:"total"`
}

// calc is the experiment.
type calc struct {
	v      run.Values
	static staticPart // never modified once built
	rev    int
	pos    int
}

var _ run.Rewinder = (*calc)(nil)

func newCalc(v run.Values) (*calc, error) {
	c := &calc{}
	if err := c.load(v); err != nil {
		return nil, err
	}
	return c, nil
}

// load counts everything for v, and only then replaces c's picture.
func (c *calc) load(v run.Values) error {
	p := paramsOf(v)
	counts := make([]count, len(layers))
	for i, layer := range layers {
		n, err := countLayer(layer, p, buildLimit)
		if err != nil {
			return err
		}
		counts[i] = n
	}
	var sweep []sweepPoint
	for size := minSize; size <= maxSize; size += sweepStep {
		q := p
		q.Size = size
		pt := sweepPoint{Size: q.Size}
		for i, layer := range layers {
			n, err := countLayer(layer, q, 0)
			if err != nil {
				return err
			}
			pt.Params[i] = n.Params
		}
		sweep = append(sweep, pt)
	}
	c.v, c.rev = v, c.rev+1
	c.static = staticPart{Params: p, Out: [3]int{p.OutChannels, p.Size, p.Size}, Counts: counts, Limit: buildLimit, Sweep: sweep}
	return nil
}

// Total is 1: the calculator has nothing to step through.
func (c *calc) Total() int { return 1 }

// Pos is 0 or 1.
func (c *calc) Pos() int { return c.pos }

// Advance takes the single step (it changes nothing the picture shows).
func (c *calc) Advance() error {
	c.pos = 1
	return nil
}

// Rewind goes back to step 0.
func (c *calc) Rewind(k int) error {
	c.pos = k
	return nil
}

// Restart goes back to step 0.
func (c *calc) Restart() error { return c.Rewind(0) }

// SetParams counts again for v, keeping the step.
func (c *calc) SetParams(v run.Values) error {
	if v.Equal(c.v) {
		return nil
	}
	return c.load(v)
}

// Frame returns the counts as the static part; the data part is only the
// step.
func (c *calc) Frame() run.Frame {
	return run.Frame{StaticRev: c.rev, Static: c.static, Data: dataPart{Step: c.pos, Total: 1}}
}
