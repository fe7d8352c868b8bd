package engine

import (
	"math"
	"testing"

	"gonum.org/v1/gonum/diff/fd"
)

// This file holds the checks every layer, loss and model test uses:
// central finite differences (gonum's diff/fd) against Backward, and the
// tap's sum-of-uses property.

const gradTol = 1e-6 // relative error allowed between analytic and numeric gradients

// relErr is the norm-wise relative error ||a-b|| / max(||a||+||b||, tiny).
func relErr(a, b []float64) float64 {
	var d, na, nb float64
	for i := range a {
		d += (a[i] - b[i]) * (a[i] - b[i])
		na += a[i] * a[i]
		nb += b[i] * b[i]
	}
	den := math.Sqrt(na) + math.Sqrt(nb)
	if den < 1e-300 {
		return math.Sqrt(d)
	}
	return math.Sqrt(d) / den
}

// numericGrad returns d f / d v by central differences, perturbing v in place
// (it is restored).
func numericGrad(v []float64, f func() float64) []float64 {
	orig := append([]float64(nil), v...)
	grad := make([]float64, len(v))
	fd.Gradient(grad, func(x []float64) float64 {
		copy(v, x)
		return f()
	}, orig, &fd.Settings{Formula: fd.Central, Step: 1e-6})
	copy(v, orig)
	return grad
}

// randTensor fills a new tensor with U(-1,1) samples.
func randTensor(seed uint64, shape ...int) *Tensor {
	t := NewTensor(shape...)
	InitUniform(t, 1, NewRand(seed))
	return t
}

// gradCheckOpts tunes checkLayerGrads.
type gradCheckOpts struct {
	skipInput bool // integer inputs (indices) have no gradient
}

// checkLayerGrads checks a layer's Backward against finite differences of
// L = sum(y * r) for a fixed random r, for the input and every Param.
func checkLayerGrads(t *testing.T, l Layer, x *Tensor, opt gradCheckOpts) {
	t.Helper()
	y := l.Forward(x, nil)
	r := randTensor(99, y.Shape...)
	loss := func() float64 {
		out := l.Forward(x, nil)
		var s float64
		for i, v := range out.Data {
			s += v * r.Data[i]
		}
		return s
	}
	params := l.Params()
	zeroParams(params)
	l.Forward(x, nil)
	dx := l.Backward(r, nil).Clone()
	if !opt.skipInput {
		num := numericGrad(x.Data, loss)
		if e := relErr(dx.Data, num); e > gradTol || math.IsNaN(e) {
			t.Errorf("%s: input gradient relative error %.3g", l.Spec().Name, e)
		}
	}
	for _, p := range params {
		num := numericGrad(p.Value.Data, loss)
		if e := relErr(p.Grad.Data, num); e > gradTol || math.IsNaN(e) {
			t.Errorf("%s: gradient of %s relative error %.3g", l.Spec().Name, p.Local, e)
		}
	}
}

// checkModelGrads checks every Param of a model against finite differences
// of its loss. A Param for which zero(p) is true has a gradient that is zero
// by construction (the loss cannot depend on it), where a relative error of
// two near-zero numbers means nothing: its analytic gradient must be 0 to
// 1e-12 and its numeric one below 1e-8. zero may be nil.
func checkModelGrads(t *testing.T, m *Model, x, target *Tensor, zero func(*Param) bool) {
	t.Helper()
	if _, err := m.ComputeGrad(x, target, nil); err != nil {
		t.Fatal(err)
	}
	analytic := make([][]float64, len(m.Params()))
	for i, p := range m.Params() {
		analytic[i] = append([]float64(nil), p.Grad.Data...)
	}
	loss := func() float64 { return m.Loss.Forward(m.Forward(x, nil), target) }
	for i, p := range m.Params() {
		num := numericGrad(p.Value.Data, loss)
		if zero != nil && zero(p) {
			for j, g := range analytic[i] {
				if math.Abs(g) > 1e-12 || math.Abs(num[j]) > 1e-8 {
					t.Errorf("model %s: %s[%d] gradient %v (numeric %v), want 0", m.Name, p.Name, j, g, num[j])
					break
				}
			}
			continue
		}
		if e := relErr(analytic[i], num); e > gradTol || math.IsNaN(e) {
			t.Errorf("model %s: gradient of %s relative error %.3g", m.Name, p.Name, e)
		}
	}
}

func zeroParams(ps []NamedParam) {
	for _, p := range ps {
		p.Grad.Zero()
	}
}

// useCounts returns how many contributions of each kind r recorded.
func useCounts(r *Recorder) map[UseKind]int {
	n := map[UseKind]int{}
	for _, c := range r.Contributions() {
		n[c.Kind]++
	}
	return n
}

// checkTapSums runs one Forward/Backward of l with a Recorder and checks
// that every contribution has its Param's shape and that, for every Param
// and kind of use reported, the contributions sum to the Param's gradient
// within 1e-12 (relative). It returns the Recorder so a test can check how
// many uses of each kind were reported.
func checkTapSums(t *testing.T, l Layer, x *Tensor) *Recorder {
	t.Helper()
	rec := NewRecorder(RecordFilter{})
	zeroParams(l.Params())
	y := l.Forward(x, rec)
	l.Backward(randTensor(7, y.Shape...), rec)
	for _, c := range rec.Contributions() {
		if !c.Grad.SameShape(c.Param.Grad) {
			t.Fatalf("%s: contribution to %s has shape %v, the param %v", l.Spec().Name, c.Local, c.Grad.Shape, c.Param.Grad.Shape)
		}
	}
	for _, np := range l.Params() {
		for _, kind := range rec.Kinds(np.Param) {
			if e := relErr(rec.Sum(np.Param, kind).Data, np.Grad.Data); e > 1e-12 {
				t.Errorf("%s: %s contributions (%s) sum off by relative %.3g", l.Spec().Name, np.Local, kind, e)
			}
		}
	}
	return rec
}
