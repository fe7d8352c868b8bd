package engine

import (
	"fmt"
	"math/rand/v2"
)

// LocallyConnected2d is a convolution's unshared twin: the same patches as
// Conv2d, but a separate kernel and bias at every output position, so
// nothing is shared and the parameter count is OH·OW times larger. Inputs
// are [B, C, inH, inW] for the image size given to the constructor.
type LocallyConnected2d struct {
	name         string
	cfg          Conv2dConfig
	inH, inW     int
	Weight, Bias *Param // [OH, OW, OC, C, k, k] and [OC, OH, OW]

	geom  convGeom
	x     *Tensor
	cols  []float64 // im2col of every example, [B][K][P], as Conv2d's
	dcols []float64
	y, dx *Tensor
	// noInputGrad: Backward leaves dx out (see InputGradSkipper).
	noInputGrad bool
}

var (
	_ Layer            = (*LocallyConnected2d)(nil)
	_ Counter          = (*LocallyConnected2d)(nil)
	_ InputGradSkipper = (*LocallyConnected2d)(nil)
)

// SkipInputGrad makes Backward return nil instead of dx when skip is true.
func (l *LocallyConnected2d) SkipInputGrad(skip bool) { l.noInputGrad = skip }

// NewLocallyConnected2d returns a locally connected layer for inputs of
// inH×inW pixels, initialised as the Conv2d of the same configuration
// (fanIn = C·k·k). It returns an error for the configurations NewConv2d
// rejects, for groups other than 1 (not supported), and when the dilated
// kernel is larger than the padded input.
func NewLocallyConnected2d(name string, cfg Conv2dConfig, inH, inW int, rng *rand.Rand) (*LocallyConnected2d, error) {
	cfg, err := cfg.normalize("locally_connected2d", name)
	if err != nil {
		return nil, err
	}
	if cfg.Groups != 1 {
		return nil, fmt.Errorf("engine: locally_connected2d %q: groups (%d) are not supported", name, cfg.Groups)
	}
	if inH < 1 || inW < 1 {
		return nil, fmt.Errorf("engine: locally_connected2d %q: input size must be positive, got %d×%d", name, inH, inW)
	}
	out, err := convOutShape("locally_connected2d", name, cfg, []int{cfg.InChannels, inH, inW})
	if err != nil {
		return nil, err
	}
	oc, oh, ow, c, k := out[0], out[1], out[2], cfg.InChannels, cfg.KernelSize
	l := &LocallyConnected2d{
		name: name, cfg: cfg, inH: inH, inW: inW,
		Weight: NewParam(name+".weight", oh, ow, oc, c, k, k),
		Bias:   NewParam(name+".bias", oc, oh, ow),
		geom:   newConvGeom(cfg, inH, inW),
	}
	InitTorchDefault(l.Weight.Value, c*k*k, rng)
	InitTorchDefault(l.Bias.Value, c*k*k, rng)
	return l, nil
}

// Spec returns type "locally_connected2d" with the conv2d attrs.
func (l *LocallyConnected2d) Spec() Spec {
	return Spec{Name: l.name, Type: "locally_connected2d", Attrs: l.cfg.attrs()}
}

// Params returns weight and bias.
func (l *LocallyConnected2d) Params() []NamedParam {
	return []NamedParam{{Local: "weight", Param: l.Weight}, {Local: "bias", Param: l.Bias}}
}

// OutShape accepts exactly [C, inH, inW] and returns [OC, OH, OW].
func (l *LocallyConnected2d) OutShape(in []int) ([]int, error) {
	if len(in) != 3 || in[0] != l.cfg.InChannels || in[1] != l.inH || in[2] != l.inW {
		return nil, fmt.Errorf("engine: locally_connected2d %q: input shape %v, want [%d %d %d]", l.name, in, l.cfg.InChannels, l.inH, l.inW)
	}
	return []int{l.cfg.OutChannels, l.geom.oh, l.geom.ow}, nil
}

