package engine

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// SelfAttention is multi-head scaled dot-product self-attention over a
// sequence [B, T, d], as the trace table's self_attention:
//
//	Q = x W_qᵀ + b_q,  K = x W_kᵀ + b_k,  V = x W_vᵀ + b_v
//	A_h = softmax(Q_h K_hᵀ / √(d/h) + mask)   (one map per head h)
//	out = concat_h(A_h V_h) W_oᵀ + b_o
//
// where Q_h is the h-th block of d/h columns of Q and the causal mask is −∞
// above the diagonal (a token attends to itself and earlier tokens only).
// The four projections are applied to every token with the same weights:
// that is the sharing the attention lesson shows, and with a tap Backward reports each
// token's part of every projection's gradient.
type SelfAttention struct {
	name     string
	prefix   string // local-name prefix: "" alone, "attn." inside a transformer block
	dModel   int
	numHeads int
	headDim  int
	causal   bool

	q, k, v, o projection

	// outer is the layer shown to an Observer: the transformer block
	// holding this attention, or nil for the attention itself.
	outer Layer

	x         *Tensor // last Forward input (borrowed)
	qs, ks    *Tensor // Q and K [B, T, d]
	vs, ctx   *Tensor // V and concat_h(A_h V_h) [B, T, d]
	attn      *Tensor // attention maps [B, h, T, T]
	y, dx     *Tensor
	dq, dk    *Tensor
	dv, dctx  *Tensor
	dscore    []float64 // one head's dA, then dScore [T, T]
	tokIdx    [][]int   // Index slices [t] for taps, made once
	headMap   *Tensor   // one head's maps [B, T, T], only for an Observer
	batch, tl int       // B and T of the last Forward
}

var (
	_ Layer   = (*SelfAttention)(nil)
	_ Counter = (*SelfAttention)(nil)
)

// NewSelfAttention returns a self-attention layer for d_model features and
// numHeads heads, initialised as torch.nn.MultiheadAttention: W_q, W_k, W_v
// Xavier-uniform as slices of one [3d, d] in_proj_weight, W_o with PyTorch's
// Linear default U(−1/√d, 1/√d), all biases zero. It returns an error when
// a size is not positive or numHeads does not divide dModel.
func NewSelfAttention(name string, dModel, numHeads int, causal bool, rng *rand.Rand) (*SelfAttention, error) {
	if err := checkAttentionSizes("self_attention", name, dModel, numHeads); err != nil {
		return nil, err
	}
	return newSelfAttention(name, "", dModel, numHeads, causal, rng), nil
}

func checkAttentionSizes(kind, name string, dModel, numHeads int) error {
	if dModel < 1 || numHeads < 1 {
		return fmt.Errorf("engine: %s %q: d_model and num_heads must be positive, got %d and %d", kind, name, dModel, numHeads)
	}
	if dModel%numHeads != 0 {
		return fmt.Errorf("engine: %s %q: %d heads do not divide d_model %d", kind, name, numHeads, dModel)
	}
	return nil
}

// newSelfAttention builds the layer; its Params are named name+"."+prefix+local
// and reported to taps as layer name with local prefix+local.
func newSelfAttention(name, prefix string, d, heads int, causal bool, rng *rand.Rand) *SelfAttention {
	a := &SelfAttention{name: name, prefix: prefix, dModel: d, numHeads: heads, headDim: d / heads, causal: causal}
	param := func(local string, shape ...int) *Param { return NewParam(name+"."+prefix+local, shape...) }
	a.q = projection{weight: param("w_q", d, d), bias: param("b_q", d), in: d, out: d}
	a.k = projection{weight: param("w_k", d, d), bias: param("b_k", d), in: d, out: d}
	a.v = projection{weight: param("w_v", d, d), bias: param("b_v", d), in: d, out: d}
	a.o = projection{weight: param("w_o", d, d), bias: param("b_o", d), in: d, out: d}
	for _, p := range []*Param{a.q.weight, a.k.weight, a.v.weight} {
		InitXavier(p.Value, d, 3*d, rng) // fan-out 3d: torch's in_proj_weight is [3d, d]
	}
	InitTorchDefault(a.o.weight.Value, d, rng)
	a.nameProjections()
	return a
}

