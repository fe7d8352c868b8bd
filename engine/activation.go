package engine

import "math"

// elementwise holds what ReLU, Tanh and Sigmoid share: a name, the last
// input and output, and the reused buffers.
type elementwise struct {
	name  string
	x     *Tensor // last Forward input (borrowed)
	y, dx *Tensor
}

func (e *elementwise) Params() []NamedParam { return nil }

// OutShape accepts any shape and returns it.
func (e *elementwise) OutShape(in []int) ([]int, error) { return append([]int(nil), in...), nil }

func (e *elementwise) forwardBuffers(x *Tensor) {
	e.x = x
	e.y = reuse(e.y, x.Shape...)
}

func (e *elementwise) backwardBuffers(kind string, dy *Tensor) {
	mustMatch(kind, e.name, dy, e.y)
	e.dx = reuse(e.dx, dy.Shape...)
}

// ReLU is max(0, x) element-wise.
type ReLU struct{ elementwise }

// Tanh is tanh(x) element-wise.
type Tanh struct{ elementwise }

// Sigmoid is 1/(1+e^−x) element-wise.
type Sigmoid struct{ elementwise }

var (
	_ Layer = (*ReLU)(nil)
	_ Layer = (*Tanh)(nil)
	_ Layer = (*Sigmoid)(nil)
)

// NewReLU returns a ReLU layer.
func NewReLU(name string) Layer { return &ReLU{elementwise{name: name}} }

// NewTanh returns a Tanh layer.
func NewTanh(name string) Layer { return &Tanh{elementwise{name: name}} }

// NewSigmoid returns a Sigmoid layer.
func NewSigmoid(name string) Layer { return &Sigmoid{elementwise{name: name}} }

// Spec returns type "relu".
func (r *ReLU) Spec() Spec { return Spec{Name: r.name, Type: "relu"} }

// Forward returns max(0, x).
func (r *ReLU) Forward(x *Tensor, _ Tap) *Tensor {
	r.forwardBuffers(x)
	for i, v := range x.Data {
		r.y.Data[i] = max(v, 0)
	}
	return r.y
}

// Backward returns dy where the input was positive, 0 elsewhere (torch's
// choice at 0). It panics with a ShapeError unless dy has y's shape.
func (r *ReLU) Backward(dy *Tensor, _ Tap) *Tensor {
	r.backwardBuffers("relu", dy)
	y := r.y.Data[:len(dy.Data)]
	dx := r.dx.Data[:len(dy.Data)]
	for i, g := range dy.Data {
		// y = max(x, 0) is +0 exactly where the gradient stops, so the
		// test "y's bits are not all zero" is "x > 0" (a NaN passes its
		// gradient, as torch's x <= 0 test does). It is done on bits,
		// without a branch: half the signs of a layer are random and a
		// mispredicted branch per element costs more than the arithmetic.
		bits := math.Float64bits(y[i])
		keep := -((bits | -bits) >> 63) // all ones if bits ≠ 0, else 0
		dx[i] = math.Float64frombits(math.Float64bits(g) & keep)
	}
	return r.dx
}

// Spec returns type "tanh".
func (t *Tanh) Spec() Spec { return Spec{Name: t.name, Type: "tanh"} }

// Forward returns tanh(x).
func (t *Tanh) Forward(x *Tensor, _ Tap) *Tensor {
	t.forwardBuffers(x)
	for i, v := range x.Data {
		t.y.Data[i] = math.Tanh(v)
	}
	return t.y
}

// Backward returns dy·(1 − y²). It panics with a ShapeError unless dy has
// y's shape.
func (t *Tanh) Backward(dy *Tensor, _ Tap) *Tensor {
	t.backwardBuffers("tanh", dy)
	for i, g := range dy.Data {
		y := t.y.Data[i]
		t.dx.Data[i] = g * (1 - y*y)
	}
	return t.dx
}

// Spec returns type "sigmoid".
func (s *Sigmoid) Spec() Spec { return Spec{Name: s.name, Type: "sigmoid"} }

// Forward returns 1/(1+e^−x).
func (s *Sigmoid) Forward(x *Tensor, _ Tap) *Tensor {
	s.forwardBuffers(x)
	for i, v := range x.Data {
		s.y.Data[i] = 1 / (1 + math.Exp(-v))
	}
	return s.y
}

// Backward returns dy·y·(1 − y). It panics with a ShapeError unless dy has
// y's shape.
func (s *Sigmoid) Backward(dy *Tensor, _ Tap) *Tensor {
	s.backwardBuffers("sigmoid", dy)
	for i, g := range dy.Data {
		y := s.y.Data[i]
		s.dx.Data[i] = g * y * (1 - y)
	}
	return s.dx
}
