package engine

import "fmt"

// LastStep keeps the last time step of a sequence: [B, T, H] → [B, H], as
// output[:, -1] after a batch-first recurrent layer. It has no parameters.
type LastStep struct {
	name  string
	in    []int // the last Forward input's shape
	y, dx *Tensor
}

var _ Layer = (*LastStep)(nil)

// NewLastStep returns a last_step layer.
func NewLastStep(name string) Layer { return &LastStep{name: name} }

// Spec returns the trace spec: type "last_step", no attrs.
func (l *LastStep) Spec() Spec {
	return Spec{Name: l.name, Type: "last_step", Attrs: map[string]any{}}
}

// Params returns nil.
func (l *LastStep) Params() []NamedParam { return nil }

// OutShape accepts [T, H] with T ≥ 1 and returns [H].
func (l *LastStep) OutShape(in []int) ([]int, error) {
	if len(in) != 2 || in[0] < 1 {
		return nil, fmt.Errorf("engine: last_step %q: input shape %v, want [T H] with T ≥ 1", l.name, in)
	}
	return []int{in[1]}, nil
}

// Forward returns x[:, T-1, :]. It panics with a ShapeError unless x is
// [B, T, H] with T ≥ 1.
func (l *LastStep) Forward(x *Tensor, _ Tap) *Tensor {
	if len(x.Shape) != 3 || x.Shape[1] < 1 {
		panic(ShapeError{Op: "last_step " + l.name + " forward", Want: []int{-1, -1, -1}, Got: x.Shape})
	}
	batch, steps, h := x.Shape[0], x.Shape[1], x.Shape[2]
	l.in = append(l.in[:0], x.Shape...)
	l.y = reuse(l.y, batch, h)
	for b := range batch {
		copy(l.y.Data[b*h:(b+1)*h], x.Data[(b*steps+steps-1)*h:][:h])
	}
	return l.y
}

// Backward returns dx with dy in the last step and zeros elsewhere: the
// earlier steps did not reach the output through this layer. It panics with
// a ShapeError unless dy has the shape of the last output.
func (l *LastStep) Backward(dy *Tensor, _ Tap) *Tensor {
	mustMatch("last_step", l.name, dy, l.y)
	batch, steps, h := l.in[0], l.in[1], l.in[2]
	l.dx = reuse(l.dx, batch, steps, h)
	l.dx.Zero()
	for b := range batch {
		copy(l.dx.Data[(b*steps+steps-1)*h:][:h], dy.Data[b*h:(b+1)*h])
	}
	return l.dx
}
