package engine

import (
	"fmt"
	"math"
	"slices"
)

// Siamese applies one branch of layers — one set of Params — to both inputs
// of each pair and outputs their L2 distance: for x [B, 2, ...],
//
//	y[b] = ‖f(x[b,0]) − f(x[b,1]) + eps‖₂,   eps = 1e-6,
//
// as torch.nn.functional.pairwise_distance(a, b, p=2, eps=1e-6) (the eps
// keeps the distance, and its gradient (a−b+eps)/y, finite for equal
// embeddings).
//
// The twins are one set of layers run once on a batch of 2B: the first
// inputs of the pairs, then the second ones. Every branch layer treats its
// batch rows independently, so this is exactly two applications of the same
// function, the gradients of both sides add up in the shared Params through
// the usual +=, and no layer needs a copy of itself. (A layer that mixed
// examples of a batch, such as batch norm, could not be a branch layer.)
type Siamese struct {
	name   string
	branch []Layer
	params []NamedParam // each branch Param once, Local "LAYER.PARAM"
	owners []string     // for each of params: the first branch layer holding it
	locals []string     // …and the Param's local name in that layer

	batch int
	xcat  *Tensor   // [2B, ...]: x[:,0] then x[:,1]
	emb   *Tensor   // branch output [2B, ...], owned by the last branch layer
	diff  []float64 // a − b + eps, [B, F]
	y     *Tensor   // [B]
	dcat  *Tensor   // gradient at the branch output, shaped as emb
	dx    *Tensor   // [B, 2, ...]
	sides [2][]int  // Index [0] and [1] for taps, never modified
}

var (
	_ Layer     = (*Siamese)(nil)
	_ Counter   = (*Siamese)(nil)
	_ Container = (*Siamese)(nil)
)

// pairEps is torch.nn.functional.pairwise_distance's default eps.
const pairEps = 1e-6

// NewSiamese returns a siamese layer whose branch is the given layers, run
// in order on each side of a pair. The branch layers' names must be unique
// in the model (NewModel checks it, the Sublayers are part of the trace). It
// returns an error when the branch is empty or holds a nil layer.
func NewSiamese(name string, branch ...Layer) (*Siamese, error) {
	if len(branch) == 0 {
		return nil, fmt.Errorf("engine: siamese %q: the branch has no layers", name)
	}
	s := &Siamese{name: name, branch: slices.Clone(branch)}
	seen := map[*Param]bool{}
	for i, l := range branch {
		if l == nil {
			return nil, fmt.Errorf("engine: siamese %q: branch layer %d is nil", name, i)
		}
		sub := l.Spec().Name
		for _, np := range l.Params() {
			if seen[np.Param] {
				continue
			}
			seen[np.Param] = true
			s.params = append(s.params, NamedParam{Local: sub + "." + np.Local, Param: np.Param})
			s.locals = append(s.locals, np.Local)
			s.owners = append(s.owners, sub)
		}
	}
	s.sides = [2][]int{{0}, {1}}
	return s, nil
}

// Spec returns type "siamese" with distance "l2".
func (s *Siamese) Spec() Spec {
	return Spec{Name: s.name, Type: "siamese", Attrs: map[string]any{"distance": "l2"}}
}

// Sublayers returns the branch layers (one twin: both sides use them).
func (s *Siamese) Sublayers() []Layer { return s.branch }

// Params returns every Param of the branch once, in order of first use,
// with local names "BRANCHLAYER.PARAM" ("conv1.weight"). The siamese layer
// has none of its own; a trace lists them under its branch layers.
func (s *Siamese) Params() []NamedParam { return s.params }

// OutShape accepts [2, ...] where the branch accepts [...], and returns []:
// one distance per pair.
func (s *Siamese) OutShape(in []int) ([]int, error) {
	if len(in) < 2 || in[0] != 2 {
		return nil, fmt.Errorf("engine: siamese %q: input shape %v, want [2 ...] (a pair)", s.name, in)
	}
	shape := in[1:]
	for _, l := range s.branch {
		out, err := l.OutShape(shape)
		if err != nil {
			return nil, fmt.Errorf("engine: siamese %q: branch layer %q on input %v: %w", s.name, l.Spec().Name, shape, err)
		}
		shape = out
	}
	return []int{}, nil
}

// Count reports twice the branch's Uses (each pair runs it twice) and twice
// its Unshared count: without sharing each twin would have weights of its
// own.
func (s *Siamese) Count(in []int) LayerCount {
	var c LayerCount
	shape := in[1:]
	for _, l := range s.branch {
		if ct, ok := l.(Counter); ok {
			lc := ct.Count(shape)
			c.Uses += 2 * lc.Uses
			c.Unshared += 2 * lc.Unshared
		}
		shape, _ = l.OutShape(shape)
	}
	return c
}

