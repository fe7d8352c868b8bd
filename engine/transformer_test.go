package engine

import (
	"math"
	"slices"
	"strings"
	"testing"
)

func newTestBlock(t *testing.T, name string, causal bool) *TransformerBlock {
	t.Helper()
	blk, err := NewTransformerBlock(name, 8, 2, 16, causal, NewRand(11))
	if err != nil {
		t.Fatal(err)
	}
	randomizeParams(blk.Params(), 12) // LayerNorm and attention biases off their 1/0 start
	return blk
}

func TestTransformerBlockGrads(t *testing.T) {
	for _, causal := range []bool{false, true} {
		blk := newTestBlock(t, "blk", causal)
		x := randTensor(13, 2, 4, 8)
		checkLayerGrads(t, withoutParam{blk, "attn.b_k"}, x, gradCheckOpts{})
		checkKeyBiasGradIsZero(t, blk, "attn.b_k", x)
	}
}

// TestTransformerBlockMatchesParts rebuilds the block from a LayerNorm, a
// SelfAttention and the feed-forward written out with loops, holding copies
// of the block's Params, and compares outputs.
func TestTransformerBlockMatchesParts(t *testing.T) {
	for _, causal := range []bool{false, true} {
		blk := newTestBlock(t, "blk", causal)
		ps := blk.Params()
		ln1, _ := NewLayerNorm("ln1", 8, 1e-5)
		ln2, _ := NewLayerNorm("ln2", 8, 1e-5)
		sa, _ := NewSelfAttention("sa", 8, 2, causal, NewRand(1))
		var parts []NamedParam
		parts = append(parts, ln1.Params()...)
		parts = append(parts, sa.Params()...)
		parts = append(parts, ln2.Params()...)
		for i, np := range parts {
			copy(np.Value.Data, ps[i].Value.Data)
		}
		w1, b1, w2, b2 := ps[12].Value.Data, ps[13].Value.Data, ps[14].Value.Data, ps[15].Value.Data

		x := randTensor(14, 2, 3, 8)
		s := sa.Forward(ln1.Forward(x, nil), nil)
		h := x.Clone()
		for i := range h.Data {
			h.Data[i] += s.Data[i]
		}
		c := ln2.Forward(h, nil)
		want := h.Clone()
		for r := range 6 {
			hidden := make([]float64, 16)
			for j := range 16 {
				hidden[j] = b1[j]
				for i := range 8 {
					hidden[j] += w1[j*8+i] * c.Data[r*8+i]
				}
				hidden[j] = math.Max(hidden[j], 0)
			}
			for o := range 8 {
				want.Data[r*8+o] += b2[o]
				for j := range 16 {
					want.Data[r*8+o] += w2[o*16+j] * hidden[j]
				}
			}
		}
		if e := relErr(blk.Forward(x, nil).Data, want.Data); e > 1e-13 {
			t.Errorf("causal %v: block differs from its parts by relative %.3g", causal, e)
		}
	}
}

func TestTransformerBlockParams(t *testing.T) {
	blk := newTestBlock(t, "enc", false)
	var locals []string
	for _, np := range blk.Params() {
		locals = append(locals, np.Local)
		if np.Name != "enc."+np.Local {
			t.Errorf("param %s named %q", np.Local, np.Name)
		}
	}
	want := []string{"ln1.weight", "ln1.bias", "attn.w_q", "attn.w_k", "attn.w_v", "attn.w_o", "attn.b_q", "attn.b_k", "attn.b_v", "attn.b_o",
		"ln2.weight", "ln2.bias", "ff1.weight", "ff1.bias", "ff2.weight", "ff2.bias"}
	if !slices.Equal(locals, want) {
		t.Errorf("params %v, want %v", locals, want)
	}
	ps := blk.Params()
	if !slices.Equal(ps[12].Value.Shape, []int{16, 8}) || !slices.Equal(ps[14].Value.Shape, []int{8, 16}) {
		t.Errorf("ff shapes %v %v", ps[12].Value.Shape, ps[14].Value.Shape)
	}
	s := blk.Spec()
	if s.Type != "transformer_block" || s.Attrs["d_model"] != 8 || s.Attrs["num_heads"] != 2 || s.Attrs["d_ff"] != 16 || s.Attrs["causal"] != false || len(s.Attrs) != 4 {
		t.Errorf("spec %+v", s)
	}
	params := 4*64 + 4*8 + 4*8 + 2*16*8 + 16 + 8
	if c := blk.Count([]int{4, 8}); c.Unshared != 4*params || c.Uses != 4*(4*64+2*8*16+2*8) {
		t.Errorf("count %+v, want unshared %d", c, params)
	}
}

