package run

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"

	"github.com/paramshare/paramshare/engine"
	"github.com/paramshare/paramshare/viz"
)

// ConvGradName is the registry name of the conv-grad experiment.
const ConvGradName = "conv-grad"

func init() {
	Register(ConvGradName, func(raw json.RawMessage) (Experiment, error) {
		p := DefaultConvGradParams()
		if err := decodeParams(raw, &p); err != nil {
			return nil, err
		}
		return NewConvGrad(p)
	})
}

// ConvGradRandom is the conv-grad kernel choice that keeps the layer's own
// seeded initialisation (PyTorch's default) instead of a preset.
const ConvGradRandom = "random"

// ConvGradKernels lists the kernel choices: random, then the conv-slide
// presets.
func ConvGradKernels() []string { return append([]string{ConvGradRandom}, ConvPresets()...) }

// ConvGradMaxSeed is the largest seed conv-grad accepts.
const ConvGradMaxSeed = 9999

// ConvGradParams are the conv-grad widget's parameters.
type ConvGradParams struct {
	Digit  int    `json:"digit"`  // index into the embedded MNIST test set
	Kernel string `json:"kernel"` // one of ConvGradKernels()
	Seed   int    `json:"seed"`   // 0..ConvGradMaxSeed: the dense layer's weights (and a random kernel)
}

// DefaultConvGradParams is what a widget gets for parameters it leaves out:
// the vertical-edge kernel of lesson 2 on its first digit.
func DefaultConvGradParams() ConvGradParams {
	return ConvGradParams{Digit: 0, Kernel: "vertical-edge", Seed: 1}
}

// Validate returns an *Error with CodeBadParams naming the first parameter
// out of range, or nil.
func (p ConvGradParams) Validate() error {
	switch {
	case p.Digit < 0 || p.Digit >= ConvDigits():
		return errorf(CodeBadParams, "digit must be between 0 and %d, got %d", ConvDigits()-1, p.Digit)
	case !slices.Contains(ConvGradKernels(), p.Kernel):
		return errorf(CodeBadParams, "kernel must be one of %s, got %q", strings.Join(ConvGradKernels(), ", "), p.Kernel)
	case p.Seed < 0 || p.Seed > ConvGradMaxSeed:
		return errorf(CodeBadParams, "seed must be between 0 and %d, got %d", ConvGradMaxSeed, p.Seed)
	}
	return nil
}

// ConvGrad is the "how a shared kernel learns" experiment. The model is a
// real, small classifier: conv (1→1 channel, 3×3, padding 1) → flatten →
// linear (784→10) → cross-entropy against the digit's label. One Backward
// with a tap records each output position's contribution to the kernel's
// gradient (engine.UsePosition); step k adds contribution k into a running
// sum, which after the last position equals the engine's dW. Beside it the
// same network with the convolution unshared (engine.LocallyConnected2d,
// every position's kernel set to the same values) runs its own Backward:
// there each position's contribution stays in that position's own kernel.
type ConvGrad struct {
	p      ConvGradParams
	label  int
	pixels []int
	x      *engine.Tensor // [1, 1, 28, 28]
	target *engine.Tensor // [1], the label
	model  *engine.Model
	conv   *engine.Conv2d
	oh, ow int

	loss      float64
	probs     []float64
	kernel    [9]float64
	bias      float64
	dW        [9]float64 // the engine's conv.Weight.Grad after Backward
	dB        float64
	contribW  [][9]float64 // per position p = oy·OW + ox, from the tap
	contribB  []float64    // = the upstream gradient dL/dy at p
	lcW       [][9]float64 // the unshared layer's gradient of p's own kernel
	lcB       []float64
	lcLoss    float64
	norms     []float64 // ‖contribW[p]‖₂
	accAbsMax float64   // largest |running sum| over all steps
	rev       int

	pos  int
	accW [9]float64 // Σ contribW[0..pos-1], added in position order
	accB float64
}

// NewConvGrad validates p and returns the experiment at step 0.
func NewConvGrad(p ConvGradParams) (*ConvGrad, error) {
	g := &ConvGrad{}
	if err := g.load(p); err != nil {
		return nil, err
	}
	return g, nil
}

