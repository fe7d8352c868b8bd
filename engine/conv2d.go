// How Conv2d computes, and where per-position contributions come from.
//
// # im2col
//
// For one example x [C, H, W], im2col writes the matrix cols with one row per
// kernel tap (c, ky, kx) — K = C·k·k rows, in the weight's own order — and
// one column per output position p = oy·OW + ox — P = OH·OW columns:
//
//	cols[(c·k + ky)·k + kx, p] = x[c, oy·s − pad + ky·d, ox·s − pad + kx·d]
//
// (0 where that falls in the padding). Column p is the input patch the kernel
// sees at position p. The weight [OC, C, k, k] read row-major is already the
// matrix W [OC, K], so the whole layer is one matrix product per example,
// with no transposes, straight into the output's layout [OC, OH·OW]:
//
//	y[OC, P] = W[OC, K] · cols[K, P] + b
//
// With groups g, channels split into g blocks; block j of cols' rows meets
// block j of W's rows, one product per group.
//
// Backward is the same matrices the other way round:
//
//	dW[OC, K] += dy[OC, P] · cols[K, P]ᵀ     (accumulated over the batch)
//	dcols[K, P] = W[OC, K]ᵀ · dy[OC, P]       then col2im adds dcols into dx
//
// Forward keeps cols for every example of the batch, so Backward does not
// rebuild them; all buffers live in the layer and are reused while the batch
// size and image size stay the same.
//
// # Per-position contributions: why a kernel's gradient is a sum
//
// Write the dW product out as a sum over its inner index, the position p:
//
//	dW[oc, :] = Σ_b Σ_p dy[b, oc, p] · cols_b[:, p]
//
// Each term is (upstream gradient at position p) × (the input patch at p):
// the gradient the kernel would get if it were used at p alone. The same
// kernel is used at all OH·OW positions, so its gradient is the sum of OH·OW
// such contributions — exactly as micrograd's `self.grad += ...` adds up the
// uses of a value. With a tap attached, Backward forms each position's
// contribution Σ_b dy[b, :, p] ⊗ cols_b[:, p] (full weight shape) and
// Σ_b dy[b, :, p] for the bias and reports them as UsePosition; they sum to
// what this pass added into Weight.Grad and Bias.Grad. Without a tap none of
// that is computed.

package engine

import (
	"fmt"
	"math/rand/v2"

	"gonum.org/v1/gonum/floats"
)

// Conv2dConfig configures a 2-D convolution (and its locally connected
// twin). Stride, Dilation and Groups of 0 mean 1; Padding is zero padding on
// every side.
type Conv2dConfig struct {
	InChannels, OutChannels int
	KernelSize              int
	Stride, Padding         int
	Dilation, Groups        int
}

// normalize fills defaults and checks the configuration.
func (c Conv2dConfig) normalize(kind, name string) (Conv2dConfig, error) {
	if c.Stride == 0 {
		c.Stride = 1
	}
	if c.Dilation == 0 {
		c.Dilation = 1
	}
	if c.Groups == 0 {
		c.Groups = 1
	}
	switch {
	case c.InChannels < 1 || c.OutChannels < 1:
		return c, fmt.Errorf("engine: %s %q: channels must be positive, got in %d, out %d", kind, name, c.InChannels, c.OutChannels)
	case c.KernelSize < 1:
		return c, fmt.Errorf("engine: %s %q: kernel size must be positive, got %d", kind, name, c.KernelSize)
	case c.Stride < 0 || c.Dilation < 0 || c.Groups < 0:
		return c, fmt.Errorf("engine: %s %q: stride, dilation and groups must not be negative, got %d, %d, %d", kind, name, c.Stride, c.Dilation, c.Groups)
	case c.Padding < 0:
		return c, fmt.Errorf("engine: %s %q: padding must not be negative, got %d", kind, name, c.Padding)
	case c.InChannels%c.Groups != 0 || c.OutChannels%c.Groups != 0:
		return c, fmt.Errorf("engine: %s %q: groups %d must divide in channels %d and out channels %d", kind, name, c.Groups, c.InChannels, c.OutChannels)
	}
	return c, nil
}

