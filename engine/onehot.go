package engine

import "fmt"

// OneHot is torch.nn.functional.one_hot as a layer: integer indices [B, T]
// (stored as float64) become [B, T, num_classes] with a 1 at each index and
// 0 elsewhere. It has no parameters.
type OneHot struct {
	name    string
	classes int
	idx     []int
	y, dx   *Tensor
}

var _ Layer = (*OneHot)(nil)

// NewOneHot returns a one-hot layer for numClasses classes. It returns an
// error when numClasses is not positive.
func NewOneHot(name string, numClasses int) (*OneHot, error) {
	if numClasses < 1 {
		return nil, fmt.Errorf("engine: one_hot %q: num_classes must be positive, got %d", name, numClasses)
	}
	return &OneHot{name: name, classes: numClasses}, nil
}

// Spec returns the trace spec: type "one_hot" with num_classes.
func (o *OneHot) Spec() Spec {
	return Spec{Name: o.name, Type: "one_hot", Attrs: map[string]any{"num_classes": o.classes}}
}

// Params returns nil: a one-hot encoding has nothing to learn.
func (o *OneHot) Params() []NamedParam { return nil }

// OutShape accepts a sequence of indices [T] with T ≥ 1 and returns
// [T, num_classes].
func (o *OneHot) OutShape(in []int) ([]int, error) {
	if len(in) != 1 || in[0] < 1 {
		return nil, fmt.Errorf("engine: one_hot %q: input shape %v, want [T] class indices with T ≥ 1", o.name, in)
	}
	return []int{in[0], o.classes}, nil
}

// Forward returns the one-hot encoding of x. It panics with a ShapeError
// unless x is [B, T], and with an "engine: one_hot ..." message when an
// index is not an integer in [0, num_classes).
func (o *OneHot) Forward(x *Tensor, _ Tap) *Tensor {
	if len(x.Shape) != 2 {
		panic(ShapeError{Op: "one_hot " + o.name + " forward", Want: []int{-1, -1}, Got: x.Shape})
	}
	o.idx = readIndices("one_hot", o.name, x, o.classes, o.idx)
	o.y = reuse(o.y, x.Shape[0], x.Shape[1], o.classes)
	o.y.Zero()
	for n, k := range o.idx {
		o.y.Data[n*o.classes+k] = 1
	}
	return o.y
}

// Backward returns a zero tensor of the input's shape: indices have no
// gradient. It panics with a ShapeError unless dy has the shape of the last
// output.
func (o *OneHot) Backward(dy *Tensor, _ Tap) *Tensor {
	mustMatch("one_hot", o.name, dy, o.y)
	o.dx = reuse(o.dx, o.y.Shape[0], o.y.Shape[1])
	return o.dx // never written: stays zero
}