// positionTap keeps the UsePosition contributions of one conv layer's
// weight and bias, copied (the engine lends them for the call only).
type positionTap struct {
	weight, bias *engine.Param
	ow           int
	w            [][9]float64
	b            []float64
	seen         []bool
}

func (t *positionTap) Output(engine.Layer, *engine.Tensor, *engine.Tensor) {}

func (t *positionTap) Contribute(c engine.Contribution) {
	if c.Kind != engine.UsePosition || len(c.Index) != 2 {
		return
	}
	p := c.Index[0]*t.ow + c.Index[1]
	switch c.Param {
	case t.weight:
		copy(t.w[p][:], c.Grad.Data)
		t.seen[p] = true
	case t.bias:
		t.b[p] = c.Grad.Data[0]
	}
}

// load builds both models, runs one Backward through each and only then
// replaces g's state, so a bad p leaves g untouched.
func (g *ConvGrad) load(p ConvGradParams) error {
	if err := p.Validate(); err != nil {
		return err
	}
	im := mnistTest()
	cfg := engine.Conv2dConfig{InChannels: 1, OutChannels: 1, KernelSize: convKernel, Stride: 1, Padding: 1}
	rng := engine.NewRand(uint64(p.Seed))
	conv, err := engine.NewConv2d("conv", cfg, rng)
	if err != nil {
		return errorf(CodeBadParams, "%v", err)
	}
	if p.Kernel != ConvGradRandom {
		k := convPresets[p.Kernel]
		copy(conv.Weight.Value.Data, k[:])
		conv.Bias.Value.Data[0] = 0
	}
	oh := engine.Conv2dOutSize(im.H, convKernel, 1, 1, 1)
	ow := engine.Conv2dOutSize(im.W, convKernel, 1, 1, 1)
	fc, err := engine.NewLinear("fc", oh*ow, 10, rng)
	if err != nil {
		return errorf(CodeBadParams, "%v", err)
	}
	model, err := engine.NewModel(ConvGradName, []int{1, im.H, im.W}, engine.NewCrossEntropy(), conv, engine.NewFlatten("flatten"), fc)
	if err != nil {
		return errorf(CodeBadParams, "%v", err)
	}
	x, target := im.Batch([]int{p.Digit})
	P := oh * ow
	tap := &positionTap{weight: conv.Weight, bias: conv.Bias, ow: ow, w: make([][9]float64, P), b: make([]float64, P), seen: make([]bool, P)}
	loss, err := model.ComputeGrad(x, target, tap)
	if err != nil {
		return fmt.Errorf("run: conv-grad: %w", err)
	}
	if slices.Contains(tap.seen, false) {
		return errors.New("run: conv-grad: the engine reported no contribution for some positions")
	}
	probs := slices.Clone(model.Loss.(*engine.CrossEntropy).Probabilities().Data)

	// The unshared twin: a kernel of its own at every position, all set to
	// the conv's kernel and bias, and the same dense layer, so that it
	// computes the same function and receives the same upstream gradient.
	lc, err := engine.NewLocallyConnected2d("lc", cfg, im.H, im.W, engine.NewRand(uint64(p.Seed)))
	if err != nil {
		return errorf(CodeBadParams, "%v", err)
	}
	for q := range P {
		copy(lc.Weight.Value.Data[q*9:(q+1)*9], conv.Weight.Value.Data)
		lc.Bias.Value.Data[q] = conv.Bias.Value.Data[0]
	}
	fc2, err := engine.NewLinear("fc", oh*ow, 10, engine.NewRand(0)) // overwritten below
	if err != nil {
		return errorf(CodeBadParams, "%v", err)
	}
	copy(fc2.Weight.Value.Data, fc.Weight.Value.Data)
	copy(fc2.Bias.Value.Data, fc.Bias.Value.Data)
	twin, err := engine.NewModel(ConvGradName+"-unshared", []int{1, im.H, im.W}, engine.NewCrossEntropy(), lc, engine.NewFlatten("flatten"), fc2)
	if err != nil {
		return errorf(CodeBadParams, "%v", err)
	}
	lcLoss, err := twin.ComputeGrad(x, target, nil)
	if err != nil {
		return fmt.Errorf("run: conv-grad: unshared twin: %w", err)
	}

	n := &ConvGrad{
		p: p, label: int(im.Labels[p.Digit]), x: x, target: target, model: model, conv: conv,
		oh: oh, ow: ow, loss: loss, probs: probs, bias: conv.Bias.Value.Data[0], dB: conv.Bias.Grad.Data[0],
		contribW: tap.w, contribB: tap.b, lcW: make([][9]float64, P), lcB: slices.Clone(lc.Bias.Grad.Data),
		lcLoss: lcLoss, norms: make([]float64, P), rev: g.rev + 1,
	}
	n.pixels = make([]int, im.H*im.W)
	for i, b := range im.Pixels[p.Digit*im.H*im.W : (p.Digit+1)*im.H*im.W] {
		n.pixels[i] = int(b)
	}
	copy(n.kernel[:], conv.Weight.Value.Data)
	copy(n.dW[:], conv.Weight.Grad.Data)
	var acc [9]float64
	for q := range P {
		copy(n.lcW[q][:], lc.Weight.Grad.Data[q*9:(q+1)*9])
		var ss float64
		for i, v := range n.contribW[q] {
			ss += v * v
			acc[i] += v
			n.accAbsMax = math.Max(n.accAbsMax, math.Abs(acc[i]))
		}
		n.norms[q] = math.Sqrt(ss)
	}
	keep := g.pos
	*g = *n
	g.seek(min(keep, P))
	return nil
}

