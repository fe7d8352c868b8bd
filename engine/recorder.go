package engine

import (
	"math"
	"slices"
)

// Recorder is a Tap and Observer that keeps a copy of what it is shown:
// every gradient contribution that passes its filter and, opted into by
// name, the layers' internals. It is the ledger a lesson reads to show where
// a shared Param's gradient came from: the contributions of one kind that it
// recorded for a Param since the last Reset sum to what the passes added
// into that Param's Grad (Sum), one per position, step, token, branch or
// holding layer (Uses).
//
// Recorder ignores layer outputs; a caller that wants them too embeds a
// *Recorder in a Tap of its own and adds an Output method. A Recorder is not
// safe for concurrent use: it records one pass at a time.
type Recorder struct {
	params    map[*Param]bool
	kinds     map[UseKind]bool
	layers    map[string]bool
	internals map[string]bool

	uses   []Contribution
	values []InternalValue
}

var (
	_ Tap      = (*Recorder)(nil)
	_ Observer = (*Recorder)(nil)
)

// RecordFilter says what a Recorder keeps. Contributions are kept unless a
// non-empty list leaves them out; internals are kept only when named, so a
// zero RecordFilter records every contribution and no internal. Only what
// is kept is copied: a lesson showing one kernel's per-position parts sets
// Params and Kinds, and holds nothing else.
type RecordFilter struct {
	Params    []*Param  // record contributions to these Params only (none: every Param)
	Kinds     []UseKind // …of these kinds only (none: every kind)
	Layers    []string  // …and internals of these layers only, by name (none: every layer)
	Internals []string  // record the internals with these names (Internal* constants)
}

// InternalValue is one internal a Recorder kept: the layer it belongs to,
// its name and index (see Observer) and a copy of its value.
type InternalValue struct {
	Layer Layer
	Name  string
	Index int
	Value *Tensor
}

// NewRecorder returns an empty Recorder that keeps what f lets through.
func NewRecorder(f RecordFilter) *Recorder {
	return &Recorder{
		params:    setOf(f.Params),
		kinds:     setOf(f.Kinds),
		layers:    setOf(f.Layers),
		internals: setOf(f.Internals),
	}
}

// setOf returns the members of s as a set, nil when s is empty.
func setOf[T comparable](s []T) map[T]bool {
	if len(s) == 0 {
		return nil
	}
	m := make(map[T]bool, len(s))
	for _, v := range s {
		m[v] = true
	}
	return m
}

// Output does nothing: a Recorder keeps contributions and internals only.
func (r *Recorder) Output(Layer, *Tensor, *Tensor) {}

// Contribute keeps a copy of c (its Grad and Index cloned) when it passes
// the filter.
func (r *Recorder) Contribute(c Contribution) {
	if (r.params != nil && !r.params[c.Param]) || (r.kinds != nil && !r.kinds[c.Kind]) || (r.layers != nil && !r.layers[c.Layer]) {
		return
	}
	c.Index = slices.Clone(c.Index)
	c.Grad = c.Grad.Clone()
	r.uses = append(r.uses, c)
}

// Internal keeps a copy of t when name is one of the filter's Internals
// (and l one of its Layers, if any are given).
func (r *Recorder) Internal(l Layer, name string, index int, t *Tensor) {
	if !r.internals[name] || (r.layers != nil && !r.layers[l.Spec().Name]) {
		return
	}
	r.values = append(r.values, InternalValue{Layer: l, Name: name, Index: index, Value: t.Clone()})
}

// Reset forgets everything recorded; the filter stays. Call it with
// Model.ZeroGrad so that Sum keeps matching the gradients.
func (r *Recorder) Reset() {
	r.uses = nil
	r.values = nil
}

// Contributions returns every recorded contribution in the order it was
// reported. The slice and its tensors belong to the Recorder until Reset.
func (r *Recorder) Contributions() []Contribution { return r.uses }

// Kinds returns the kinds of use recorded for p, in the order first seen.
func (r *Recorder) Kinds(p *Param) []UseKind {
	var kinds []UseKind
	for _, c := range r.uses {
		if c.Param == p && !slices.Contains(kinds, c.Kind) {
			kinds = append(kinds, c.Kind)
		}
	}
	return kinds
}

// Sum returns a new tensor, shaped as p, holding the sum of p's recorded
// contributions of the given kind: p's gradient when every pass since
// p.Grad was zeroed was recorded (each kind of use on its own sums to the
// whole gradient). It returns nil when nothing of that kind was recorded.
func (r *Recorder) Sum(p *Param, kind UseKind) *Tensor {
	var sum *Tensor
	for _, c := range r.uses {
		if c.Param != p || c.Kind != kind {
			continue
		}
		if sum == nil {
			sum = NewTensor(p.Grad.Shape...)
		}
		for i, g := range c.Grad.Data {
			sum.Data[i] += g
		}
	}
	return sum
}

// Uses returns p's recorded contributions of the given kind in Index order
// (row-major for a position [oy, ox]); contributions with the same Index,
// from different holders or from several passes, stay in the order they
// were reported. The tensors belong to the Recorder until Reset.
func (r *Recorder) Uses(p *Param, kind UseKind) []Contribution {
	var out []Contribution
	for _, c := range r.uses {
		if c.Param == p && c.Kind == kind {
			out = append(out, c)
		}
	}
	slices.SortStableFunc(out, func(a, b Contribution) int { return slices.Compare(a.Index, b.Index) })
	return out
}

// Norms returns the Frobenius norm of each of Uses(p, kind), in that order:
// for a convolution, how much each output position pushed the kernel.
func (r *Recorder) Norms(p *Param, kind UseKind) []float64 {
	uses := r.Uses(p, kind)
	norms := make([]float64, len(uses))
	for i, c := range uses {
		norms[i] = norm(c.Grad.Data)
	}
	return norms
}

// Internals returns every recorded internal in the order it was shown. The
// slice and its tensors belong to the Recorder until Reset.
func (r *Recorder) Internals() []InternalValue { return r.values }

// Values returns the recorded internals called name of layer l (of every
// layer when l is nil) in Index order; values with the same Index stay in
// the order they were shown. For one recorded pass of one layer, element i
// is index i: step t's hidden state, head h's attention map.
func (r *Recorder) Values(l Layer, name string) []InternalValue {
	var out []InternalValue
	for _, v := range r.values {
		if v.Name == name && (l == nil || v.Layer == l) {
			out = append(out, v)
		}
	}
	slices.SortStableFunc(out, func(a, b InternalValue) int { return a.Index - b.Index })
	return out
}

// ValueNorms returns the Frobenius norm (over the batch) of each of
// Values(l, name), in that order: with InternalHiddenGrad, ‖∂L/∂h_t‖ for
// t = 0 … T−1, the curve of a vanishing or exploding gradient.
func (r *Recorder) ValueNorms(l Layer, name string) []float64 {
	vals := r.Values(l, name)
	norms := make([]float64, len(vals))
	for i, v := range vals {
		norms[i] = norm(v.Value.Data)
	}
	return norms
}

// norm is the Euclidean norm of v.
func norm(v []float64) float64 {
	var sq float64
	for _, x := range v {
		sq += x * x
	}
	return math.Sqrt(sq)
}