// attrs is the trace's attrs for conv2d and locally_connected2d.
func (c Conv2dConfig) attrs() map[string]any {
	return map[string]any{
		"in_channels": c.InChannels, "out_channels": c.OutChannels, "kernel_size": c.KernelSize,
		"stride": c.Stride, "padding": c.Padding, "dilation": c.Dilation, "groups": c.Groups,
	}
}

// Conv2dOutSize is torch's output size of a convolution or pooling along one
// axis: ⌊(in + 2·pad − dil·(k−1) − 1)/stride⌋ + 1. It returns 0 (or less)
// when the dilated kernel is larger than the padded input. stride must be
// positive.
func Conv2dOutSize(in, k, stride, pad, dil int) int {
	span := in + 2*pad - dil*(k-1) - 1
	if span < 0 {
		return 0
	}
	return span/stride + 1
}

// convGeom is the geometry of one convolution on one input size.
type convGeom struct {
	c, h, w              int // input channels and size
	k, stride, pad, dil  int
	oh, ow               int
	rowsPerGroup, groups int // K per group = (c/groups)·k·k
}

func newConvGeom(cfg Conv2dConfig, h, w int) convGeom {
	return convGeom{
		c: cfg.InChannels, h: h, w: w,
		k: cfg.KernelSize, stride: cfg.Stride, pad: cfg.Padding, dil: cfg.Dilation,
		oh:           Conv2dOutSize(h, cfg.KernelSize, cfg.Stride, cfg.Padding, cfg.Dilation),
		ow:           Conv2dOutSize(w, cfg.KernelSize, cfg.Stride, cfg.Padding, cfg.Dilation),
		rowsPerGroup: cfg.InChannels / cfg.Groups * cfg.KernelSize * cfg.KernelSize,
		groups:       cfg.Groups,
	}
}

// positions is OH·OW, the number of columns of cols.
func (g convGeom) positions() int { return g.oh * g.ow }

// rows is C·k·k, the number of rows of cols.
func (g convGeom) rows() int { return g.c * g.k * g.k }

// validRange returns the output columns [lo, hi) whose input column
// ox·s − pad + off lies inside [0, size).
func validRange(size, n, stride, pad, off int) (lo, hi int) {
	// ox·s ≥ pad − off  and  ox·s ≤ size − 1 + pad − off
	first := pad - off
	lo = 0
	if first > 0 {
		lo = (first + stride - 1) / stride
	}
	last := size - 1 + pad - off
	if last < 0 {
		return 0, 0
	}
	hi = min(n, last/stride+1)
	return min(lo, hi), hi
}

// im2col writes one example x [C, H, W] into cols [C·k·k, OH·OW] (see the
// file comment).
func (g convGeom) im2col(x, cols []float64) {
	P := g.positions()
	r := 0
	for c := range g.c {
		plane := x[c*g.h*g.w : (c+1)*g.h*g.w]
		for ky := range g.k {
			for kx := range g.k {
				row := cols[r*P : (r+1)*P]
				r++
				xoff := kx * g.dil
				lo, hi := validRange(g.w, g.ow, g.stride, g.pad, xoff)
				for oy := range g.oh {
					seg := row[oy*g.ow : (oy+1)*g.ow]
					iy := oy*g.stride - g.pad + ky*g.dil
					if iy < 0 || iy >= g.h || lo >= hi {
						clear(seg)
						continue
					}
					clear(seg[:lo])
					clear(seg[hi:])
					src := plane[iy*g.w:]
					ix := lo*g.stride - g.pad + xoff
					if g.stride == 1 {
						copy(seg[lo:hi], src[ix:ix+hi-lo])
						continue
					}
					for ox := lo; ox < hi; ox++ {
						seg[ox] = src[ix]
						ix += g.stride
					}
				}
			}
		}
	}
}

