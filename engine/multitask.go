package engine

import (
	"fmt"
	"math/rand/v2"
	"slices"
)

// A multi-task model shares a trunk between tasks and gives each task a head
// of its own. The trunk is an ordinary line of layers; the heads sit side by
// side on the trunk's features, which a line of layers cannot express, so
// the project adds one layer and one loss (written into docs/trace-format.md
// under "Project additions"):
//
//	multitask_heads          [B, in] → [B, Σ heads]: the logits of every head, concatenated
//	multitask_cross_entropy  Σ over heads of the mean cross-entropy of that head's slice
//
// The trunk's Params are used by every task, so their gradient is the sum of
// each task's contribution — the same rule as every other kind of sharing.

// MultitaskHeads is one linear head per task on the same features:
// y[:, o_h : o_h+n_h] = x W_hᵀ + b_h, with o_h = n_0 + … + n_{h−1}.
type MultitaskHeads struct {
	name    string
	in      int
	heads   []int // output size of each head
	total   int
	Weights []*Param // W_h [n_h, in]
	Biases  []*Param // b_h [n_h]

	x     *Tensor // last Forward input (borrowed)
	y, dx *Tensor
}

var (
	_ Layer   = (*MultitaskHeads)(nil)
	_ Counter = (*MultitaskHeads)(nil)
)

// NewMultitaskHeads returns heads of the given output sizes on in features,
// each initialised as torch.nn.Linear(in, n_h), U(−1/√in, 1/√in), drawn from
// rng head by head (weight, then bias). It returns an error when in is not
// positive, there are no heads or a head size is not positive.
func NewMultitaskHeads(name string, in int, heads []int, rng *rand.Rand) (*MultitaskHeads, error) {
	if in < 1 {
		return nil, fmt.Errorf("engine: multitask_heads %q: in_features must be positive, got %d", name, in)
	}
	if len(heads) == 0 {
		return nil, fmt.Errorf("engine: multitask_heads %q: no heads", name)
	}
	m := &MultitaskHeads{name: name, in: in, heads: slices.Clone(heads)}
	for h, n := range heads {
		if n < 1 {
			return nil, fmt.Errorf("engine: multitask_heads %q: head %d has %d outputs, want at least 1", name, h, n)
		}
		w := NewParam(fmt.Sprintf("%s.head%d.weight", name, h), n, in)
		b := NewParam(fmt.Sprintf("%s.head%d.bias", name, h), n)
		InitTorchDefault(w.Value, in, rng)
		InitTorchDefault(b.Value, in, rng)
		m.Weights = append(m.Weights, w)
		m.Biases = append(m.Biases, b)
		m.total += n
	}
	return m, nil
}

// Spec returns type "multitask_heads" with in_features and heads (the output
// size of each head, in order).
func (m *MultitaskHeads) Spec() Spec {
	return Spec{Name: m.name, Type: "multitask_heads", Attrs: map[string]any{"in_features": m.in, "heads": slices.Clone(m.heads)}}
}

// Params returns head0.weight, head0.bias, head1.weight, head1.bias, ….
func (m *MultitaskHeads) Params() []NamedParam {
	ps := make([]NamedParam, 0, 2*len(m.heads))
	for h := range m.heads {
		ps = append(ps,
			NamedParam{Local: fmt.Sprintf("head%d.weight", h), Param: m.Weights[h]},
			NamedParam{Local: fmt.Sprintf("head%d.bias", h), Param: m.Biases[h]})
	}
	return ps
}

// Heads returns the output size of each head.
func (m *MultitaskHeads) Heads() []int { return slices.Clone(m.heads) }

// OutShape accepts [in_features] and returns [Σ heads].
func (m *MultitaskHeads) OutShape(in []int) ([]int, error) {
	if len(in) != 1 || in[0] != m.in {
		return nil, fmt.Errorf("engine: multitask_heads %q: input shape %v, want [%d]", m.name, in, m.in)
	}
	return []int{m.total}, nil
}

// Count reports Uses = in·Σ heads multiply-adds and Unshared = the heads'
// own parameters: nothing inside the heads is shared (the sharing of a
// multi-task model is in the trunk before them).
func (m *MultitaskHeads) Count(in []int) LayerCount {
	return LayerCount{Uses: m.in * m.total, Unshared: m.in*m.total + m.total}
}

// Forward computes every head's logits side by side. It panics with a
// ShapeError unless x is [B, in_features].
func (m *MultitaskHeads) Forward(x *Tensor, _ Tap) *Tensor {
	if len(x.Shape) != 2 || x.Shape[1] != m.in {
		panic(ShapeError{Op: "multitask_heads " + m.name + " forward", Want: []int{-1, m.in}, Got: x.Shape})
	}
	bsz := x.Shape[0]
	m.x = x
	m.y = reuse(m.y, bsz, m.total)
	off := 0
	for h, n := range m.heads {
		for b := range bsz {
			copy(m.y.Data[b*m.total+off:][:n], m.Biases[h].Value.Data)
		}
		// y[:, off:off+n] += x[B,in] · W_h[n,in]ᵀ, written in place with
		// leading dimension total.
		gemm(false, true, bsz, n, m.in, 1, x.Data, m.in, m.Weights[h].Value.Data, m.in, 1, m.y.Data[off:], m.total)
		off += n
	}
	return m.y
}