// Count reports the same multiply-adds as the Conv2d twin, and Unshared =
// the layer's own parameter count: nothing in it is shared.
func (l *LocallyConnected2d) Count(in []int) LayerCount {
	if _, err := l.OutShape(in); err != nil {
		return LayerCount{}
	}
	g := l.geom
	return LayerCount{Uses: g.positions() * l.cfg.OutChannels * g.rows(), Unshared: l.Weight.Size() + l.Bias.Size()}
}

// Forward computes y[b, o, p] = Σ_r W[p, o, r]·cols_b[r, p] + bias[o, p] for
// x [B, C, inH, inW]. It panics with a ShapeError for any other shape.
func (l *LocallyConnected2d) Forward(x *Tensor, _ Tap) *Tensor {
	g := l.geom
	if len(x.Shape) != 4 || x.Shape[1] != g.c || x.Shape[2] != g.h || x.Shape[3] != g.w {
		panic(ShapeError{Op: "locally_connected2d " + l.name + " forward", Want: []int{-1, g.c, g.h, g.w}, Got: x.Shape})
	}
	l.x = x
	batch := x.Shape[0]
	K, P, oc := g.rows(), g.positions(), l.cfg.OutChannels
	l.cols = growFloats(l.cols, batch*K*P)
	l.y = reuse(l.y, batch, oc, g.oh, g.ow)
	w, bias := l.Weight.Value.Data, l.Bias.Value.Data
	for b := range batch {
		cols := l.cols[b*K*P : (b+1)*K*P]
		g.im2col(x.Data[b*g.c*g.h*g.w:(b+1)*g.c*g.h*g.w], cols)
		for o := range oc {
			for p := range P {
				kernel := w[(p*oc+o)*K : (p*oc+o+1)*K] // the kernel of position p alone
				sum := bias[o*P+p]
				for r, wv := range kernel {
					sum += wv * cols[r*P+p]
				}
				l.y.Data[(b*oc+o)*P+p] = sum
			}
		}
	}
	return l.y
}

// Backward adds dW and db into the gradients and returns dx. Each position's
// kernel gets only its own position's gradient: there is nothing to sum
// across positions, which is the point of the comparison with Conv2d. It
// panics with a ShapeError unless dy has the shape of the last output.
func (l *LocallyConnected2d) Backward(dy *Tensor, _ Tap) *Tensor {
	mustMatch("locally_connected2d", l.name, dy, l.y)
	g := l.geom
	batch := dy.Shape[0]
	K, P, oc := g.rows(), g.positions(), l.cfg.OutChannels
	w, dw, db := l.Weight.Value.Data, l.Weight.Grad.Data, l.Bias.Grad.Data
	if !l.noInputGrad {
		l.dx = reuse(l.dx, l.x.Shape...)
		clear(l.dx.Data)
		l.dcols = growFloats(l.dcols, K*P)
	}
	for b := range batch {
		cols := l.cols[b*K*P : (b+1)*K*P]
		for o := range oc {
			for p := range P {
				up := dy.Data[(b*oc+o)*P+p]
				db[o*P+p] += up // accumulated over the batch only
				at := (p*oc + o) * K
				dkernel := dw[at : at+K]
				for r := range K {
					dkernel[r] += up * cols[r*P+p]
				}
			}
		}
		if l.noInputGrad {
			continue
		}
		clear(l.dcols)
		for o := range oc {
			for p := range P {
				up := dy.Data[(b*oc+o)*P+p]
				at := (p*oc + o) * K
				kernel := w[at : at+K]
				for r := range K {
					l.dcols[r*P+p] += up * kernel[r]
				}
			}
		}
		g.col2im(l.dcols, l.dx.Data[b*g.c*g.h*g.w:(b+1)*g.c*g.h*g.w])
	}
	if l.noInputGrad {
		return nil
	}
	return l.dx
}
