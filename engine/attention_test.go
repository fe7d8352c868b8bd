package engine

import (
	"math"
	"slices"
	"testing"
)

// newTestAttention returns a B=2, T=4, d=8, 2-head layer with every Param
// (biases included) random, so that no gradient path hides behind a zero.
func newTestAttention(t *testing.T, causal bool) *SelfAttention {
	t.Helper()
	a, err := NewSelfAttention("attn", 8, 2, causal, NewRand(1))
	if err != nil {
		t.Fatal(err)
	}
	randomizeParams(a.Params(), 2)
	return a
}

// randomizeParams fills every Param with U(-0.5, 0.5) samples.
func randomizeParams(ps []NamedParam, seed uint64) {
	rng := NewRand(seed)
	for _, p := range ps {
		InitUniform(p.Value, 0.5, rng)
	}
}

// withoutParam hides one Param from a layer's Params, for the checks that
// compare gradients relatively: the gradient of b_k is exactly zero (adding
// q·b_k to every score of a row leaves its softmax unchanged), so a relative
// error between two round-off noises means nothing. checkKeyBiasGradIsZero
// checks that Param instead.
type withoutParam struct {
	Layer
	local string
}

func (w withoutParam) Params() []NamedParam {
	var ps []NamedParam
	for _, np := range w.Layer.Params() {
		if np.Local != w.local {
			ps = append(ps, np)
		}
	}
	return ps
}

// checkKeyBiasGradIsZero checks that the gradient of the key bias, and each
// token's contribution summed, is zero up to round-off while the single
// contributions are not.
func checkKeyBiasGradIsZero(t *testing.T, l Layer, local string, x *Tensor) {
	t.Helper()
	var bk *Param
	for _, np := range l.Params() {
		if np.Local == local {
			bk = np.Param
		}
	}
	bk.Grad.Zero()
	y := l.Forward(x, nil)
	var biggest float64
	rec := NewRecorder(RecordFilter{Params: []*Param{bk}})
	l.Backward(randTensor(7, y.Shape...), rec)
	for _, c := range rec.Contributions() {
		for _, v := range c.Grad.Data {
			biggest = max(biggest, math.Abs(v))
		}
	}
	for _, g := range bk.Grad.Data {
		if math.Abs(g) > 1e-12 {
			t.Errorf("%s: gradient %v, want 0 (softmax is shift-invariant)", local, bk.Grad.Data)
			break
		}
	}
	if biggest < 1e-6 {
		t.Errorf("%s: per-token contributions all below %g; they should cancel, not vanish", local, biggest)
	}
}

func TestSelfAttentionGrads(t *testing.T) {
	for _, causal := range []bool{false, true} {
		a := newTestAttention(t, causal)
		x := randTensor(3, 2, 4, 8)
		checkLayerGrads(t, withoutParam{a, "b_k"}, x, gradCheckOpts{})
		checkKeyBiasGradIsZero(t, a, "b_k", x)
	}
}

// referenceAttention computes self-attention one scalar at a time, straight
// from the trace table's formula.
func referenceAttention(a *SelfAttention, x *Tensor) *Tensor {
	bsz, steps, d, heads := x.Shape[0], x.Shape[1], a.dModel, a.numHeads
	dh := d / heads
	affine := func(w, b *Param, v []float64) []float64 {
		out := make([]float64, d)
		for o := range d {
			out[o] = b.Value.Data[o]
			for i := range d {
				out[o] += w.Value.Data[o*d+i] * v[i]
			}
		}
		return out
	}
	y := NewTensor(bsz, steps, d)
	for b := range bsz {
		var q, k, v [][]float64
		for tt := range steps {
			row := x.Data[(b*steps+tt)*d:][:d]
			q = append(q, affine(a.q.weight, a.q.bias, row))
			k = append(k, affine(a.k.weight, a.k.bias, row))
			v = append(v, affine(a.v.weight, a.v.bias, row))
		}
		for i := range steps {
			ctx := make([]float64, d)
			for h := range heads {
				scores := make([]float64, steps)
				var sum float64
				for j := range steps {
					var s float64
					for c := h * dh; c < (h+1)*dh; c++ {
						s += q[i][c] * k[j][c]
					}
					s /= math.Sqrt(float64(dh))
					if a.causal && j > i {
						s = math.Inf(-1)
					}
					scores[j] = math.Exp(s)
					sum += scores[j]
				}
				for j := range steps {
					for c := h * dh; c < (h+1)*dh; c++ {
						ctx[c] += scores[j] / sum * v[j][c]
					}
				}
			}
			copy(y.Data[(b*steps+i)*d:], affine(a.o.weight, a.o.bias, ctx))
		}
	}
	return y
}

func TestSelfAttentionMatchesFormula(t *testing.T) {
	for _, causal := range []bool{false, true} {
		a := newTestAttention(t, causal)
		x := randTensor(4, 2, 4, 8)
		got, want := a.Forward(x, nil), referenceAttention(a, x)
		if e := relErr(got.Data, want.Data); e > 1e-13 {
			t.Errorf("causal %v: output differs from the formula by relative %.3g", causal, e)
		}
	}
}