// Backward adds dW_h = dy_hᵀ x and db_h = Σ dy_h for every head and returns
// dx = Σ_h dy_h W_h: the features feed every head, so their gradient is the
// sum of what each task sends back. It panics with a ShapeError unless dy
// has the shape of the last output.
func (m *MultitaskHeads) Backward(dy *Tensor, _ Tap) *Tensor {
	mustMatch("multitask_heads", m.name, dy, m.y)
	bsz := m.x.Shape[0]
	m.dx = reuse(m.dx, m.x.Shape...)
	off := 0
	for h, n := range m.heads {
		dyh := dy.Data[off:] // head h's columns, leading dimension total
		gemm(true, false, n, m.in, bsz, 1, dyh, m.total, m.x.Data, m.in, 1, m.Weights[h].Grad.Data, m.in)
		db := m.Biases[h].Grad.Data
		for b := range bsz {
			for o, g := range dyh[b*m.total:][:n] {
				db[o] += g
			}
		}
		beta := 1.0
		if h == 0 {
			beta = 0 // the first head overwrites dx, the others add to it
		}
		gemm(false, false, bsz, m.in, n, 1, dyh, m.total, m.Weights[h].Value.Data, m.in, beta, m.dx.Data, m.in)
		off += n
	}
	return m.dx
}

// MultitaskCrossEntropy is the loss of a MultitaskHeads output y [B, Σ n_h]
// against target [B, H] (one class index per head):
//
//	L = Σ_h mean_b −log softmax(y[b, o_h : o_h+n_h])[target[b, h]]
//
// The tasks are weighted equally; each is the cross_entropy of its slice.
type MultitaskCrossEntropy struct {
	splits []int
	total  int
	heads  []*CrossEntropy
	logits []*Tensor // each head's slice of the last Forward's y, [B, n_h]
	target []*Tensor // each head's column of the target, [B]
	grad   *Tensor
}

var _ Loss = (*MultitaskCrossEntropy)(nil)

// NewMultitaskCrossEntropy returns the loss for heads of the given sizes. It
// returns an error when there are no splits or a split is below 1.
func NewMultitaskCrossEntropy(splits []int) (*MultitaskCrossEntropy, error) {
	if len(splits) == 0 {
		return nil, fmt.Errorf("engine: multitask_cross_entropy: no splits")
	}
	l := &MultitaskCrossEntropy{splits: slices.Clone(splits)}
	for h, n := range splits {
		if n < 1 {
			return nil, fmt.Errorf("engine: multitask_cross_entropy: split %d has %d classes, want at least 1", h, n)
		}
		l.total += n
		l.heads = append(l.heads, NewCrossEntropy())
	}
	l.logits = make([]*Tensor, len(splits))
	l.target = make([]*Tensor, len(splits))
	return l, nil
}

// Spec returns type "multitask_cross_entropy" with splits.
func (l *MultitaskCrossEntropy) Spec() LossSpec {
	return LossSpec{Type: "multitask_cross_entropy", Attrs: map[string]any{"splits": slices.Clone(l.splits)}}
}

// Forward returns the summed per-head mean cross-entropy. It panics with a
// ShapeError unless y is [B, Σ splits] and target [B, len(splits)], and as
// CrossEntropy.Forward does when a target is not a class index of its head.
func (l *MultitaskCrossEntropy) Forward(y, target *Tensor) float64 {
	if len(y.Shape) != 2 || y.Shape[1] != l.total || y.Shape[0] < 1 {
		panic(ShapeError{Op: "multitask_cross_entropy forward", Want: []int{-1, l.total}, Got: y.Shape})
	}
	bsz := y.Shape[0]
	mustShape("multitask_cross_entropy forward (target)", target, bsz, len(l.splits))
	var sum float64
	off := 0
	for h, n := range l.splits {
		// Copying the slices out keeps CrossEntropy as it is: the cost is
		// B·Σ n_h numbers per step, nothing next to the trunk.
		lg := reuse(l.logits[h], bsz, n)
		tg := reuse(l.target[h], bsz)
		for b := range bsz {
			copy(lg.Data[b*n:][:n], y.Data[b*l.total+off:][:n])
			tg.Data[b] = target.Data[b*len(l.splits)+h]
		}
		l.logits[h], l.target[h] = lg, tg
		sum += l.heads[h].Forward(lg, tg)
		off += n
	}
	return sum
}

// Backward returns dL/dy for the last Forward: each head's slice holds
// (softmax − onehot(target))/B of that head. It panics if Forward has not
// been called.
func (l *MultitaskCrossEntropy) Backward() *Tensor {
	if l.logits[0] == nil {
		panic("engine: multitask_cross_entropy: Backward called before Forward")
	}
	bsz := l.logits[0].Shape[0]
	l.grad = reuse(l.grad, bsz, l.total)
	off := 0
	for h, n := range l.splits {
		g := l.heads[h].Backward()
		for b := range bsz {
			copy(l.grad.Data[b*l.total+off:][:n], g.Data[b*n:][:n])
		}
		off += n
	}
	return l.grad
}

// HeadAccuracy returns, for every head, the fraction of examples whose
// largest logit in that head's slice is the target class, for outputs and
// targets shaped as in Forward. It panics with a ShapeError when they do not
// fit.
func (l *MultitaskCrossEntropy) HeadAccuracy(y, target *Tensor) []float64 {
	if len(y.Shape) != 2 || y.Shape[1] != l.total {
		panic(ShapeError{Op: "multitask_cross_entropy accuracy", Want: []int{-1, l.total}, Got: y.Shape})
	}
	bsz := y.Shape[0]
	mustShape("multitask_cross_entropy accuracy (target)", target, bsz, len(l.splits))
	acc := make([]float64, len(l.splits))
	off := 0
	for h, n := range l.splits {
		lg := NewTensor(bsz, n)
		tg := NewTensor(bsz)
		for b := range bsz {
			copy(lg.Data[b*n:][:n], y.Data[b*l.total+off:][:n])
			tg.Data[b] = target.Data[b*len(l.splits)+h]
		}
		acc[h] = Accuracy(lg, tg)
		off += n
	}
	return acc
}
