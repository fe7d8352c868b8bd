package engine

import "fmt"

// Pool2d is max or average pooling over k×k windows with a stride and no
// padding, as torch.nn.MaxPool2d / AvgPool2d (floor mode: a window that
// would run past the edge is dropped). Inputs are [B, C, H, W].
type Pool2d struct {
	name           string
	max            bool
	kernel, stride int

	x      *Tensor
	y, dx  *Tensor
	argmax []int // for max pooling: flat input index of each output's maximum
}

var _ Layer = (*Pool2d)(nil)

// NewMaxPool2d returns max pooling with the given window and stride (0
// means stride = kernel, torch's default). It returns an error for a
// non-positive kernel or a negative stride.
func NewMaxPool2d(name string, kernel, stride int) (*Pool2d, error) {
	return newPool2d(name, true, kernel, stride)
}

// NewAvgPool2d returns average pooling; arguments as NewMaxPool2d.
func NewAvgPool2d(name string, kernel, stride int) (*Pool2d, error) {
	return newPool2d(name, false, kernel, stride)
}

func newPool2d(name string, isMax bool, kernel, stride int) (*Pool2d, error) {
	p := &Pool2d{name: name, max: isMax, kernel: kernel, stride: stride}
	if stride == 0 {
		p.stride = kernel
	}
	if kernel < 1 || p.stride < 1 {
		return nil, fmt.Errorf("engine: %s %q: kernel must be positive and stride not negative, got %d and %d", p.kind(), name, kernel, stride)
	}
	return p, nil
}

func (p *Pool2d) kind() string {
	if p.max {
		return "maxpool2d"
	}
	return "avgpool2d"
}

// Spec returns type "maxpool2d" or "avgpool2d" with kernel_size and stride.
func (p *Pool2d) Spec() Spec {
	return Spec{Name: p.name, Type: p.kind(), Attrs: map[string]any{"kernel_size": p.kernel, "stride": p.stride}}
}

// Params returns nil: pooling has no parameters.
func (p *Pool2d) Params() []NamedParam { return nil }

// OutShape accepts [C, H, W] with H, W ≥ kernel and returns [C, OH, OW].
func (p *Pool2d) OutShape(in []int) ([]int, error) {
	if len(in) != 3 || in[0] < 1 {
		return nil, fmt.Errorf("engine: %s %q: input shape %v, want [C H W]", p.kind(), p.name, in)
	}
	if in[1] < p.kernel || in[2] < p.kernel {
		return nil, fmt.Errorf("engine: %s %q: window %d is larger than the input %d×%d", p.kind(), p.name, p.kernel, in[1], in[2])
	}
	return []int{in[0], (in[1]-p.kernel)/p.stride + 1, (in[2]-p.kernel)/p.stride + 1}, nil
}

// Forward pools x [B, C, H, W]. It panics with a ShapeError when x is not
// 4-D or smaller than the window.
func (p *Pool2d) Forward(x *Tensor, _ Tap) *Tensor {
	if len(x.Shape) != 4 || x.Shape[2] < p.kernel || x.Shape[3] < p.kernel {
		panic(ShapeError{Op: p.kind() + " " + p.name + " forward (H, W at least)", Want: []int{-1, -1, p.kernel, p.kernel}, Got: x.Shape})
	}
	p.x = x
	batch, ch, h, w := x.Shape[0], x.Shape[1], x.Shape[2], x.Shape[3]
	oh, ow := (h-p.kernel)/p.stride+1, (w-p.kernel)/p.stride+1
	p.y = reuse(p.y, batch, ch, oh, ow)
	if p.max {
		if cap(p.argmax) < p.y.Size() {
			p.argmax = make([]int, p.y.Size())
		}
		p.argmax = p.argmax[:p.y.Size()]
	}
	inv := 1 / float64(p.kernel*p.kernel)
	k := p.kernel
	out := 0
	for plane := range batch * ch {
		base := plane * h * w
		for oy := range oh {
			for ox := range ow {
				top := base + oy*p.stride*w + ox*p.stride
				if p.max {
					p.y.Data[out], p.argmax[out] = windowMax(x.Data, top, w, k)
				} else {
					var sum float64
					for ky := range k {
						for _, v := range x.Data[top+ky*w : top+ky*w+k] {
							sum += v
						}
					}
					p.y.Data[out] = sum * inv
				}
				out++
			}
		}
	}
	return p.y
}

// windowMax returns the largest value of the k×k window of x whose top-left
// element is at index top (rows w apart) and that value's index: the first
// one on ties, as torch. A NaN is larger than any number (torch keeps the
// last NaN). The maximum is taken with the builtin max and the index found
// by a backward scan of int assignments, which compile to conditional moves:
// comparing a running maximum with a branch mispredicts on random data.
func windowMax(x []float64, top, w, k int) (float64, int) {
	if k == 2 {
		// The common 2×2 window, unrolled: it is most of a CNN's pooling.
		a, b, c, d := x[top], x[top+1], x[top+w], x[top+w+1]
		best := max(a, b, c, d)
		if best == best {
			at := top + w + 1
			if c == best {
				at = top + w
			}
			if b == best {
				at = top + 1
			}
			if a == best {
				at = top
			}
			return best, at
		}
	}
	best := x[top]
	for ky := range k {
		for _, v := range x[top+ky*w : top+ky*w+k] {
			best = max(best, v) // NaN if any is NaN
		}
	}
	at := top
	if best != best {
		for ky := range k {
			for kx := range k {
				if i := top + ky*w + kx; x[i] != x[i] {
					at = i
				}
			}
		}
		return best, at
	}
	for ky := k - 1; ky >= 0; ky-- {
		row := top + ky*w
		for kx := k - 1; kx >= 0; kx-- {
			if x[row+kx] == best {
				at = row + kx
			}
		}
	}
	return best, at
}

// Backward returns dx: max pooling routes each output's gradient to the
// input that was its maximum; average pooling spreads it evenly over the
// window. Overlapping windows (stride < kernel) add up. It panics with a
// ShapeError unless dy has the shape of the last output.
func (p *Pool2d) Backward(dy *Tensor, _ Tap) *Tensor {
	mustMatch(p.kind(), p.name, dy, p.y)
	p.dx = reuse(p.dx, p.x.Shape...)
	clear(p.dx.Data)
	if p.max {
		for i, g := range dy.Data {
			p.dx.Data[p.argmax[i]] += g
		}
		return p.dx
	}
	batch, ch, h, w := p.x.Shape[0], p.x.Shape[1], p.x.Shape[2], p.x.Shape[3]
	oh, ow := p.y.Shape[2], p.y.Shape[3]
	inv := 1 / float64(p.kernel*p.kernel)
	out := 0
	for plane := range batch * ch {
		base := plane * h * w
		for oy := range oh {
			for ox := range ow {
				g := dy.Data[out] * inv
				out++
				top := base + oy*p.stride*w + ox*p.stride
				for ky := range p.kernel {
					row := p.dx.Data[top+ky*w : top+ky*w+p.kernel]
					for i := range row {
						row[i] += g
					}
				}
			}
		}
	}
	return p.dx
}