// sharedSelfAttention returns a layer holding like's Params, with caches of
// its own.
func sharedSelfAttention(name, prefix string, like *SelfAttention) *SelfAttention {
	a := &SelfAttention{name: name, prefix: prefix, dModel: like.dModel, numHeads: like.numHeads, headDim: like.headDim, causal: like.causal}
	a.q, a.k, a.v, a.o = like.q, like.k, like.v, like.o
	a.nameProjections()
	return a
}

func (a *SelfAttention) nameProjections() {
	for _, p := range []struct {
		proj *projection
		w, b string
	}{{&a.q, "w_q", "b_q"}, {&a.k, "w_k", "b_k"}, {&a.v, "w_v", "b_v"}, {&a.o, "w_o", "b_o"}} {
		p.proj.wLocal, p.proj.bLocal = a.prefix+p.w, a.prefix+p.b
	}
}

// Spec returns type "self_attention" with d_model, num_heads and causal.
func (a *SelfAttention) Spec() Spec {
	return Spec{Name: a.name, Type: "self_attention", Attrs: map[string]any{"d_model": a.dModel, "num_heads": a.numHeads, "causal": a.causal}}
}

// Params returns w_q, w_k, w_v, w_o, b_q, b_k, b_v, b_o, in the trace's order.
func (a *SelfAttention) Params() []NamedParam {
	var ps []NamedParam
	for _, p := range []*projection{&a.q, &a.k, &a.v, &a.o} {
		ps = append(ps, NamedParam{Local: p.wLocal, Param: p.weight})
	}
	for _, p := range []*projection{&a.q, &a.k, &a.v, &a.o} {
		ps = append(ps, NamedParam{Local: p.bLocal, Param: p.bias})
	}
	return ps
}

// OutShape accepts [T, d_model] with T ≥ 1 and returns it unchanged.
func (a *SelfAttention) OutShape(in []int) ([]int, error) {
	if len(in) != 2 || in[0] < 1 || in[1] != a.dModel {
		return nil, fmt.Errorf("engine: self_attention %q: input shape %v, want [T %d] with T ≥ 1", a.name, in, a.dModel)
	}
	return []int{in[0], in[1]}, nil
}

// Count reports, for an example [T, d], Uses = 4·T·d² multiply-adds of the
// projections (the attention products themselves use no parameter) and
// Unshared = T·(4d² + 4d): projections with separate weights per token.
func (a *SelfAttention) Count(in []int) LayerCount {
	steps, d := in[0], a.dModel
	return LayerCount{Uses: 4 * steps * d * d, Unshared: steps * (4*d*d + 4*d)}
}

// Forward computes the attention output for x. A tap that is an Observer is
// shown each head's attention map (InternalAttention), [B, T, T]: row t is
// how token t weighs every token (each row sums to 1; with a causal mask
// the entries above the diagonal are 0). It panics with a
// ShapeError unless x is [B, T, d_model] with T ≥ 1.
func (a *SelfAttention) Forward(x *Tensor, tap Tap) *Tensor {
	if len(x.Shape) != 3 || x.Shape[1] < 1 || x.Shape[2] != a.dModel {
		panic(ShapeError{Op: "self_attention " + a.name + " forward", Want: []int{-1, -1, a.dModel}, Got: x.Shape})
	}
	bsz, steps, d, dh := x.Shape[0], x.Shape[1], a.dModel, a.headDim
	a.x, a.batch, a.tl = x, bsz, steps
	n := bsz * steps
	a.qs = reuse(a.qs, bsz, steps, d)
	a.ks = reuse(a.ks, bsz, steps, d)
	a.vs = reuse(a.vs, bsz, steps, d)
	a.ctx = reuse(a.ctx, bsz, steps, d)
	a.attn = reuse(a.attn, bsz, a.numHeads, steps, steps)
	a.y = reuse(a.y, bsz, steps, d)
	a.q.forward(x.Data, n, a.qs.Data)
	a.k.forward(x.Data, n, a.ks.Data)
	a.v.forward(x.Data, n, a.vs.Data)
	scale := 1 / math.Sqrt(float64(dh))
	for b := range bsz {
		for h := range a.numHeads {
			// Head h of example b: rows of Q, K, V with stride d, columns
			// h·dh … (h+1)·dh−1; no copy is made.
			off := b*steps*d + h*dh
			am := a.attn.Data[(b*a.numHeads+h)*steps*steps:][:steps*steps]
			gemm(false, true, steps, steps, dh, scale, a.qs.Data[off:], d, a.ks.Data[off:], d, 0, am, steps)
			a.softmaxRows(am, steps)
			gemm(false, false, steps, dh, steps, 1, am, steps, a.vs.Data[off:], d, 0, a.ctx.Data[off:], d)
		}
	}
	a.o.forward(a.ctx.Data, n, a.y.Data)
	if obs, ok := tap.(Observer); ok {
		a.showMaps(obs)
	}
	return a.y
}

