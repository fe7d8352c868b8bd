package engine

import (
	"fmt"
	"math/rand/v2"
	"slices"
)

// TransformerBlock is a pre-norm transformer encoder block on [B, T, d]:
//
//	h = x + SA(LN1(x))
//	y = h + ff2(relu(ff1(LN2(h))))
//
// with ff1: d → d_ff and ff2: d_ff → d applied at every token. Several
// blocks may hold the same Params (ALBERT's cross-layer sharing, see
// NewTransformerBlockShared and NewTransformerBlockSharing); each keeps its own activations, and each
// block's Backward adds its part into the shared gradients.
type TransformerBlock struct {
	name   string
	dModel int
	heads  int
	dFF    int
	causal bool

	ln1, ln2 *LayerNorm
	attn     *SelfAttention
	ff1, ff2 projection

	x      *Tensor // last Forward input (borrowed)
	h      *Tensor // x + SA(LN1(x)) [B, T, d]
	c      *Tensor // LN2(h), owned by ln2
	u, r   *Tensor // ff1 output and its relu [B, T, d_ff]
	y, dx  *Tensor
	dh, dr *Tensor
	dc     *Tensor // gradient at LN2's output
	tokIdx [][]int
	batch  int
	seqLen int
}

var (
	_ Layer   = (*TransformerBlock)(nil)
	_ Counter = (*TransformerBlock)(nil)
)

// NewTransformerBlock returns a block for dModel features, numHeads heads and
// a feed-forward width dFF. LayerNorms start at weight 1, bias 0 (eps 1e-5,
// torch's default); the attention is initialised as NewSelfAttention; ff1
// and ff2 as torch.nn.Linear, U(−1/√fan_in, 1/√fan_in) for weight and bias.
// It returns an error when a size is not positive or numHeads does not
// divide dModel.
func NewTransformerBlock(name string, dModel, numHeads, dFF int, causal bool, rng *rand.Rand) (*TransformerBlock, error) {
	if err := checkAttentionSizes("transformer_block", name, dModel, numHeads); err != nil {
		return nil, err
	}
	if dFF < 1 {
		return nil, fmt.Errorf("engine: transformer_block %q: d_ff must be positive, got %d", name, dFF)
	}
	blk := &TransformerBlock{name: name, dModel: dModel, heads: numHeads, dFF: dFF, causal: causal}
	blk.newAttentionPart(rng)
	blk.newFeedForwardPart(rng)
	return blk, nil
}

// mustLayerNorm returns a layer norm over d features with torch's eps
// (1e-5), for a d the block has already checked to be positive.
func mustLayerNorm(name string, d int) *LayerNorm {
	ln, err := NewLayerNorm(name, d, 1e-5)
	if err != nil {
		panic(err) // d > 0 was checked by the block's constructor
	}
	return ln
}

// newAttentionPart gives blk its own ln1 and attention, drawn from rng.
func (blk *TransformerBlock) newAttentionPart(rng *rand.Rand) {
	blk.ln1 = mustLayerNorm(blk.name+".ln1", blk.dModel)
	blk.attn = newSelfAttention(blk.name, "attn.", blk.dModel, blk.heads, blk.causal, rng)
	blk.attn.outer = blk
}

// newFeedForwardPart gives blk its own ln2, ff1 and ff2, drawn from rng.
func (blk *TransformerBlock) newFeedForwardPart(rng *rand.Rand) {
	name, dModel, dFF := blk.name, blk.dModel, blk.dFF
	blk.ln2 = mustLayerNorm(name+".ln2", dModel)
	blk.ff1 = projection{weight: NewParam(name+".ff1.weight", dFF, dModel), bias: NewParam(name+".ff1.bias", dFF), in: dModel, out: dFF}
	blk.ff2 = projection{weight: NewParam(name+".ff2.weight", dModel, dFF), bias: NewParam(name+".ff2.bias", dModel), in: dFF, out: dModel}
	for _, p := range []*projection{&blk.ff1, &blk.ff2} {
		InitTorchDefault(p.weight.Value, p.in, rng)
		InitTorchDefault(p.bias.Value, p.in, rng)
	}
	blk.nameFeedForward()
}

// BlockSharing says which parts of a transformer block hold the Params of
// another block (ALBERT's cross-layer sharing, Lan et al. 2019, Table 4).
// The attention part is ln1 and the self-attention (w_q … b_o); the
// feed-forward part is ln2, ff1 and ff2.
type BlockSharing string

