package run

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/paramshare/paramshare/lab"
)

// ParamCalcName is the registry name of the parameter calculator.
const ParamCalcName = "param-calc"

func init() {
	Register(ParamCalcName, func(raw json.RawMessage) (Experiment, error) {
		p := DefaultParamCalcParams()
		if err := decodeParams(raw, &p); err != nil {
			return nil, err
		}
		return NewParamCalc(p)
	})
}

// Limits of the calculator's parameters. Kernels are odd so that "same"
// padding, (k−1)/2 on each side, keeps the output as large as the input:
// the three layers then map the same input to the same output and differ
// only in how they connect the two.
const (
	CalcMinSize, CalcMaxSize         = 8, 128
	CalcMinChannels, CalcMaxChannels = 1, 64
	CalcMinKernel, CalcMaxKernel     = 1, 11
	CalcMinOut, CalcMaxOut           = 1, 256
)

// CalcBuildLimit is the largest layer (in parameters) the calculator builds
// to ask the engine for its count. A layer of n parameters holds 2n float64
// (values and gradients): 2²⁰ parameters are 16 MB, built in a few
// milliseconds. Larger layers (a dense layer on a 64×64 image has 16.8
// million) are counted with CalcFormula instead, and the frame says so.
const CalcBuildLimit = 1 << 20

// ParamCalcParams are the calculator's inputs: one input of Size×Size pixels
// with InChannels channels, mapped to OutChannels channels of the same size.
type ParamCalcParams struct {
	Size        int `json:"size"`        // height = width, 8..128
	InChannels  int `json:"inChannels"`  // 1..64
	Kernel      int `json:"kernel"`      // odd, 1..11
	OutChannels int `json:"outChannels"` // 1..256
}

// DefaultParamCalcParams is the setting of lesson 2: a 28×28 digit, one
// channel in and out, a 3×3 kernel.
func DefaultParamCalcParams() ParamCalcParams {
	return ParamCalcParams{Size: 28, InChannels: 1, Kernel: 3, OutChannels: 1}
}

// Validate returns an *Error with CodeBadParams naming the first parameter
// out of range, or nil.
func (p ParamCalcParams) Validate() error {
	switch {
	case p.Size < CalcMinSize || p.Size > CalcMaxSize:
		return errorf(CodeBadParams, "size must be between %d and %d, got %d", CalcMinSize, CalcMaxSize, p.Size)
	case p.InChannels < CalcMinChannels || p.InChannels > CalcMaxChannels:
		return errorf(CodeBadParams, "inChannels must be between %d and %d, got %d", CalcMinChannels, CalcMaxChannels, p.InChannels)
	case p.Kernel < CalcMinKernel || p.Kernel > CalcMaxKernel || p.Kernel%2 == 0:
		return errorf(CodeBadParams, "kernel must be odd, between %d and %d, got %d", CalcMinKernel, CalcMaxKernel, p.Kernel)
	case p.OutChannels < CalcMinOut || p.OutChannels > CalcMaxOut:
		return errorf(CodeBadParams, "outChannels must be between %d and %d, got %d", CalcMinOut, CalcMaxOut, p.OutChannels)
	}
	return nil
}

// The three layers the calculator compares, in the order it shows them.
const (
	CalcDense = "dense"
	CalcLocal = "locally-connected"
	CalcConv  = "conv"
)

// CalcLayers lists the compared layers in display order.
func CalcLayers() []string { return []string{CalcDense, CalcLocal, CalcConv} }

// CalcCount is one layer's count: unique parameters and uses (multiply-adds
// per example that parameters take part in). Computed is true when it came
// from CalcFormula because the layer was too large to build, false when
// from engine.Model.Count on the built layer.
type CalcCount struct {
	Layer    string `json:"layer"`
	Params   int    `json:"params"`
	Uses     int    `json:"uses"`
	Computed bool   `json:"computed"`
}

// countLayer asks lab's parameter table for one layer on p — "same"
// padding, (k−1)/2 on each side, so that the three layers map the same
// input to the same output — building it when it holds at most buildLimit
// parameters. An unknown layer panics: the names are this package's own.
func countLayer(layer string, p ParamCalcParams, buildLimit int) (CalcCount, bool, error) {
	kind, ok := map[string]string{CalcDense: lab.LayerDense, CalcLocal: lab.LayerLocal, CalcConv: lab.LayerConv}[layer]
	if !ok {
		panic(fmt.Sprintf("run: param-calc: unknown layer %q", layer))
	}
	cfg := lab.ParamsConfig{Sizes: []int{p.Size}, InChannels: p.InChannels, OutChannels: p.OutChannels, Kernel: p.Kernel, Padding: (p.Kernel - 1) / 2}
	row, err := lab.CountLayer(cfg, p.Size, kind, buildLimit)
	if err != nil {
		return CalcCount{}, false, err
	}
	built := row.Source == "built"
	return CalcCount{Layer: layer, Params: row.Params, Uses: row.Uses, Computed: !built}, built, nil
}