// TestTransformerBlocksSharedInModel is ALBERT in small: two blocks holding
// the same Params in one model. Each block's part of every gradient is
// reported per layer, and those parts, as the per-token parts, sum to the
// gradient; the model counts the Params once and Unshared twice (per token).
func TestTransformerBlocksSharedInModel(t *testing.T) {
	first := newTestBlock(t, "block1", false)
	second := NewTransformerBlockShared("block2", first)
	m, err := NewModel("albert", []int{4, 8}, NewMSE(), first, second)
	if err != nil {
		t.Fatal(err)
	}
	for i, np := range second.Params() {
		if np.Param != first.Params()[i].Param || np.Local != first.Params()[i].Local {
			t.Fatalf("shared block param %d is %s, not the first block's", i, np.Local)
		}
	}
	if second.Spec().Name != "block2" || len(m.Params()) != 16 {
		t.Fatalf("name %q, %d model params", second.Spec().Name, len(m.Params()))
	}

	x, target := randTensor(15, 2, 4, 8), randTensor(16, 2, 4, 8)
	tap := NewRecorder(RecordFilter{Internals: []string{InternalAttention}})
	if _, err := m.ComputeGrad(x, target, tap); err != nil {
		t.Fatal(err)
	}
	bk := first.attn.k.bias
	for _, p := range m.Params() {
		if p == bk {
			continue // its gradient is zero: see withoutParam
		}
		for _, kind := range []UseKind{UseLayer, UseToken} {
			if kind == UseToken && strings.HasPrefix(p.Name, "block1.ln") {
				continue // layer norms report no per-token parts
			}
			s := tap.Sum(p, kind)
			if s == nil {
				t.Errorf("%s: no %s contributions", p.Name, kind)
				continue
			}
			if e := relErr(s.Data, p.Grad.Data); e > 1e-12 {
				t.Errorf("%s: %s contributions sum off by relative %.3g", p.Name, kind, e)
			}
		}
	}
	if got, want := useCounts(tap)[UseLayer], 2*16; got != want {
		t.Errorf("%d layer contributions, want %d", got, want)
	}
	// Each block shows maps of its own, and keeps them in a buffer of its
	// own for Backward.
	m1, m2 := tap.Values(first, InternalAttention), tap.Values(second, InternalAttention)
	if len(m1) != 2 || len(m2) != 2 {
		t.Fatalf("%d and %d attention maps shown, want 2 heads each", len(m1), len(m2))
	}
	for h := range m1 {
		if slices.Equal(m1[h].Value.Data, m2[h].Value.Data) {
			t.Errorf("head %d: both blocks show the same attention map", h)
		}
	}
	if first.attn.attn == second.attn.attn {
		t.Error("the two blocks share their attention maps: activations must be their own")
	}

	c := m.Count()
	params := 0
	for _, np := range first.Params() {
		params += np.Size()
	}
	if c.Params != params || c.Unshared != 2*4*params {
		t.Errorf("count params %d unshared %d, want %d and %d", c.Params, c.Unshared, params, 2*4*params)
	}
	if len(c.Layers[1].SharedWith) != 16 || c.Layers[1].Params != 0 {
		t.Errorf("second block's row %+v", c.Layers[1])
	}

	// Finite differences over the model: every Param's gradient is the sum
	// of what both blocks did with it.
	loss := func() float64 { return m.Loss.Forward(m.Forward(x, nil), target) }
	for _, p := range m.Params() {
		if p == bk {
			continue
		}
		want := append([]float64(nil), p.Grad.Data...)
		if e := relErr(want, numericGrad(p.Value.Data, loss)); e > gradTol {
			t.Errorf("model gradient of %s relative error %.3g", p.Name, e)
		}
	}
}

func TestTransformerBlockInvalid(t *testing.T) {
	for _, c := range []struct{ d, h, ff int }{{8, 3, 16}, {0, 2, 16}, {8, 0, 16}, {8, 2, 0}, {8, 2, -1}} {
		if _, err := NewTransformerBlock("b", c.d, c.h, c.ff, false, NewRand(1)); err == nil {
			t.Errorf("%+v: no error", c)
		}
	}
	blk := newTestBlock(t, "b", false)
	for _, in := range [][]int{{4, 7}, {0, 8}, {8}} {
		if _, err := blk.OutShape(in); err == nil {
			t.Errorf("OutShape %v accepted", in)
		}
	}
	expectShapePanic(t, "forward on [2 4 7]", func() { blk.Forward(NewTensor(2, 4, 7), nil) })
}

func TestTransformerBlockNoAllocs(t *testing.T) {
	blk := newTestBlock(t, "b", true)
	x, dy := randTensor(1, 2, 4, 8), randTensor(2, 2, 4, 8)
	blk.Forward(x, nil)
	blk.Backward(dy, nil)
	if allocs := testing.AllocsPerRun(10, func() { blk.Forward(x, nil); blk.Backward(dy, nil) }); allocs != 0 {
		t.Errorf("%v allocations per step without a tap, want 0", allocs)
	}
}
