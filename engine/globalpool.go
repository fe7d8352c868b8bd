package engine

import "fmt"

// GlobalAvgPool2d averages every channel over its whole plane: [B, C, H, W]
// → [B, C], as torch's x.mean((2, 3)) or nn.AdaptiveAvgPool2d(1) followed
// by flatten. A feature that moves inside the plane leaves the average
// unchanged, so a convolutional trunk followed by it answers the same for a
// shifted image (up to the edges and the pooling grid) — the invariance a
// flatten in its place does not have. It has no parameters.
type GlobalAvgPool2d struct {
	name  string
	x     *Tensor
	y, dx *Tensor
}

var _ Layer = (*GlobalAvgPool2d)(nil)

// NewGlobalAvgPool2d returns a global_avg_pool2d layer.
func NewGlobalAvgPool2d(name string) *GlobalAvgPool2d { return &GlobalAvgPool2d{name: name} }

// Spec returns type "global_avg_pool2d" with no attrs.
func (g *GlobalAvgPool2d) Spec() Spec {
	return Spec{Name: g.name, Type: "global_avg_pool2d", Attrs: map[string]any{}}
}

// Params returns nil: pooling has no parameters.
func (g *GlobalAvgPool2d) Params() []NamedParam { return nil }

// OutShape accepts [C, H, W] with every size positive and returns [C].
func (g *GlobalAvgPool2d) OutShape(in []int) ([]int, error) {
	if len(in) != 3 || in[0] < 1 || in[1] < 1 || in[2] < 1 {
		return nil, fmt.Errorf("engine: global_avg_pool2d %q: input shape %v, want [C H W] with every size ≥ 1", g.name, in)
	}
	return []int{in[0]}, nil
}

// Forward returns the mean of each plane of x [B, C, H, W] as [B, C]. It
// panics with a ShapeError unless x is 4-D with a non-empty plane.
func (g *GlobalAvgPool2d) Forward(x *Tensor, _ Tap) *Tensor {
	if len(x.Shape) != 4 || x.Shape[2] < 1 || x.Shape[3] < 1 {
		panic(ShapeError{Op: "global_avg_pool2d " + g.name + " forward", Want: []int{-1, -1, -1, -1}, Got: x.Shape})
	}
	g.x = x
	planes, area := x.Shape[0]*x.Shape[1], x.Shape[2]*x.Shape[3]
	g.y = reuse(g.y, x.Shape[0], x.Shape[1])
	inv := 1 / float64(area)
	for p := range planes {
		var sum float64
		for _, v := range x.Data[p*area : (p+1)*area] {
			sum += v
		}
		g.y.Data[p] = sum * inv
	}
	return g.y
}

// Backward spreads each output's gradient evenly over its plane: every
// input of plane (b, c) gets dy[b, c] / (H·W). It panics with a ShapeError
// unless dy has the shape of the last output.
func (g *GlobalAvgPool2d) Backward(dy *Tensor, _ Tap) *Tensor {
	mustMatch("global_avg_pool2d", g.name, dy, g.y)
	g.dx = reuse(g.dx, g.x.Shape...)
	area := g.x.Shape[2] * g.x.Shape[3]
	inv := 1 / float64(area)
	for p, d := range dy.Data {
		v := d * inv
		row := g.dx.Data[p*area : (p+1)*area]
		for i := range row {
			row[i] = v
		}
	}
	return g.dx
}