// CalcFormula counts layer (one of CalcLayers) on p by arithmetic, with the
// same rules as the engine's Count (lab's formula): a dense layer from every
// input value to every output value with a bias per output; a convolution
// with one k×k×C kernel and a bias per output channel, used at each of the
// H·W positions; the locally connected twin with a kernel and a bias of its
// own at every position. p must be valid; an unknown layer panics.
func CalcFormula(layer string, p ParamCalcParams) CalcCount {
	c, _, _ := countLayer(layer, p, 0) // a limit of 0 builds nothing, so no error
	return c
}

// CalcEngine builds layer on p and returns engine.Model.Count's unique
// parameters and uses, or ok false (building nothing) when the layer would
// hold more than CalcBuildLimit parameters. p must be valid.
func CalcEngine(layer string, p ParamCalcParams) (c CalcCount, ok bool, err error) {
	c, built, err := countLayer(layer, p, CalcBuildLimit)
	if err != nil || !built {
		return CalcCount{}, false, err
	}
	return c, true, nil
}

// ParamCalc is the "why share?" calculator: for its parameters it counts
// the parameters and uses of a dense layer, a locally connected layer and a
// convolution that all map the same input to the same output. It has a
// single step; its frame depends on the parameters only.
type ParamCalc struct {
	p      ParamCalcParams
	counts []CalcCount
	sweep  []CalcSweepPoint
	rev    int
	pos    int
}

// CalcSweepPoint is the three layers' parameter counts at one input size,
// the other parameters fixed (by CalcFormula, for a chart over sizes).
type CalcSweepPoint struct {
	Size   int    `json:"size"`
	Params [3]int `json:"params"` // in CalcLayers order
}

// NewParamCalc validates p and returns the calculator with its counts.
func NewParamCalc(p ParamCalcParams) (*ParamCalc, error) {
	c := &ParamCalc{}
	if err := c.load(p); err != nil {
		return nil, err
	}
	return c, nil
}

// load counts everything for p, and only then replaces c's state.
func (c *ParamCalc) load(p ParamCalcParams) error {
	if err := p.Validate(); err != nil {
		return err
	}
	counts := make([]CalcCount, 0, 3)
	for _, layer := range CalcLayers() {
		n, built, err := CalcEngine(layer, p)
		if err != nil {
			return errorf(CodeBadParams, "%v", err)
		}
		if !built {
			n = CalcFormula(layer, p)
		}
		counts = append(counts, n)
	}
	var sweep []CalcSweepPoint
	for size := CalcMinSize; size <= CalcMaxSize; size += 8 {
		q := p
		q.Size = size
		pt := CalcSweepPoint{Size: size}
		for i, layer := range CalcLayers() {
			pt.Params[i] = CalcFormula(layer, q).Params
		}
		sweep = append(sweep, pt)
	}
	*c = ParamCalc{p: p, counts: counts, sweep: sweep, rev: c.rev + 1, pos: c.pos}
	return nil
}

// Params returns the current parameters.
func (c *ParamCalc) Params() ParamCalcParams { return c.p }

// Counts returns the three layers' counts in CalcLayers order.
func (c *ParamCalc) Counts() []CalcCount { return append([]CalcCount(nil), c.counts...) }

// Total is 1: the calculator has nothing to step through.
func (c *ParamCalc) Total() int { return 1 }

// Pos is 0 or 1.
func (c *ParamCalc) Pos() int { return c.pos }

// Advance takes the single step (it changes nothing the frame shows).
func (c *ParamCalc) Advance() error {
	if c.pos >= 1 {
		return errors.New("run: param-calc: no steps left")
	}
	c.pos = 1
	return nil
}

// Seek goes to step 0 or 1.
func (c *ParamCalc) Seek(k int) error {
	if k < 0 || k > 1 {
		return fmt.Errorf("run: param-calc: step %d outside [0, 1]", k)
	}
	c.pos = k
	return nil
}

// SetParams merges raw (any subset of the parameters) onto the current ones.
func (c *ParamCalc) SetParams(raw json.RawMessage) error {
	p := c.p
	if err := decodeParams(raw, &p); err != nil {
		return err
	}
	return c.load(p)
}

// ParamCalcFrame is the calculator's whole picture; it travels as the
// frame's static part (it changes only with the parameters).
type ParamCalcFrame struct {
	Params ParamCalcParams `json:"params"`
	Out    [3]int          `json:"out"` // output shape [OC, H, W] of every layer
	Counts []CalcCount     `json:"counts"`
	Limit  int             `json:"buildLimit"` // CalcBuildLimit
	// Sweep is the parameter counts at input sizes 8, 16, …, 128 with the
	// other parameters as they are, by CalcFormula.
	Sweep []CalcSweepPoint `json:"sweep"`
}

// Frame returns the counts as the static part; the data part is only the
// step.
func (c *ParamCalc) Frame() Frame {
	return Frame{StaticRev: c.rev, Static: c.StaticFrame(), Data: struct {
		Step  int `json:"step"`
		Total int `json:"total"`
	}{c.pos, 1}}
}

// StaticFrame returns the calculator's picture.
func (c *ParamCalc) StaticFrame() ParamCalcFrame {
	return ParamCalcFrame{
		Params: c.p, Out: [3]int{c.p.OutChannels, c.p.Size, c.p.Size},
		Counts: c.Counts(), Limit: CalcBuildLimit, Sweep: append([]CalcSweepPoint(nil), c.sweep...),
	}
}