// showMaps shows obs every head's attention maps of the last Forward, each
// copied out of [B, h, T, T] into one [B, T, T] buffer.
func (a *SelfAttention) showMaps(obs Observer) {
	var l Layer = a
	if a.outer != nil {
		l = a.outer
	}
	tt := a.tl * a.tl
	a.headMap = reuse(a.headMap, a.batch, a.tl, a.tl)
	for h := range a.numHeads {
		for b := range a.batch {
			copy(a.headMap.Data[b*tt:][:tt], a.attn.Data[(b*a.numHeads+h)*tt:][:tt])
		}
		obs.Internal(l, InternalAttention, h, a.headMap)
	}
}

// softmaxRows replaces each row of the scores m [T, T] by its softmax. With
// a causal mask, entry j of row i for j > i is −∞ before the softmax, so it
// is exactly 0 after it and the rest of the row is the softmax of 0…i.
func (a *SelfAttention) softmaxRows(m []float64, steps int) {
	for i := range steps {
		row := m[i*steps : (i+1)*steps]
		live := row
		if a.causal {
			live = row[:i+1]
			clear(row[i+1:])
		}
		maxv := math.Inf(-1)
		for _, s := range live {
			maxv = max(maxv, s)
		}
		var sum float64
		for j, s := range live {
			e := math.Exp(s - maxv) // shifted by the row max so exp cannot overflow
			live[j] = e
			sum += e
		}
		inv := 1 / sum
		for j := range live {
			live[j] *= inv
		}
	}
}

// Backward adds the gradients of all eight Params and returns dx. With a
// tap it reports, for every token t, the part of each projection's weight
// and bias gradient that came from token t's row (UseToken, Index [t]); the
// projections act row by row, so these parts sum to the gradient exactly.
// It panics with a ShapeError unless dy has the shape of the last output.
func (a *SelfAttention) Backward(dy *Tensor, tap Tap) *Tensor {
	mustMatch("self_attention", a.name, dy, a.y)
	bsz, steps, d, dh := a.batch, a.tl, a.dModel, a.headDim
	n := bsz * steps
	a.dq = reuse(a.dq, bsz, steps, d)
	a.dk = reuse(a.dk, bsz, steps, d)
	a.dv = reuse(a.dv, bsz, steps, d)
	a.dctx = reuse(a.dctx, bsz, steps, d)
	a.dx = reuse(a.dx, bsz, steps, d)
	if cap(a.dscore) < steps*steps {
		a.dscore = make([]float64, steps*steps)
	}
	ds := a.dscore[:steps*steps]

	// out = ctx W_oᵀ + b_o
	a.o.backward(a.ctx.Data, dy.Data, n, a.dctx.Data, 0)
	scale := 1 / math.Sqrt(float64(dh))
	for b := range bsz {
		for h := range a.numHeads {
			off := b*steps*d + h*dh
			am := a.attn.Data[(b*a.numHeads+h)*steps*steps:][:steps*steps]
			dctx := a.dctx.Data[off:]
			// ctx_h = A V_h: dA = dctx_h V_hᵀ, dV_h = Aᵀ dctx_h.
			gemm(false, true, steps, steps, dh, 1, dctx, d, a.vs.Data[off:], d, 0, ds, steps)
			gemm(true, false, steps, dh, steps, 1, am, steps, dctx, d, 0, a.dv.Data[off:], d)
			// Softmax rows: dS_ij = A_ij (dA_ij − Σ_k A_ik dA_ik), times the
			// 1/√dh of the scores. Masked entries have A_ij = 0, so dS_ij = 0.
			for i := range steps {
				arow, drow := am[i*steps:(i+1)*steps], ds[i*steps:(i+1)*steps]
				var dot float64
				for j, p := range arow {
					dot += p * drow[j]
				}
				for j, p := range arow {
					drow[j] = p * (drow[j] - dot) * scale
				}
			}
			// S = Q_h K_hᵀ: dQ_h = dS K_h, dK_h = dSᵀ Q_h.
			gemm(false, false, steps, dh, steps, 1, ds, steps, a.ks.Data[off:], d, 0, a.dq.Data[off:], d)
			gemm(true, false, steps, dh, steps, 1, ds, steps, a.qs.Data[off:], d, 0, a.dk.Data[off:], d)
		}
	}
	// x feeds all three input projections: dx = dQ W_q + dK W_k + dV W_v.
	a.q.backward(a.x.Data, a.dq.Data, n, a.dx.Data, 0)
	a.k.backward(a.x.Data, a.dk.Data, n, a.dx.Data, 1)
	a.v.backward(a.x.Data, a.dv.Data, n, a.dx.Data, 1)
	if tap != nil {
		a.tokIdx = tokenIndices(a.tokIdx, steps)
		tok := tokenReport{layer: a.name, batch: bsz, steps: steps, idx: a.tokIdx}
		tok.report(&a.q, a.x.Data, a.dq.Data, tap)
		tok.report(&a.k, a.x.Data, a.dk.Data, tap)
		tok.report(&a.v, a.x.Data, a.dv.Data, tap)
		tok.report(&a.o, a.ctx.Data, dy.Data, tap)
	}
	return a.dx
}