// Params returns the current parameters.
func (g *ConvGrad) Params() ConvGradParams { return g.p }

// Model returns the conv model on screen (conv → flatten → fc, with its
// cross-entropy loss), its input and target.
func (g *ConvGrad) Model() (m *engine.Model, x, target *engine.Tensor) { return g.model, g.x, g.target }

// EngineGrad returns the engine's gradient of the shared kernel (row-major)
// and of the bias, as the one Backward left them in Weight.Grad and
// Bias.Grad.
func (g *ConvGrad) EngineGrad() (dW [9]float64, dB float64) { return g.dW, g.dB }

// Contribution returns position p's contribution (p = oy·OW + ox) to the
// kernel's and the bias's gradient, as the engine's tap reported it. The
// bias contribution is the upstream gradient dL/dy at p.
func (g *ConvGrad) Contribution(p int) (w [9]float64, b float64) { return g.contribW[p], g.contribB[p] }

// Unshared returns the unshared twin's gradient of position p's own kernel
// and bias.
func (g *ConvGrad) Unshared(p int) (w [9]float64, b float64) { return g.lcW[p], g.lcB[p] }

// Sum returns the running sum after Pos steps: the contributions of the
// first Pos positions added in raster order.
func (g *ConvGrad) Sum() (w [9]float64, b float64) { return g.accW, g.accB }

// Total is the number of output positions, OH·OW.
func (g *ConvGrad) Total() int { return g.oh * g.ow }

// Pos is the number of contributions added.
func (g *ConvGrad) Pos() int { return g.pos }

// Advance adds the next position's contribution into the running sum.
func (g *ConvGrad) Advance() error {
	if g.pos >= g.Total() {
		return errors.New("run: conv-grad: no positions left")
	}
	for i, v := range g.contribW[g.pos] {
		g.accW[i] += v // the shared kernel's gradient is a sum: +=, as micrograd
	}
	g.accB += g.contribB[g.pos]
	g.pos++
	return nil
}

// Seek adds up the first k contributions again from zero, in the same
// order, so a step reached by seeking shows exactly what stepping showed.
func (g *ConvGrad) Seek(k int) error {
	if k < 0 || k > g.Total() {
		return fmt.Errorf("run: conv-grad: step %d outside [0, %d]", k, g.Total())
	}
	g.seek(k)
	return nil
}

func (g *ConvGrad) seek(k int) {
	g.pos, g.accW, g.accB = 0, [9]float64{}, 0
	for g.pos < k {
		g.Advance() // cannot fail: pos < Total
	}
}

// SetParams merges raw (any subset of the parameters) onto the current ones.
func (g *ConvGrad) SetParams(raw json.RawMessage) error {
	p := g.p
	if err := decodeParams(raw, &p); err != nil {
		return err
	}
	return g.load(p)
}

// WriteTrace writes the step trace (engine.WriteTrace) of the conv model on
// the digit, with the experiment's seed.
func (g *ConvGrad) WriteTrace(w io.Writer) error {
	return engine.WriteTrace(w, g.model, uint64(g.p.Seed), g.x, g.target)
}