// Forward returns the distance of each pair. With a tap, each branch
// layer's output is shown to tap.Output as the batch of 2B it computes:
// rows 0…B−1 are the first inputs of the pairs, rows B…2B−1 the second. It
// panics with a ShapeError unless x is [B, 2, ...] (and the branch layers
// panic on inputs they do not accept).
func (s *Siamese) Forward(x *Tensor, tap Tap) *Tensor {
	if len(x.Shape) < 3 || x.Shape[1] != 2 {
		panic(ShapeError{Op: "siamese " + s.name + " forward", Want: []int{-1, 2, -1}, Got: x.Shape})
	}
	bsz := x.Shape[0]
	s.batch = bsz
	per := ShapeSize(x.Shape[2:]) // elements of one side of one pair
	if s.xcat == nil || s.xcat.Shape[0] != 2*bsz || !slices.Equal(s.xcat.Shape[1:], x.Shape[2:]) {
		s.xcat = NewTensor(append([]int{2 * bsz}, x.Shape[2:]...)...)
	}
	for b := range bsz {
		for side := range 2 {
			copy(s.xcat.Data[(side*bsz+b)*per:][:per], x.Data[(2*b+side)*per:][:per])
		}
	}
	s.emb = s.runBranch(tap)
	feat := s.emb.Size() / (2 * bsz)
	s.y = reuse(s.y, bsz)
	if cap(s.diff) < bsz*feat {
		s.diff = make([]float64, bsz*feat)
	}
	s.diff = s.diff[:bsz*feat]
	a, bb := s.emb.Data[:bsz*feat], s.emb.Data[bsz*feat:]
	for b := range bsz {
		var sum float64
		for i := b * feat; i < (b+1)*feat; i++ {
			d := a[i] - bb[i] + pairEps
			s.diff[i] = d
			sum += d * d
		}
		s.y.Data[b] = math.Sqrt(sum)
	}
	return s.y
}

// runBranch runs the branch forward on xcat, passing tap (may be nil) to
// the layers and showing it their outputs.
func (s *Siamese) runBranch(tap Tap) *Tensor {
	cur := s.xcat
	for _, l := range s.branch {
		out := l.Forward(cur, tap)
		if tap != nil {
			tap.Output(l, cur, out)
		}
		cur = out
	}
	return cur
}

// backBranch runs the branch backward from dcat and returns the gradient at
// xcat.
func (s *Siamese) backBranch(tap Tap) *Tensor {
	g := s.dcat
	for i := len(s.branch) - 1; i >= 0; i-- {
		g = s.branch[i].Backward(g, tap)
	}
	return g
}

// Backward adds the gradient of both sides into the branch Params and
// returns dx [B, 2, ...]. With a tap it also reports, for every branch
// Param, what each side added (UseBranch, Index [0] for the first inputs
// of the pairs, [1] for the second); to separate them it runs the branch
// backward once per side, re-running the forward pass in between so that
// every layer differentiates the activations it just computed. A tap that
// is an Observer is thus shown the branch layers' Backward internals once
// per side, each with the other side's rows of the gradient zero. It panics
// with a ShapeError unless dy has the shape of the last output.
func (s *Siamese) Backward(dy *Tensor, tap Tap) *Tensor {
	mustMatch("siamese", s.name, dy, s.y)
	bsz := s.batch
	feat := len(s.diff) / bsz
	s.dcat = reuse(s.dcat, s.emb.Shape...)
	half := bsz * feat
	for b := range bsz {
		// ∂y/∂a = (a − b + eps)/y and ∂y/∂b = −∂y/∂a.
		scale := 0.0
		if y := s.y.Data[b]; y > 0 {
			scale = dy.Data[b] / y
		}
		for i := b * feat; i < (b+1)*feat; i++ {
			s.dcat.Data[i] = scale * s.diff[i]
			s.dcat.Data[half+i] = -scale * s.diff[i]
		}
	}
	var dxcat *Tensor
	if tap == nil {
		dxcat = s.backBranch(nil)
	} else {
		dxcat = s.backBothSides(tap, half)
	}
	if s.dx == nil || s.dx.Shape[0] != bsz || !slices.Equal(s.dx.Shape[2:], s.xcat.Shape[1:]) {
		s.dx = NewTensor(append([]int{bsz, 2}, s.xcat.Shape[1:]...)...)
	}
	per := s.xcat.Size() / (2 * bsz)
	for b := range bsz {
		for side := range 2 {
			copy(s.dx.Data[(2*b+side)*per:][:per], dxcat.Data[(side*bsz+b)*per:][:per])
		}
	}
	return s.dx
}

// backBothSides runs the branch backward for each side in turn and reports
// each side's contribution to every branch Param; half is the size of one
// side of dcat. It returns the summed gradient at xcat.
func (s *Siamese) backBothSides(tap Tap, half int) *Tensor {
	before := make([][]float64, len(s.params))
	for i, np := range s.params {
		before[i] = slices.Clone(np.Grad.Data)
	}
	second := slices.Clone(s.dcat.Data[half:])
	clear(s.dcat.Data[half:])
	dx := s.backBranch(tap).Clone()
	s.reportSide(tap, 0, before)

	// The same activations again, for the second pass: no tap, so that it
	// is not shown the branch's outputs and forward internals twice.
	s.runBranch(nil)
	clear(s.dcat.Data[:half])
	copy(s.dcat.Data[half:], second)
	for i, g := range s.backBranch(tap).Data {
		dx.Data[i] += g
	}
	s.reportSide(tap, 1, before)
	return dx
}

// reportSide reports, for every branch Param, Grad − before as side's
// contribution, then moves before up to the current Grad.
func (s *Siamese) reportSide(tap Tap, side int, before [][]float64) {
	for i, np := range s.params {
		part := NewTensor(np.Grad.Shape...)
		for j, g := range np.Grad.Data {
			part.Data[j] = g - before[i][j]
		}
		copy(before[i], np.Grad.Data)
		tap.Contribute(Contribution{Layer: s.owners[i], Param: np.Param, Local: s.locals[i], Kind: UseBranch, Index: s.sides[side], Grad: part})
	}
}
