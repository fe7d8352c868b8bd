package engine

import (
	"fmt"
	"math/rand/v2"
)

// Linear is a fully connected layer, y = x Wᵀ + b over the last axis, as
// torch.nn.Linear. It takes [B, in] or [B, T, in]; on a sequence the same
// weights are applied at every step, which is sharing within the layer.
type Linear struct {
	name    string
	in, out int
	Weight  *Param // [out, in]; may be another layer's Param (NewLinearShared)
	Bias    *Param // [out]

	x     *Tensor // last Forward input (borrowed)
	y, dx *Tensor
	// noInputGrad: Backward leaves dx out (see InputGradSkipper).
	noInputGrad bool
	tokW        *Tensor // one token's contribution to dW, only with a tap
	tokB        *Tensor
	tokIdx      [][]int // Index slices [t], made once and never modified
}

var (
	_ Layer   = (*Linear)(nil)
	_ Counter = (*Linear)(nil)
)

// SkipInputGrad makes Backward return nil instead of dx when skip is true.
func (l *Linear) SkipInputGrad(skip bool) { l.noInputGrad = skip }

// NewLinear returns a Linear layer from in to out features with PyTorch's
// default initialisation, U(-1/√in, 1/√in) for weight and bias, drawn from
// rng. It returns an error when in or out is not positive.
func NewLinear(name string, in, out int, rng *rand.Rand) (*Linear, error) {
	if in < 1 || out < 1 {
		return nil, fmt.Errorf("engine: linear %q: in and out features must be positive, got %d and %d", name, in, out)
	}
	l := &Linear{
		name:   name,
		in:     in,
		out:    out,
		Weight: NewParam(name+".weight", out, in),
		Bias:   NewParam(name+".bias", out),
	}
	InitTorchDefault(l.Weight.Value, in, rng)
	InitTorchDefault(l.Bias.Value, in, rng)
	return l, nil
}

// NewLinearShared returns a Linear layer whose weight is the existing Param
// weight, of shape [out, in] (weight tying: an output layer that reuses an
// embedding matrix [num, dim] maps dim features to num). The layer gets a
// new bias of its own, initialised as NewLinear's from rng. Backward adds
// into the shared weight's Grad like every other holder. It returns an
// error when weight is nil or not a matrix.
func NewLinearShared(name string, weight *Param, rng *rand.Rand) (*Linear, error) {
	if weight == nil || len(weight.Value.Shape) != 2 || weight.Size() == 0 {
		var shape []int
		if weight != nil {
			shape = weight.Value.Shape
		}
		return nil, fmt.Errorf("engine: linear %q: shared weight must be a non-empty [out, in] matrix, got shape %v", name, shape)
	}
	out, in := weight.Value.Shape[0], weight.Value.Shape[1]
	l := &Linear{name: name, in: in, out: out, Weight: weight, Bias: NewParam(name+".bias", out)}
	InitTorchDefault(l.Bias.Value, in, rng)
	return l, nil
}

// Spec returns the trace spec: type "linear" with in_features and
// out_features.
func (l *Linear) Spec() Spec {
	return Spec{Name: l.name, Type: "linear", Attrs: map[string]any{"in_features": l.in, "out_features": l.out}}
}

// Params returns weight and bias.
func (l *Linear) Params() []NamedParam {
	return []NamedParam{{Local: "weight", Param: l.Weight}, {Local: "bias", Param: l.Bias}}
}

// OutShape accepts [in] or [T, in] and returns [out] or [T, out].
func (l *Linear) OutShape(in []int) ([]int, error) {
	if (len(in) != 1 && len(in) != 2) || in[len(in)-1] != l.in {
		return nil, fmt.Errorf("engine: linear %q: input shape %v, want [%d] or [T %d]", l.name, in, l.in, l.in)
	}
	if len(in) == 2 && in[0] < 1 {
		return nil, fmt.Errorf("engine: linear %q: input shape %v has no steps", l.name, in)
	}
	out := append([]int(nil), in...)
	out[len(out)-1] = l.out
	return out, nil
}

// Count reports Uses = T·in·out multiply-adds per example (T = 1 for a 2-D
// input) and Unshared = T·(in·out + out): a sequence input is T uses of the
// same weights, which unshared would be T separate layers.
func (l *Linear) Count(in []int) LayerCount {
	steps := 1
	if len(in) == 2 {
		steps = in[0]
	}
	return LayerCount{Uses: steps * l.in * l.out, Unshared: steps * (l.in*l.out + l.out)}
}