// ConvGradStatic is the part of a conv-grad frame that changes only with the
// parameters. Arrays that are only drawn travel quantized (viz.Quantized);
// every number the widget prints travels at full precision.
type ConvGradStatic struct {
	Params    ConvGradParams `json:"params"`
	Label     int            `json:"label"`
	Predicted int            `json:"predicted"` // argmax of Probs
	Loss      float64        `json:"loss"`      // cross-entropy of the digit
	Probs     []float64      `json:"probs"`     // softmax of the 10 logits
	InputH    int            `json:"inputH"`
	InputW    int            `json:"inputW"`
	Pixels    []int          `json:"pixels"` // 0..255, row-major; the input is pixel/255
	Kernel    [9]float64     `json:"kernel"` // the shared kernel, row-major
	Bias      float64        `json:"bias"`
	OutH      int            `json:"outH"`
	OutW      int            `json:"outW"`
	// EngineGrad and EngineBiasGrad are conv.Weight.Grad and Bias.Grad
	// after the engine's Backward: what the running sum must reach.
	EngineGrad     [9]float64 `json:"engineGrad"`
	EngineBiasGrad float64    `json:"engineBiasGrad"`
	// Upstream is dL/dy over the output map ([OH, OW], on −UpstreamAbsMax..
	// UpstreamAbsMax).
	Upstream       viz.Quantized `json:"upstream"`
	UpstreamAbsMax float64       `json:"upstreamAbsMax"`
	// Norms is ‖contribution‖₂ of each position ([OH, OW], 0..max): how
	// much each position taught the kernel.
	Norms viz.Quantized `json:"norms"`
	// Unshared is the unshared twin's gradient of every position's own
	// kernel ([OH·OW, 9], on −UnsharedAbsMax..UnsharedAbsMax).
	Unshared       viz.Quantized `json:"unshared"`
	UnsharedAbsMax float64       `json:"unsharedAbsMax"`
	UnsharedLoss   float64       `json:"unsharedLoss"`
	// SumAbsMax is the largest |entry| the running sum reaches, so the
	// kernel-gradient colour scale stays fixed while it accumulates.
	SumAbsMax float64 `json:"sumAbsMax"`
	// SharedParams and UnsharedParams are the two layers' parameter counts.
	SharedParams   int `json:"sharedParams"`
	UnsharedParams int `json:"unsharedParams"`
}

// ConvGradData is the part of a frame that changes with each step.
type ConvGradData struct {
	Step  int          `json:"step"`
	Total int          `json:"total"`
	At    *ConvGradPos `json:"at"` // the position added last; null at step 0
	// Sum and SumBias are the running sum of the first Step contributions.
	Sum     [9]float64 `json:"sum"`
	SumBias float64    `json:"sumBias"`
}

// ConvGradPos is one position's part of the backward pass.
type ConvGradPos struct {
	OY       int     `json:"oy"`
	OX       int     `json:"ox"`
	Upstream float64 `json:"upstream"` // dL/dy at (oy, ox)
	// Patch is the 3×3 input the kernel saw there (pixel/255; 0 in the
	// padding), Padding marks its taps that fall outside the image.
	Patch   [9]float64 `json:"patch"`
	Padding [9]bool    `json:"padding"`
	// Contribution is the engine's contribution of this position to dW
	// (Upstream × Patch) and ContributionBias to db (= Upstream).
	Contribution     [9]float64 `json:"contribution"`
	ContributionBias float64    `json:"contributionBias"`
	// Unshared and UnsharedBias are this position's own kernel's gradient
	// in the unshared twin.
	Unshared     [9]float64 `json:"unshared"`
	UnsharedBias float64    `json:"unsharedBias"`
}

// Frame returns the static part and the step's data.
func (g *ConvGrad) Frame() Frame {
	return Frame{StaticRev: g.rev, Static: g.StaticFrame(), Data: g.DataFrame()}
}

func absMax(v []float64) float64 {
	var m float64
	for _, x := range v {
		m = math.Max(m, math.Abs(x))
	}
	return m
}

