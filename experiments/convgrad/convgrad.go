// Package convgrad is the experiment of lesson 3, "How a shared kernel
// learns". The model is a real, small classifier: conv (1→1 channel, 3×3,
// padding 1) → flatten → linear (784→10) → cross-entropy against the
// digit's label. One Backward with an engine.Recorder records each output
// position's contribution to the kernel's gradient (engine.UsePosition);
// step k adds
// contribution k into a running sum, which after the last position equals
// the engine's dW — the gradient of a shared weight is the sum of its uses.
// Beside it the same network with the convolution unshared
// (engine.LocallyConnected2d, every position's kernel set to the same
// values) runs its own Backward: there each position's contribution stays
// in that position's own kernel.
package convgrad

import (
	"embed"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/paramshare/paramshare/engine"
	"github.com/paramshare/paramshare/experiments/convslide"
	"github.com/paramshare/paramshare/lab"
	"github.com/paramshare/paramshare/run"
	"github.com/paramshare/paramshare/viz"
)

const (
	name   = "conv-grad"
	kernel = 3 // the kernel is kernel×kernel, stride 1, padding 1
	// random is the kernel choice that keeps the layer's own seeded
	// initialisation (PyTorch's default) instead of a preset.
	random  = "random"
	maxSeed = 9999
)

// kernels are the kernel choices: random, then conv-slide's presets.
var kernels = append([]string{random}, convslide.Presets()...)

// fields are conv-grad's parameters. Every combination is valid: the
// spec needs no Check.
var fields = []run.Field{
	{Name: "digit", Kind: run.Int, Default: 0, Min: 0, Max: float64(lab.TestSet().N - 1), Desc: run.Text{
		En: "the digit the network reads: its index in the embedded MNIST test set",
		Zh: "网络读取的数字：它在内置 MNIST 测试集中的编号",
	}},
	{Name: "kernel", Kind: run.Choice, Default: "vertical-edge", Choices: kernels, Desc: run.Text{
		En: "the shared 3×3 kernel: random (seeded) or one of lesson 2's presets",
		Zh: "共享的 3×3 卷积核：随机（由种子决定）或第 2 课的预设之一",
	}},
	{Name: "seed", Kind: run.Int, Default: 1, Min: 0, Max: maxSeed, Desc: run.Text{
		En: "seed of the dense layer's weights (and of a random kernel)",
		Zh: "全连接层权重（以及随机卷积核）的随机种子",
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
		Title:  run.Text{En: "How a shared kernel learns", Zh: "共享的卷积核如何学习"},
		Fields: fields,
		New:    func(v run.Values) (run.Experiment, error) { return newGrad(v) },
		Exports: []run.Export{
			{Format: "png", Write: writeFigure("png")},
			{Format: "svg", Write: writeFigure("svg")},
			{Format: "json", Write: writeJSON},
			{Format: "trace.json", Write: writeTrace},
		},
		// Measured by the conformance test's TestBudget on the development
		// machine: a step (nine additions) takes under a microsecond; a run
		// holds 0.42 MB (the two backward passes' per-position gradients
		// and the conv model kept for the trace); the static part is
		// 14.4 kB (quantized maps), a data part at most 0.54 kB. Every
		// value costs the same: no Costliest.
		Budget: run.Budget{Step: 100 * time.Microsecond, Memory: 768 << 10, FrameBytes: 1 << 10, StaticBytes: 24 << 10},
	})
}

// params are the parameters as the frame's static part shows them.
type params struct {
	Digit  int    `json:"digit"`  // index into the embedded MNIST test set
	Kernel string `json:"kernel"` // one of kernels
	Seed   int    `json:"seed"`   // 0..maxSeed: the dense layer's weights (and a random kernel)
}

func paramsOf(v run.Values) params {
	return params{Digit: v.Int("digit"), Kernel: v.String("kernel"), Seed: v.Int("seed")}
}