// projection is the affine map y = x Wᵀ + b applied to every row of an
// [n, in] matrix: the building block of the attention projections and of a
// transformer block's feed-forward part. It holds only its Params; the
// layer using it keeps the activations.
type projection struct {
	weight         *Param // [out, in]
	bias           *Param // [out]
	in, out        int
	wLocal, bLocal string // local names reported to taps
}

// forward writes y[n,out] = x[n,in] Wᵀ + b.
func (p *projection) forward(x []float64, n int, y []float64) {
	for r := range n {
		copy(y[r*p.out:(r+1)*p.out], p.bias.Value.Data)
	}
	gemm(false, true, n, p.out, p.in, 1, x, p.in, p.weight.Value.Data, p.in, 1, y, p.out)
}

// backward adds dW = dyᵀ x and db = Σ_rows dy into the Params' gradients
// (+=: other uses of the same Params add theirs) and sets dx = dy W + beta·dx,
// so that beta 1 sums the input gradients of several projections of one x.
func (p *projection) backward(x, dy []float64, n int, dx []float64, beta float64) {
	gemm(true, false, p.out, p.in, n, 1, dy, p.out, x, p.in, 1, p.weight.Grad.Data, p.in)
	db := p.bias.Grad.Data
	for r := range n {
		for o, g := range dy[r*p.out : (r+1)*p.out] {
			db[o] += g
		}
	}
	gemm(false, false, n, p.in, p.out, 1, dy, p.out, p.weight.Value.Data, p.in, beta, dx, p.in)
}

// tokenReport reports a projection's gradient token by token to a tap.
type tokenReport struct {
	layer        string
	batch, steps int
	idx          [][]int
}

// report tells tap, for every step t, Σ over the batch of dy[b,t]ᵀ x[b,t]
// (the weight's part) and of dy[b,t] (the bias's part). It allocates two
// scratch tensors, reused across steps: taps borrow them for one call.
func (r tokenReport) report(p *projection, x, dy []float64, tap Tap) {
	w, bias := NewTensor(p.out, p.in), NewTensor(p.out)
	for t := range r.steps {
		// Rows of step t are every steps-th row, starting at row t.
		gemm(true, false, p.out, p.in, r.batch, 1, dy[t*p.out:], r.steps*p.out, x[t*p.in:], r.steps*p.in, 0, w.Data, p.in)
		clear(bias.Data)
		for b := range r.batch {
			for o, g := range dy[(b*r.steps+t)*p.out:][:p.out] {
				bias.Data[o] += g
			}
		}
		tap.Contribute(Contribution{Layer: r.layer, Param: p.weight, Local: p.wLocal, Kind: UseToken, Index: r.idx[t], Grad: w})
		tap.Contribute(Contribution{Layer: r.layer, Param: p.bias, Local: p.bLocal, Kind: UseToken, Index: r.idx[t], Grad: bias})
	}
}

// tokenIndices extends idx so that idx[t] is []int{t} for every t < steps;
// the slices are handed to taps and never modified.
func tokenIndices(idx [][]int, steps int) [][]int {
	for len(idx) < steps {
		idx = append(idx, []int{len(idx)})
	}
	return idx
}