const (
	ShareNone      BlockSharing = "none"      // every block has its own Params
	ShareAll       BlockSharing = "all"       // ALBERT's default: one block's Params everywhere
	ShareAttention BlockSharing = "attention" // the attention part shared, feed-forward per block
	ShareFFN       BlockSharing = "ffn"       // the feed-forward part shared, attention per block
)

// BlockSharings lists the BlockSharing values.
func BlockSharings() []BlockSharing {
	return []BlockSharing{ShareNone, ShareAll, ShareAttention, ShareFFN}
}

// NewTransformerBlockShared returns a new block named name that holds the
// same Params as like (ALBERT-style cross-layer sharing): its Params()
// returns like's *Param values under the same local names, so a Model
// counts them once, updates them once, and — with a tap — reports each
// block's part of their gradient as a UseLayer contribution. The new block
// has activation caches of its own, so both can run in one model. It panics
// if like is nil.
func NewTransformerBlockShared(name string, like *TransformerBlock) *TransformerBlock {
	blk, _ := NewTransformerBlockSharing(name, like, ShareAll, nil)
	return blk
}

// NewTransformerBlockSharing returns a new block named name of like's
// sizes whose parts named by share hold like's Params (as
// NewTransformerBlockShared) and whose other parts are its own, drawn from
// rng as NewTransformerBlock draws them (attention part first). rng may be
// nil for ShareAll. It returns an error for an unknown share. It panics if
// like is nil.
func NewTransformerBlockSharing(name string, like *TransformerBlock, share BlockSharing, rng *rand.Rand) (*TransformerBlock, error) {
	if !slices.Contains(BlockSharings(), share) {
		return nil, fmt.Errorf("engine: transformer_block %q: sharing %q, want none, all, attention or ffn", name, share)
	}
	blk := &TransformerBlock{name: name, dModel: like.dModel, heads: like.heads, dFF: like.dFF, causal: like.causal}
	if share == ShareAll || share == ShareAttention {
		blk.ln1 = sharedLayerNorm(name+".ln1", like.ln1)
		blk.attn = sharedSelfAttention(name, "attn.", like.attn)
		blk.attn.outer = blk
	} else {
		blk.newAttentionPart(rng)
	}
	if share == ShareAll || share == ShareFFN {
		blk.ln2 = sharedLayerNorm(name+".ln2", like.ln2)
		blk.ff1, blk.ff2 = like.ff1, like.ff2
		blk.nameFeedForward()
	} else {
		blk.newFeedForwardPart(rng)
	}
	return blk, nil
}

func (blk *TransformerBlock) nameFeedForward() {
	blk.ff1.wLocal, blk.ff1.bLocal = "ff1.weight", "ff1.bias"
	blk.ff2.wLocal, blk.ff2.bLocal = "ff2.weight", "ff2.bias"
}

// Spec returns type "transformer_block" with d_model, num_heads, d_ff and
// causal.
func (blk *TransformerBlock) Spec() Spec {
	return Spec{Name: blk.name, Type: "transformer_block", Attrs: map[string]any{
		"d_model": blk.dModel, "num_heads": blk.heads, "d_ff": blk.dFF, "causal": blk.causal,
	}}
}

// Params returns ln1.weight, ln1.bias, attn.w_q … attn.b_o, ln2.weight,
// ln2.bias, ff1.weight, ff1.bias, ff2.weight, ff2.bias, in the trace's order.
func (blk *TransformerBlock) Params() []NamedParam {
	ps := []NamedParam{{Local: "ln1.weight", Param: blk.ln1.Weight}, {Local: "ln1.bias", Param: blk.ln1.Bias}}
	ps = append(ps, blk.attn.Params()...)
	return append(ps,
		NamedParam{Local: "ln2.weight", Param: blk.ln2.Weight}, NamedParam{Local: "ln2.bias", Param: blk.ln2.Bias},
		NamedParam{Local: "ff1.weight", Param: blk.ff1.weight}, NamedParam{Local: "ff1.bias", Param: blk.ff1.bias},
		NamedParam{Local: "ff2.weight", Param: blk.ff2.weight}, NamedParam{Local: "ff2.bias", Param: blk.ff2.bias},
	)
}

// OutShape accepts [T, d_model] with T ≥ 1 and returns it unchanged.
func (blk *TransformerBlock) OutShape(in []int) ([]int, error) {
	if len(in) != 2 || in[0] < 1 || in[1] != blk.dModel {
		return nil, fmt.Errorf("engine: transformer_block %q: input shape %v, want [T %d] with T ≥ 1", blk.name, in, blk.dModel)
	}
	return []int{in[0], in[1]}, nil
}