// grad is the experiment. Everything but pos and the running sum is
// computed once per parameters by load; a step adds one position's
// contribution.
type grad struct {
	v      run.Values
	p      params
	label  int
	pixels []int
	x      *engine.Tensor // [1, 1, 28, 28]
	target *engine.Tensor // [1], the label
	model  *engine.Model  // conv → flatten → fc, kept for the trace export
	oh, ow int

	loss      float64
	probs     []float64
	kernel    [9]float64
	bias      float64
	dW        [9]float64 // the engine's conv.Weight.Grad after Backward
	dB        float64
	contribW  [][9]float64 // per position p = oy·OW + ox, from the engine's Recorder
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

var (
	_ run.Experiment = (*grad)(nil)
	_ run.Rewinder   = (*grad)(nil)
)

func newGrad(v run.Values) (*grad, error) {
	g := &grad{}
	if err := g.load(v); err != nil {
		return nil, err
	}
	return g, nil
}

// load builds both models for v, runs one Backward through each and only
// then replaces g's state (keeping its step), so an error leaves g as it
// was. The fields bound every value, so an error here is a bug.
func (g *grad) load(v run.Values) error {
	p := paramsOf(v)
	im := lab.TestSet()
	cfg := engine.Conv2dConfig{InChannels: 1, OutChannels: 1, KernelSize: kernel, Stride: 1, Padding: 1}
	rng := engine.NewRand(uint64(p.Seed))
	conv, err := engine.NewConv2d("conv", cfg, rng)
	if err != nil {
		return fmt.Errorf("convgrad: %w", err)
	}
	if p.Kernel != random {
		k, _ := convslide.Preset(p.Kernel)
		copy(conv.Weight.Value.Data, k[:])
		conv.Bias.Value.Data[0] = 0
	}
	oh := engine.Conv2dOutSize(im.H, kernel, 1, 1, 1)
	ow := engine.Conv2dOutSize(im.W, kernel, 1, 1, 1)
	fc, err := engine.NewLinear("fc", oh*ow, 10, rng)
	if err != nil {
		return fmt.Errorf("convgrad: %w", err)
	}
	model, err := engine.NewModel(name, []int{1, im.H, im.W}, engine.NewCrossEntropy(), conv, engine.NewFlatten("flatten"), fc)
	if err != nil {
		return fmt.Errorf("convgrad: %w", err)
	}
	x, target := im.Batch([]int{p.Digit})
	P := oh * ow
	// The ledger of the kernel's and the bias's uses: one contribution per
	// output position, in raster order.
	rec := engine.NewRecorder(engine.RecordFilter{Params: []*engine.Param{conv.Weight, conv.Bias}, Kinds: []engine.UseKind{engine.UsePosition}})
	loss, err := model.ComputeGrad(x, target, rec)
	if err != nil {
		return fmt.Errorf("convgrad: %w", err)
	}
	usesW, usesB := rec.Uses(conv.Weight, engine.UsePosition), rec.Uses(conv.Bias, engine.UsePosition)
	if len(usesW) != P || len(usesB) != P {
		return fmt.Errorf("convgrad: the engine reported %d kernel and %d bias contributions for %d positions", len(usesW), len(usesB), P)
	}
	contribW, contribB := make([][9]float64, P), make([]float64, P)
	for q := range P {
		copy(contribW[q][:], usesW[q].Grad.Data)
		contribB[q] = usesB[q].Grad.Data[0]
	}
	probs := slices.Clone(model.Loss.(*engine.CrossEntropy).Probabilities().Data)

	// The unshared twin: a kernel of its own at every position, all set to
	// the conv's kernel and bias, and the same dense layer, so that it
	// computes the same function and receives the same upstream gradient.
	lc, err := engine.NewLocallyConnected2d("lc", cfg, im.H, im.W, engine.NewRand(uint64(p.Seed)))
	if err != nil {
		return fmt.Errorf("convgrad: %w", err)
	}
	for q := range P {
		copy(lc.Weight.Value.Data[q*9:(q+1)*9], conv.Weight.Value.Data)
		lc.Bias.Value.Data[q] = conv.Bias.Value.Data[0]
	}
	fc2, err := engine.NewLinear("fc", oh*ow, 10, engine.NewRand(0)) // overwritten below
	if err != nil {
		return fmt.Errorf("convgrad: %w", err)
	}
	copy(fc2.Weight.Value.Data, fc.Weight.Value.Data)
	copy(fc2.Bias.Value.Data, fc.Bias.Value.Data)
	twin, err := engine.NewModel(name+"-unshared", []int{1, im.H, im.W}, engine.NewCrossEntropy(), lc, engine.NewFlatten("flatten"), fc2)
	if err != nil {
		return fmt.Errorf("convgrad: %w", err)
	}
	lcLoss, err := twin.ComputeGrad(x, target, nil)
	if err != nil {
		return fmt.Errorf("convgrad: unshared twin: %w", err)
	}

	n := &grad{
		v: v, p: p, label: int(im.Labels[p.Digit]), x: x, target: target, model: model,
		oh: oh, ow: ow, loss: loss, probs: probs, bias: conv.Bias.Value.Data[0], dB: conv.Bias.Grad.Data[0],
		contribW: contribW, contribB: contribB, lcW: make([][9]float64, P), lcB: slices.Clone(lc.Bias.Grad.Data),
		lcLoss: lcLoss, norms: rec.Norms(conv.Weight, engine.UsePosition), rev: g.rev + 1,
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
		for i, c := range n.contribW[q] {
			acc[i] += c
			n.accAbsMax = math.Max(n.accAbsMax, math.Abs(acc[i]))
		}
	}
	keep := g.pos
	*g = *n
	g.Rewind(min(keep, P))
	return nil
}

// Total is the number of output positions, OH·OW.
func (g *grad) Total() int { return g.oh * g.ow }

// Pos is the number of contributions added.
func (g *grad) Pos() int { return g.pos }

// Advance adds the next position's contribution into the running sum.
func (g *grad) Advance() error {
	if g.pos >= g.Total() {
		return errors.New("convgrad: no positions left")
	}
	for i, c := range g.contribW[g.pos] {
		g.accW[i] += c // the shared kernel's gradient is a sum: +=, as micrograd
	}
	g.accB += g.contribB[g.pos]
	g.pos++
	return nil
}

// Rewind adds up the first k contributions again from zero, in the same
// order, so a step reached by going back shows exactly what stepping
// showed; at most 784 additions of nine numbers.
func (g *grad) Rewind(k int) error {
	g.pos, g.accW, g.accB = 0, [9]float64{}, 0
	for g.pos < k {
		g.Advance() // cannot fail: pos < k ≤ Total
	}
	return nil
}

// Restart goes back to step 0.
func (g *grad) Restart() error { return g.Rewind(0) }

// SetParams recomputes both backward passes for v, keeping the step (every
// digit has the same 784 positions).
func (g *grad) SetParams(v run.Values) error {
	if v.Equal(g.v) {
		return nil
	}
	return g.load(v)
}

// staticPart is the part of a frame that changes only with the
// parameters. Arrays that are only drawn travel quantized (viz.Quantized);
// every number the widget prints travels at full precision.
type staticPart struct {
	Params    params     `json:"params"`
	Label     int        `json:"label"`
	Predicted int        `json:"predicted"` // argmax of Probs
	Loss      float64    `json:"loss"`      // cross-entropy of the digit
	Probs     []float64  `json:"probs"`     // softmax of the 10 logits
	InputH    int        `json:"inputH"`
	InputW    int        `json:"inputW"`
	Pixels    []int      `json:"pixels"` // 0..255, row-major; the input is pixel/255
	Kernel    [9]float64 `json:"kernel"` // the shared kernel, row-major
	Bias      float64    `json:"bias"`
	OutH      int        `json:"outH"`
	OutW      int        `json:"outW"`
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

// dataPart is the part of a frame that changes with each step.
type dataPart struct {
	Step  int  `json:"step"`
	Total int  `json:"total"`
	At    *pos `json:"at"` // the position added last; null at step 0
	// Sum and SumBias are the running sum of the first Step contributions.
	Sum     [9]float64 `json:"sum"`
	SumBias float64    `json:"sumBias"`
}

// pos is one position's part of the backward pass.
type pos struct {
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

// Frame returns the static part and the step's data. Nothing returned is
// changed by later steps.
func (g *grad) Frame() run.Frame {
	return run.Frame{StaticRev: g.rev, Static: g.static(), Data: g.data()}
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

// unsharedGrads returns the twin's per-position kernel gradients as one
// row-major [OH·OW, 9] array.
func (g *grad) unsharedGrads() []float64 {
	out := make([]float64, 0, len(g.lcW)*9)
	for _, k := range g.lcW {
		out = append(out, k[:]...)
	}
	return out
}

func (g *grad) static() staticPart {
	P := g.Total()
	s := staticPart{
		Params: g.p, Label: g.label, Loss: g.loss, Probs: slices.Clone(g.probs),
		InputH: g.x.Shape[2], InputW: g.x.Shape[3], Pixels: g.pixels,
		Kernel: g.kernel, Bias: g.bias, OutH: g.oh, OutW: g.ow,
		EngineGrad: g.dW, EngineBiasGrad: g.dB,
		Norms:        viz.QuantizeRange(g.norms, 0, max(absMax(g.norms), math.SmallestNonzeroFloat64), g.oh, g.ow),
		UnsharedLoss: g.lcLoss, SumAbsMax: g.accAbsMax,
		SharedParams: kernel*kernel + 1, UnsharedParams: P * (kernel*kernel + 1),
	}
	s.Upstream, s.UpstreamAbsMax = symmetric(g.contribB, g.oh, g.ow)
	s.Unshared, s.UnsharedAbsMax = symmetric(g.unsharedGrads(), P, 9)
	for i, v := range g.probs {
		if v > g.probs[s.Predicted] {
			s.Predicted = i
		}
	}
	return s
}

func (g *grad) data() dataPart {
	d := dataPart{Step: g.pos, Total: g.Total(), Sum: g.accW, SumBias: g.accB}
	if g.pos == 0 {
		return d
	}
	p := g.pos - 1
	oy, ox := p/g.ow, p%g.ow
	at := &pos{
		OY: oy, OX: ox, Upstream: g.contribB[p],
		Contribution: g.contribW[p], ContributionBias: g.contribB[p],
		Unshared: g.lcW[p], UnsharedBias: g.lcB[p],
	}
	h, w := g.x.Shape[2], g.x.Shape[3]
	for ky := range kernel {
		for kx := range kernel {
			y, x := oy-1+ky, ox-1+kx // stride 1, padding 1
			if y < 0 || y >= h || x < 0 || x >= w {
				at.Padding[ky*kernel+kx] = true
				continue
			}
			at.Patch[ky*kernel+kx] = g.x.Data[y*w+x]
		}
	}
	d.At = at
	return d
}