// col2im adds dcols [C·k·k, OH·OW] into dx [C, H, W], the transpose of
// im2col: every input pixel receives the gradient of each patch it was in.
func (g convGeom) col2im(dcols, dx []float64) {
	P := g.positions()
	r := 0
	for c := range g.c {
		plane := dx[c*g.h*g.w : (c+1)*g.h*g.w]
		for ky := range g.k {
			for kx := range g.k {
				row := dcols[r*P : (r+1)*P]
				r++
				xoff := kx * g.dil
				lo, hi := validRange(g.w, g.ow, g.stride, g.pad, xoff)
				if lo >= hi {
					continue
				}
				for oy := range g.oh {
					iy := oy*g.stride - g.pad + ky*g.dil
					if iy < 0 || iy >= g.h {
						continue
					}
					seg := row[oy*g.ow : (oy+1)*g.ow]
					dst := plane[iy*g.w:]
					ix := lo*g.stride - g.pad + xoff
					// A pixel in several patches sums their gradients (+=).
					if g.stride == 1 {
						floats.Add(dst[ix:ix+hi-lo], seg[lo:hi])
						continue
					}
					for ox := lo; ox < hi; ox++ {
						dst[ix] += seg[ox]
						ix += g.stride
					}
				}
			}
		}
	}
}

// Conv2d is a 2-D convolution (cross-correlation) as torch.nn.Conv2d, on
// inputs [B, C, H, W]: one kernel per output channel, shared by every output
// position.
type Conv2d struct {
	name   string
	cfg    Conv2dConfig
	Weight *Param // [OC, C/groups, k, k]
	Bias   *Param // [OC]

	x     *Tensor // last Forward input (borrowed)
	geom  convGeom
	cols  []float64 // im2col of every example of the last batch, [B][K][P]
	dcols []float64 // one example's gradient w.r.t. cols, [K][P]
	y, dx *Tensor
	// noInputGrad: Backward leaves dx out (see InputGradSkipper).
	noInputGrad bool

	// Only with a tap: one position's contribution and the Index slices
	// [oy, ox], made once per geometry and never modified.
	posW, posB *Tensor
	posIdx     [][]int
}

var (
	_ Layer            = (*Conv2d)(nil)
	_ Counter          = (*Conv2d)(nil)
	_ InputGradSkipper = (*Conv2d)(nil)
)

// SkipInputGrad makes Backward return nil instead of dx when skip is true.
func (l *Conv2d) SkipInputGrad(skip bool) { l.noInputGrad = skip }

// NewConv2d returns a convolution with PyTorch's default initialisation,
// U(−1/√fanIn, 1/√fanIn) with fanIn = (C/groups)·k·k, drawn from rng. It
// returns an error for non-positive channels or kernel size, negative
// stride, padding, dilation or groups, and groups that do not divide both
// channel counts.
func NewConv2d(name string, cfg Conv2dConfig, rng *rand.Rand) (*Conv2d, error) {
	cfg, err := cfg.normalize("conv2d", name)
	if err != nil {
		return nil, err
	}
	k := cfg.KernelSize
	l := &Conv2d{
		name:   name,
		cfg:    cfg,
		Weight: NewParam(name+".weight", cfg.OutChannels, cfg.InChannels/cfg.Groups, k, k),
		Bias:   NewParam(name+".bias", cfg.OutChannels),
	}
	fanIn := cfg.InChannels / cfg.Groups * k * k
	InitTorchDefault(l.Weight.Value, fanIn, rng)
	InitTorchDefault(l.Bias.Value, fanIn, rng)
	return l, nil
}

// Config returns the layer's configuration with defaults filled in.
func (l *Conv2d) Config() Conv2dConfig { return l.cfg }