// symmetric quantizes v on −m..m (m = max |v|, 1 when v is all zeros), so
// that zero is the centre of a diverging palette.
func symmetric(v []float64, shape ...int) (viz.Quantized, float64) {
	m := absMax(v)
	if m == 0 {
		m = 1
	}
	return viz.QuantizeRange(v, -m, m, shape...), m
}

// StaticFrame returns the static part of the frame.
func (g *ConvGrad) StaticFrame() ConvGradStatic {
	P := g.Total()
	unshared := make([]float64, 0, P*9)
	for _, k := range g.lcW {
		unshared = append(unshared, k[:]...)
	}
	s := ConvGradStatic{
		Params: g.p, Label: g.label, Loss: g.loss, Probs: slices.Clone(g.probs),
		InputH: g.x.Shape[2], InputW: g.x.Shape[3], Pixels: g.pixels,
		Kernel: g.kernel, Bias: g.bias, OutH: g.oh, OutW: g.ow,
		EngineGrad: g.dW, EngineBiasGrad: g.dB,
		Norms:        viz.QuantizeRange(g.norms, 0, max(absMax(g.norms), math.SmallestNonzeroFloat64), g.oh, g.ow),
		UnsharedLoss: g.lcLoss, SumAbsMax: g.accAbsMax,
		SharedParams: 10, UnsharedParams: P * 10,
	}
	s.Upstream, s.UpstreamAbsMax = symmetric(g.contribB, g.oh, g.ow)
	s.Unshared, s.UnsharedAbsMax = symmetric(unshared, P, 9)
	for i, v := range g.probs {
		if v > g.probs[s.Predicted] {
			s.Predicted = i
		}
	}
	return s
}

// DataFrame returns the step's data.
func (g *ConvGrad) DataFrame() ConvGradData {
	d := ConvGradData{Step: g.pos, Total: g.Total(), Sum: g.accW, SumBias: g.accB}
	if g.pos == 0 {
		return d
	}
	p := g.pos - 1
	oy, ox := p/g.ow, p%g.ow
	at := &ConvGradPos{
		OY: oy, OX: ox, Upstream: g.contribB[p],
		Contribution: g.contribW[p], ContributionBias: g.contribB[p],
		Unshared: g.lcW[p], UnsharedBias: g.lcB[p],
	}
	h, w := g.x.Shape[2], g.x.Shape[3]
	for ky := range 3 {
		for kx := range 3 {
			y, x := oy-1+ky, ox-1+kx // stride 1, padding 1
			if y < 0 || y >= h || x < 0 || x >= w {
				at.Padding[ky*3+kx] = true
				continue
			}
			at.Patch[ky*3+kx] = g.x.Data[y*w+x]
		}
	}
	d.At = at
	return d
}

// ConvGradPicture is a conv-grad state as grids ready to draw on the
// widget's colour scales, for figures made outside the browser (exports):
// the drawing code then needs no arithmetic of its own.
type ConvGradPicture struct {
	Static ConvGradStatic
	Data   ConvGradData // full precision
	// Upstream is dL/dy at every output position, row-major OutH×OutW.
	Upstream []float64
	// Norms is ‖contribution‖₂ of every position, row-major OutH×OutW,
	// with NaN for the positions not added yet (drawn grey). Positions
	// whose patch has no ink contribute exactly 0.
	Norms []float64
	// NormMax > 0 is the top of the norms' scale 0..NormMax: the largest
	// norm over all positions (added or not, so the scale stays fixed while
	// the sum accumulates), or 1 when every norm is 0.
	NormMax float64
	// SumLimit > 0 sets the diverging scale −SumLimit..SumLimit shared by
	// the running sum and the engine's dW: the largest |entry| the sum
	// reaches, or 1 when it stays 0.
	SumLimit float64
}

// Picture returns the experiment's current state as grids ready to draw.
func (g *ConvGrad) Picture() ConvGradPicture {
	norms := slices.Clone(g.norms)
	for p := g.pos; p < len(norms); p++ {
		norms[p] = math.NaN()
	}
	normMax := absMax(g.norms)
	if normMax == 0 {
		normMax = 1
	}
	lim := g.accAbsMax
	if lim == 0 {
		lim = 1
	}
	return ConvGradPicture{
		Static: g.StaticFrame(), Data: g.DataFrame(),
		Upstream: slices.Clone(g.contribB), Norms: norms, NormMax: normMax, SumLimit: lim,
	}
}
