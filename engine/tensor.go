package engine

import (
	"fmt"
	"slices"
)

// Tensor is a dense float64 array in row-major order.
type Tensor struct {
	Shape []int
	Data  []float64
}

// ShapeError is the panic value for a tensor whose shape does not fit the
// operation it was given to. It is a programmer's mistake, not a data error.
type ShapeError struct {
	Op   string
	Want []int
	Got  []int
}

func (e ShapeError) Error() string {
	return fmt.Sprintf("engine: %s: shape %v, want %v", e.Op, e.Got, e.Want)
}

// NewTensor returns a zero tensor of the given shape. It panics if a
// dimension is negative.
func NewTensor(shape ...int) *Tensor {
	return &Tensor{Shape: slices.Clone(shape), Data: make([]float64, ShapeSize(shape))}
}

// TensorFrom wraps data (not copied) as a tensor of the given shape. It
// panics if len(data) does not match the shape.
func TensorFrom(data []float64, shape ...int) *Tensor {
	if len(data) != ShapeSize(shape) {
		panic(ShapeError{Op: "TensorFrom", Want: shape, Got: []int{len(data)}})
	}
	return &Tensor{Shape: slices.Clone(shape), Data: data}
}

// ShapeSize is the number of elements of a tensor of the given shape.
func ShapeSize(shape []int) int {
	n := 1
	for _, d := range shape {
		if d < 0 {
			// Formatting a copy keeps shape from escaping, so the
			// variadic shapes of NewTensor and reuse cost no allocation.
			panic(fmt.Sprintf("engine: negative dimension in shape %v", slices.Clone(shape)))
		}
		n *= d
	}
	return n
}

// Size is the number of elements.
func (t *Tensor) Size() int { return len(t.Data) }

// Clone returns a deep copy.
func (t *Tensor) Clone() *Tensor {
	return &Tensor{Shape: slices.Clone(t.Shape), Data: slices.Clone(t.Data)}
}

// Zero sets every element to 0.
func (t *Tensor) Zero() { clear(t.Data) }

// SameShape reports whether t and o have the same shape.
func (t *Tensor) SameShape(o *Tensor) bool { return slices.Equal(t.Shape, o.Shape) }

// View returns a tensor with another shape sharing t's data. It panics if the
// sizes differ.
func (t *Tensor) View(shape ...int) *Tensor {
	if ShapeSize(shape) != len(t.Data) {
		panic(ShapeError{Op: "View", Want: shape, Got: t.Shape})
	}
	return &Tensor{Shape: slices.Clone(shape), Data: t.Data}
}

// mustShape panics with a ShapeError unless t has exactly the given shape.
func mustShape(op string, t *Tensor, want ...int) {
	if !slices.Equal(t.Shape, want) {
		// A copy, so that want does not escape: the check costs no
		// allocation when it passes.
		panic(ShapeError{Op: op, Want: slices.Clone(want), Got: t.Shape})
	}
}

// reuse returns buf if it already has the given shape, or a new zero tensor.
// Layers use it to keep their output buffers across steps of equal batch
// size; the returned tensor is not cleared.
func reuse(buf *Tensor, shape ...int) *Tensor {
	if buf != nil && slices.Equal(buf.Shape, shape) {
		return buf
	}
	return NewTensor(shape...)
}