// Spec returns type "conv2d" with in_channels, out_channels, kernel_size,
// stride, padding, dilation and groups.
func (l *Conv2d) Spec() Spec { return Spec{Name: l.name, Type: "conv2d", Attrs: l.cfg.attrs()} }

// Params returns weight and bias.
func (l *Conv2d) Params() []NamedParam {
	return []NamedParam{{Local: "weight", Param: l.Weight}, {Local: "bias", Param: l.Bias}}
}

// OutShape accepts [C, H, W] and returns [OC, OH, OW]. It returns an error
// for another rank or channel count, or when the dilated kernel is larger
// than the padded input.
func (l *Conv2d) OutShape(in []int) ([]int, error) {
	return convOutShape("conv2d", l.name, l.cfg, in)
}

func convOutShape(kind, name string, cfg Conv2dConfig, in []int) ([]int, error) {
	if len(in) != 3 || in[0] != cfg.InChannels {
		return nil, fmt.Errorf("engine: %s %q: input shape %v, want [%d H W]", kind, name, in, cfg.InChannels)
	}
	oh := Conv2dOutSize(in[1], cfg.KernelSize, cfg.Stride, cfg.Padding, cfg.Dilation)
	ow := Conv2dOutSize(in[2], cfg.KernelSize, cfg.Stride, cfg.Padding, cfg.Dilation)
	if oh < 1 || ow < 1 {
		span := cfg.Dilation*(cfg.KernelSize-1) + 1
		return nil, fmt.Errorf("engine: %s %q: kernel %d (dilated span %d) is larger than the padded input %d×%d",
			kind, name, cfg.KernelSize, span, in[1]+2*cfg.Padding, in[2]+2*cfg.Padding)
	}
	return []int{cfg.OutChannels, oh, ow}, nil
}

// Count reports Uses = OC·OH·OW·(C/groups)·k·k multiply-adds per example and
// Unshared = the parameter count of the locally connected twin, a kernel and
// a bias of its own at every output position: OH·OW·OC·(C/groups)·k·k +
// OC·OH·OW. It returns zeros for an input OutShape rejects.
func (l *Conv2d) Count(in []int) LayerCount {
	out, err := l.OutShape(in)
	if err != nil {
		return LayerCount{}
	}
	outputs := out[0] * out[1] * out[2]
	perKernel := l.cfg.InChannels / l.cfg.Groups * l.cfg.KernelSize * l.cfg.KernelSize
	return LayerCount{Uses: outputs * perKernel, Unshared: outputs*perKernel + outputs}
}

// checkInput panics with a ShapeError unless x is [B, C, H, W] with the
// layer's channel count and an image the kernel fits in.
func checkConvInput(kind, name string, cfg Conv2dConfig, x *Tensor) {
	if len(x.Shape) == 4 && x.Shape[1] == cfg.InChannels &&
		Conv2dOutSize(x.Shape[2], cfg.KernelSize, cfg.Stride, cfg.Padding, cfg.Dilation) >= 1 &&
		Conv2dOutSize(x.Shape[3], cfg.KernelSize, cfg.Stride, cfg.Padding, cfg.Dilation) >= 1 {
		return
	}
	// The smallest image the dilated kernel fits in, padding included.
	least := max(cfg.Dilation*(cfg.KernelSize-1)+1-2*cfg.Padding, 1)
	panic(ShapeError{Op: kind + " " + name + " forward (H, W at least)", Want: []int{-1, cfg.InChannels, least, least}, Got: x.Shape})
}