// Count reports, for an example [T, d], Uses = T·(4d² + 2·d·d_ff + 2d)
// multiply-adds of attention projections, feed-forward and layer norms, and
// Unshared = T × the block's own parameter count: every token position with
// weights of its own, as SelfAttention, LayerNorm and Linear count theirs.
// The sharing between blocks adds on top (a Model adds one Unshared per
// block, so n shared blocks show n·T× their Params); the ALBERT comparison
// of separate against shared blocks reads from the two models' Params.
func (blk *TransformerBlock) Count(in []int) LayerCount {
	steps, d := in[0], blk.dModel
	params := 0
	for _, p := range blk.Params() {
		params += p.Size()
	}
	return LayerCount{Uses: steps * (4*d*d + 2*d*blk.dFF + 2*d), Unshared: steps * params}
}

// Forward runs the block on x. A tap that is an Observer is shown each
// head's attention map (InternalAttention) with the block as the layer. It
// panics with a ShapeError unless x is [B, T, d_model] with T ≥ 1.
func (blk *TransformerBlock) Forward(x *Tensor, tap Tap) *Tensor {
	if len(x.Shape) != 3 || x.Shape[1] < 1 || x.Shape[2] != blk.dModel {
		panic(ShapeError{Op: "transformer_block " + blk.name + " forward", Want: []int{-1, -1, blk.dModel}, Got: x.Shape})
	}
	bsz, steps := x.Shape[0], x.Shape[1]
	n := bsz * steps
	blk.x, blk.batch, blk.seqLen = x, bsz, steps
	blk.h = reuse(blk.h, x.Shape...)
	blk.u = reuse(blk.u, bsz, steps, blk.dFF)
	blk.r = reuse(blk.r, bsz, steps, blk.dFF)
	blk.y = reuse(blk.y, x.Shape...)

	s := blk.attn.Forward(blk.ln1.Forward(x, tap), tap)
	for i, v := range x.Data {
		blk.h.Data[i] = v + s.Data[i] // residual around attention
	}
	blk.c = blk.ln2.Forward(blk.h, tap)
	blk.ff1.forward(blk.c.Data, n, blk.u.Data)
	for i, v := range blk.u.Data {
		blk.r.Data[i] = max(v, 0)
	}
	blk.ff2.forward(blk.r.Data, n, blk.y.Data)
	for i, v := range blk.h.Data {
		blk.y.Data[i] += v // residual around the feed-forward part
	}
	return blk.y
}

// Backward adds the gradients of every Param and returns dx. With a tap,
// the attention and feed-forward projections report each token's part of
// their gradients (UseToken, Index [t]). It panics with a ShapeError unless
// dy has the shape of the last output.
func (blk *TransformerBlock) Backward(dy *Tensor, tap Tap) *Tensor {
	mustMatch("transformer_block", blk.name, dy, blk.y)
	n := blk.batch * blk.seqLen
	blk.dh = reuse(blk.dh, dy.Shape...)
	blk.dr = reuse(blk.dr, blk.u.Shape...)
	blk.dc = reuse(blk.dc, dy.Shape...)
	blk.dx = reuse(blk.dx, dy.Shape...)

	// y = h + ff2(relu(u)): dr = dy W_ff2, du = dr where u > 0.
	c := blk.c.Data
	blk.ff2.backward(blk.r.Data, dy.Data, n, blk.dr.Data, 0)
	for i, v := range blk.u.Data {
		if v <= 0 {
			blk.dr.Data[i] = 0
		}
	}
	blk.ff1.backward(c, blk.dr.Data, n, blk.dc.Data, 0)
	if tap != nil {
		blk.tokIdx = tokenIndices(blk.tokIdx, blk.seqLen)
		tok := tokenReport{layer: blk.name, batch: blk.batch, steps: blk.seqLen, idx: blk.tokIdx}
		tok.report(&blk.ff2, blk.r.Data, dy.Data, tap)
		tok.report(&blk.ff1, c, blk.dr.Data, tap)
	}
	// h reaches y directly and through LN2.
	dln2 := blk.ln2.Backward(blk.dc, tap)
	for i, g := range dy.Data {
		blk.dh.Data[i] = g + dln2.Data[i]
	}
	// h = x + SA(LN1(x)): x gets dh directly and through the attention.
	dln1 := blk.ln1.Backward(blk.attn.Backward(blk.dh, tap), tap)
	for i, g := range blk.dh.Data {
		blk.dx.Data[i] = g + dln1.Data[i]
	}
	return blk.dx
}
