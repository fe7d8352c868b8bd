package engine

import "fmt"

// Flatten turns [B, d1, d2, …] into [B, d1·d2·…]. It copies rather than
// returning a view of its input, so that its output is its own, like every
// other layer's.
type Flatten struct {
	name  string
	x     *Tensor
	y, dx *Tensor
}

var _ Layer = (*Flatten)(nil)

// NewFlatten returns a Flatten layer.
func NewFlatten(name string) Layer { return &Flatten{name: name} }

// Spec returns type "flatten".
func (f *Flatten) Spec() Spec { return Spec{Name: f.name, Type: "flatten"} }

// Params returns nil.
func (f *Flatten) Params() []NamedParam { return nil }

// OutShape accepts any shape of at least one axis and returns
// [prod(shape)].
func (f *Flatten) OutShape(in []int) ([]int, error) {
	if len(in) == 0 {
		return nil, fmt.Errorf("engine: flatten %q: input has no axes to flatten", f.name)
	}
	return []int{ShapeSize(in)}, nil
}

// Forward returns x as [B, prod]. It panics with a ShapeError when x has
// no batch axis.
func (f *Flatten) Forward(x *Tensor, _ Tap) *Tensor {
	if len(x.Shape) < 1 {
		panic(ShapeError{Op: "flatten " + f.name + " forward", Want: []int{-1}, Got: x.Shape})
	}
	f.x = x
	batch := x.Shape[0]
	per := 0
	if batch > 0 {
		per = x.Size() / batch
	}
	f.y = reuse(f.y, batch, per)
	copy(f.y.Data, x.Data)
	return f.y
}

// Backward returns dy in the input's shape. It panics with a ShapeError
// unless dy has the shape of the last output.
func (f *Flatten) Backward(dy *Tensor, _ Tap) *Tensor {
	mustMatch("flatten", f.name, dy, f.y)
	f.dx = reuse(f.dx, f.x.Shape...)
	copy(f.dx.Data, dy.Data)
	return f.dx
}