// Forward computes the convolution of x [B, C, H, W] and returns
// [B, OC, OH, OW]. It panics with a ShapeError when x does not fit (see
// OutShape).
func (l *Conv2d) Forward(x *Tensor, _ Tap) *Tensor {
	checkConvInput("conv2d", l.name, l.cfg, x)
	batch := x.Shape[0]
	l.x = x
	if l.geom.h != x.Shape[2] || l.geom.w != x.Shape[3] || l.geom.c == 0 {
		l.geom = newConvGeom(l.cfg, x.Shape[2], x.Shape[3])
		l.posIdx = nil
	}
	g := l.geom
	K, P := g.rows(), g.positions()
	oc := l.cfg.OutChannels
	ocg := oc / g.groups
	kg := g.rowsPerGroup
	l.cols = growFloats(l.cols, batch*K*P)
	l.y = reuse(l.y, batch, oc, g.oh, g.ow)
	w := l.Weight.Value.Data
	for b := range batch {
		cols := l.cols[b*K*P : (b+1)*K*P]
		g.im2col(x.Data[b*g.c*g.h*g.w:(b+1)*g.c*g.h*g.w], cols)
		yb := l.y.Data[b*oc*P : (b+1)*oc*P]
		for o, bias := range l.Bias.Value.Data {
			row := yb[o*P : (o+1)*P]
			for i := range row {
				row[i] = bias
			}
		}
		for gr := range g.groups {
			// y[ocg, P] += W[ocg, kg] · cols[kg, P] for this group's rows.
			gemm(false, false, ocg, P, kg, 1, w[gr*ocg*kg:], kg, cols[gr*kg*P:], P, 1, yb[gr*ocg*P:], P)
		}
	}
	return l.y
}

// Backward adds dW and db into the Params' gradients and returns dx. With a
// tap it also reports, for every output position (oy, ox), that position's
// part of dW and db as a UsePosition contribution (see the file comment).
// It panics with a ShapeError unless dy has the shape of the last output.
func (l *Conv2d) Backward(dy *Tensor, tap Tap) *Tensor {
	mustMatch("conv2d", l.name, dy, l.y)
	g := l.geom
	batch := dy.Shape[0]
	K, P := g.rows(), g.positions()
	oc := l.cfg.OutChannels
	ocg := oc / g.groups
	kg := g.rowsPerGroup
	w := l.Weight.Value.Data
	dw := l.Weight.Grad.Data
	db := l.Bias.Grad.Data
	if !l.noInputGrad {
		l.dx = reuse(l.dx, l.x.Shape...)
		clear(l.dx.Data) // col2im adds into it
		l.dcols = growFloats(l.dcols, K*P)
	}
	for b := range batch {
		cols := l.cols[b*K*P : (b+1)*K*P]
		dyb := dy.Data[b*oc*P : (b+1)*oc*P]
		for o := range oc {
			// The bias is used at every position: its gradient sums them.
			db[o] += floats.Sum(dyb[o*P : (o+1)*P])
		}
		for gr := range g.groups {
			// dW[ocg, kg] += dy[ocg, P] · cols[kg, P]ᵀ: the sum over
			// positions p of dy[:, p] ⊗ patch p, added (beta 1) to what
			// the gradient already holds.
			gemm(false, true, ocg, kg, P, 1, dyb[gr*ocg*P:], P, cols[gr*kg*P:], P, 1, dw[gr*ocg*kg:], kg)
			if !l.noInputGrad {
				// dcols[kg, P] = W[ocg, kg]ᵀ · dy[ocg, P]
				gemm(true, false, kg, P, ocg, 1, w[gr*ocg*kg:], kg, dyb[gr*ocg*P:], P, 0, l.dcols[gr*kg*P:], P)
			}
		}
		if !l.noInputGrad {
			g.col2im(l.dcols, l.dx.Data[b*g.c*g.h*g.w:(b+1)*g.c*g.h*g.w])
		}
	}
	if tap != nil {
		l.reportPositions(dy, tap)
	}
	if l.noInputGrad {
		return nil
	}
	return l.dx
}