// rows checks x's shape and returns how many feature vectors it holds.
func (l *Linear) rows(x *Tensor) int {
	if (len(x.Shape) != 2 && len(x.Shape) != 3) || x.Shape[len(x.Shape)-1] != l.in {
		panic(ShapeError{Op: "linear " + l.name + " forward", Want: []int{-1, l.in}, Got: x.Shape})
	}
	return x.Size() / l.in
}

// Forward computes y = x Wᵀ + b. It panics with a ShapeError unless x is
// [B, in] or [B, T, in].
func (l *Linear) Forward(x *Tensor, _ Tap) *Tensor {
	n := l.rows(x)
	l.x = x
	shape := x.Shape
	if len(shape) == 2 {
		l.y = reuse(l.y, shape[0], l.out)
	} else {
		l.y = reuse(l.y, shape[0], shape[1], l.out)
	}
	for r := range n {
		copy(l.y.Data[r*l.out:(r+1)*l.out], l.Bias.Value.Data)
	}
	// y[n,out] += x[n,in] · W[out,in]ᵀ
	gemm(false, true, n, l.out, l.in, 1, x.Data, l.in, l.Weight.Value.Data, l.in, 1, l.y.Data, l.out)
	return l.y
}

// Backward adds dW = dyᵀ x and db = Σ dy into the Params' gradients and
// returns dx = dy W. On a 3-D input with a tap, it also reports each step's
// part of dW and db as a UseToken contribution with Index [t]. It panics
// with a ShapeError unless dy has the shape of the last output.
func (l *Linear) Backward(dy *Tensor, tap Tap) *Tensor {
	mustMatch("linear", l.name, dy, l.y)
	x := l.x
	n := x.Size() / l.in
	// The weight's gradient is the sum over every row (example, step) it
	// was used on: dW += dyᵀ x, accumulated (+=, beta 1) as micrograd's
	// `self.grad += ...`, on top of what other holders already added.
	gemm(true, false, l.out, l.in, n, 1, dy.Data, l.out, x.Data, l.in, 1, l.Weight.Grad.Data, l.in)
	db := l.Bias.Grad.Data
	for r := range n {
		for o, g := range dy.Data[r*l.out : (r+1)*l.out] {
			db[o] += g // db += dy, one row at a time
		}
	}
	if tap != nil && len(x.Shape) == 3 {
		l.reportTokens(dy, tap)
	}
	if l.noInputGrad {
		return nil
	}
	l.dx = reuse(l.dx, x.Shape...)
	// dx[n,in] = dy[n,out] · W[out,in]
	gemm(false, false, n, l.in, l.out, 1, dy.Data, l.out, l.Weight.Value.Data, l.in, 0, l.dx.Data, l.in)
	return l.dx
}

// mustMatch panics with a ShapeError unless dy has the shape of y, the
// output it is the gradient of. The op name is only built on failure, so the
// check costs no allocation on the hot path.
func mustMatch(kind, layer string, dy, y *Tensor) {
	if y == nil {
		panic("engine: " + kind + " " + layer + ": Backward called before Forward")
	}
	if !dy.SameShape(y) {
		panic(ShapeError{Op: kind + " " + layer + " backward", Want: y.Shape, Got: dy.Shape})
	}
}

// reportTokens tells tap, for every step t of a [B, T, in] input, the part of
// dW and db that came from step t: Σ over the batch of dy[b,t]ᵀ x[b,t].
func (l *Linear) reportTokens(dy *Tensor, tap Tap) {
	batch, steps := l.x.Shape[0], l.x.Shape[1]
	l.tokW = reuse(l.tokW, l.out, l.in)
	l.tokB = reuse(l.tokB, l.out)
	for len(l.tokIdx) < steps {
		l.tokIdx = append(l.tokIdx, []int{len(l.tokIdx)})
	}
	for t := range steps {
		// Rows of step t are every steps-th row, starting at t.
		gemm(true, false, l.out, l.in, batch, 1, dy.Data[t*l.out:], steps*l.out, l.x.Data[t*l.in:], steps*l.in, 0, l.tokW.Data, l.in)
		clear(l.tokB.Data)
		for b := range batch {
			row := dy.Data[(b*steps+t)*l.out:][:l.out]
			for o, g := range row {
				l.tokB.Data[o] += g
			}
		}
		tap.Contribute(Contribution{Layer: l.name, Param: l.Weight, Local: "weight", Kind: UseToken, Index: l.tokIdx[t], Grad: l.tokW})
		tap.Contribute(Contribution{Layer: l.name, Param: l.Bias, Local: "bias", Kind: UseToken, Index: l.tokIdx[t], Grad: l.tokB})
	}
}