func TestSelfAttentionMaps(t *testing.T) {
	for _, causal := range []bool{false, true} {
		a := newTestAttention(t, causal)
		rec := NewRecorder(RecordFilter{Internals: []string{InternalAttention}})
		a.Forward(randTensor(5, 2, 4, 8), rec)
		maps := rec.Values(a, InternalAttention)
		if len(maps) != 2 {
			t.Fatalf("%d maps shown, want one per head (2)", len(maps))
		}
		var all []float64 // head 0's maps [B, T, T], then head 1's
		for h, v := range maps {
			if !slices.Equal(v.Value.Shape, []int{2, 4, 4}) {
				t.Fatalf("head %d map shape %v, want [2 4 4]", h, v.Value.Shape)
			}
			all = append(all, v.Value.Data...)
		}
		for r := range len(all) / 4 {
			row := all[r*4 : (r+1)*4]
			i := r % 4 // query token
			var sum float64
			for j, p := range row {
				sum += p
				switch {
				case causal && j > i && p != 0:
					t.Errorf("causal map row %d: entry %d above the diagonal is %g", r, j, p)
				case (!causal || j <= i) && p <= 0:
					t.Errorf("causal %v map row %d: entry %d is %g, want > 0", causal, r, j, p)
				}
			}
			if math.Abs(sum-1) > 1e-12 {
				t.Errorf("causal %v: map row %d sums to %.15g", causal, r, sum)
			}
		}
	}
}

func TestSelfAttentionTapTokens(t *testing.T) {
	for _, causal := range []bool{false, true} {
		a := newTestAttention(t, causal)
		x := randTensor(6, 2, 4, 8)
		tap := checkTapSums(t, withoutParam{a, "b_k"}, x)
		if got, want := useCounts(tap)[UseToken], 8*4; got != want {
			t.Errorf("causal %v: %d token contributions, want %d (8 params × 4 tokens)", causal, got, want)
		}
		for _, np := range a.Params() {
			uses := tap.Uses(np.Param, UseToken)
			if len(uses) != 4 {
				t.Fatalf("%s: %d token contributions, want 4", np.Local, len(uses))
			}
			for i, c := range uses {
				if !slices.Equal(c.Index, []int{i}) || c.Layer != "attn" || c.Local != np.Local {
					t.Errorf("%s: use %d is token %v of layer %q, local %q", np.Local, i, c.Index, c.Layer, c.Local)
				}
			}
		}
	}
}

// TestSelfAttentionTokenContributionIsRow checks one token's part by hand:
// for w_o it is Σ_b dy[b,t]ᵀ ctx[b,t].
func TestSelfAttentionTokenContributionIsRow(t *testing.T) {
	a := newTestAttention(t, false)
	y := a.Forward(randTensor(8, 2, 3, 8), nil)
	dy := randTensor(9, y.Shape...)
	rec := NewRecorder(RecordFilter{Params: []*Param{a.o.weight}})
	a.Backward(dy, rec)
	got := rec.Uses(a.o.weight, UseToken)[2].Grad
	want := NewTensor(8, 8)
	for b := range 2 {
		for o := range 8 {
			for i := range 8 {
				want.Data[o*8+i] += dy.Data[(b*3+2)*8+o] * a.ctx.Data[(b*3+2)*8+i]
			}
		}
	}
	if got == nil || relErr(got.Data, want.Data) > 1e-14 {
		t.Errorf("token 2's part of w_o: got %v, want %v", got, want.Data)
	}
}

func TestSelfAttentionSpecAndCount(t *testing.T) {
	a := newTestAttention(t, true)
	s := a.Spec()
	if s.Type != "self_attention" || s.Attrs["d_model"] != 8 || s.Attrs["num_heads"] != 2 || s.Attrs["causal"] != true || len(s.Attrs) != 3 {
		t.Errorf("spec %+v", s)
	}
	var locals, names []string
	for _, np := range a.Params() {
		locals = append(locals, np.Local)
		names = append(names, np.Name)
	}
	if want := []string{"w_q", "w_k", "w_v", "w_o", "b_q", "b_k", "b_v", "b_o"}; !slices.Equal(locals, want) {
		t.Errorf("params %v, want %v", locals, want)
	}
	if names[0] != "attn.w_q" || names[7] != "attn.b_o" {
		t.Errorf("param names %v", names)
	}
	c := a.Count([]int{5, 8})
	if c.Uses != 4*5*64 || c.Unshared != 5*(4*64+4*8) {
		t.Errorf("count %+v", c)
	}
	if out, err := a.OutShape([]int{5, 8}); err != nil || !slices.Equal(out, []int{5, 8}) {
		t.Errorf("OutShape [5 8] = %v, %v", out, err)
	}
}

func TestSelfAttentionInvalid(t *testing.T) {
	for _, c := range []struct{ d, h int }{{8, 3}, {0, 2}, {8, 0}, {-4, 2}, {6, 4}} {
		if _, err := NewSelfAttention("a", c.d, c.h, false, NewRand(1)); err == nil {
			t.Errorf("d_model %d, %d heads: no error", c.d, c.h)
		}
	}
	a := newTestAttention(t, false)
	for _, in := range [][]int{{4, 7}, {0, 8}, {8}, {2, 4, 8}} {
		if _, err := a.OutShape(in); err == nil {
			t.Errorf("OutShape %v: no error", in)
		}
	}
	expectShapePanic(t, "forward on [2 4 7]", func() { a.Forward(NewTensor(2, 4, 7), nil) })
	a.Forward(NewTensor(2, 4, 8), nil)
	expectShapePanic(t, "backward on [2 3 8]", func() { a.Backward(NewTensor(2, 3, 8), nil) })
}

func TestSelfAttentionNoAllocs(t *testing.T) {
	a := newTestAttention(t, true)
	x := randTensor(1, 2, 4, 8)
	dy := randTensor(2, 2, 4, 8)
	a.Forward(x, nil) // the first step allocates the buffers
	a.Backward(dy, nil)
	allocs := testing.AllocsPerRun(10, func() {
		a.Forward(x, nil)
		a.Backward(dy, nil)
	})
	if allocs != 0 {
		t.Errorf("%v allocations per step without a tap, want 0", allocs)
	}
}