// reportPositions tells tap each output position's contribution to dW and
// db: Σ over the batch of dy[b, :, p] ⊗ cols_b[:, p], and Σ_b dy[b, :, p].
func (l *Conv2d) reportPositions(dy *Tensor, tap Tap) {
	g := l.geom
	batch := dy.Shape[0]
	K, P := g.rows(), g.positions()
	oc := l.cfg.OutChannels
	ocg := oc / g.groups
	kg := g.rowsPerGroup
	l.posW = reuse(l.posW, l.Weight.Value.Shape...)
	l.posB = reuse(l.posB, oc)
	if len(l.posIdx) != P {
		l.posIdx = make([][]int, P)
		for p := range l.posIdx {
			l.posIdx[p] = []int{p / g.ow, p % g.ow}
		}
	}
	for p := range P {
		l.posW.Zero()
		l.posB.Zero()
		for b := range batch {
			cols := l.cols[b*K*P : (b+1)*K*P]
			for o := range oc {
				up := dy.Data[(b*oc+o)*P+p] // upstream gradient at (b, o, p)
				if up == 0 {
					continue
				}
				l.posB.Data[o] += up
				row := l.posW.Data[o*kg : (o+1)*kg]
				patch := cols[(o/ocg)*kg*P+p:] // this group's patch, one value every P
				for r := range row {
					row[r] += up * patch[r*P] // contribution += upstream × input patch
				}
			}
		}
		tap.Contribute(Contribution{Layer: l.name, Param: l.Weight, Local: "weight", Kind: UsePosition, Index: l.posIdx[p], Grad: l.posW})
		tap.Contribute(Contribution{Layer: l.name, Param: l.Bias, Local: "bias", Kind: UsePosition, Index: l.posIdx[p], Grad: l.posB})
	}
}

// Term is one kernel tap of one output cell: the input pixel (C, Y, X) it
// reads (Padding when that is outside the image, Input then 0), the weight
// it multiplies it by, and their product.
type Term struct {
	C, Y, X                int
	Input, Weight, Product float64
	Padding                bool
}

// Terms lists, for output cell (b, oc, oy, ox) of the convolution of x, the
// (C/groups)·k·k terms whose sum plus the bias is that cell, in the weight's
// row-major order (channel, kernel row, kernel column). It is for lessons
// that show one cell's arithmetic. It panics with a ShapeError when x does
// not fit the layer and with an engine message when the cell is out of
// range.
func (l *Conv2d) Terms(x *Tensor, b, oc, oy, ox int) []Term {
	checkConvInput("conv2d", l.name, l.cfg, x)
	g := newConvGeom(l.cfg, x.Shape[2], x.Shape[3])
	if b < 0 || b >= x.Shape[0] || oc < 0 || oc >= l.cfg.OutChannels || oy < 0 || oy >= g.oh || ox < 0 || ox >= g.ow {
		panic(fmt.Sprintf("engine: conv2d %s: output cell (%d, %d, %d, %d) outside [%d %d %d %d]", l.name, b, oc, oy, ox, x.Shape[0], l.cfg.OutChannels, g.oh, g.ow))
	}
	cg := l.cfg.InChannels / l.cfg.Groups
	firstC := oc / (l.cfg.OutChannels / l.cfg.Groups) * cg
	k := g.k
	terms := make([]Term, 0, cg*k*k)
	for c := range cg {
		for ky := range k {
			for kx := range k {
				t := Term{
					C:      firstC + c,
					Y:      oy*g.stride - g.pad + ky*g.dil,
					X:      ox*g.stride - g.pad + kx*g.dil,
					Weight: l.Weight.Value.Data[((oc*cg+c)*k+ky)*k+kx],
				}
				if t.Y < 0 || t.Y >= g.h || t.X < 0 || t.X >= g.w {
					t.Padding = true
				} else {
					t.Input = x.Data[((b*g.c+t.C)*g.h+t.Y)*g.w+t.X]
				}
				t.Product = t.Input * t.Weight
				terms = append(terms, t)
			}
		}
	}
	return terms
}

// growFloats returns buf resliced to n elements, reallocating only when its
// capacity is too small. The contents are not cleared.
func growFloats(buf []float64, n int) []float64 {
	if cap(buf) < n {
		return make([]float64, n)
	}
	return buf[:n]
}
