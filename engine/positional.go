package engine

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// PositionalEncoding adds a position vector to every token of a sequence
// [B, T, d]: y[b,t] = x[b,t] + PE[t], for T ≤ max_len.
//
// Kind "sinusoidal" uses the fixed table of "Attention Is All You Need",
// PE[t,2i] = sin(t/10000^(2i/d)), PE[t,2i+1] = cos(t/10000^(2i/d)), and has
// no parameters. Kind "learned" makes PE a Param "weight" [max_len, d].
type PositionalEncoding struct {
	name   string
	kind   string
	maxLen int
	dModel int
	table  *Tensor // [max_len, d]: the sinusoidal table, or Weight.Value
	Weight *Param  // learned only; nil for sinusoidal

	y, dx *Tensor
}

var (
	_ Layer   = (*PositionalEncoding)(nil)
	_ Counter = (*PositionalEncoding)(nil)
)

// The kinds of positional encoding.
const (
	PositionsSinusoidal = "sinusoidal"
	PositionsLearned    = "learned"
	// PositionsNone is no positional encoding at all: a model option
	// (TransformerConfig.Positions), not a kind of layer.
	PositionsNone = "none"
)

// NewPositionalEncoding returns a positional encoding of the given kind for
// sequences of up to maxLen tokens of dModel features. A learned table is
// drawn from N(0, 1) with rng, as torch.nn.Embedding(max_len, d_model)
// initialises it (the usual way to write learned positions in PyTorch; a
// bare nn.Parameter has no default). rng is unused (may be nil) for
// "sinusoidal". It returns an error for an unknown kind or a size that is
// not positive.
func NewPositionalEncoding(name string, kind string, maxLen, dModel int, rng *rand.Rand) (*PositionalEncoding, error) {
	if maxLen < 1 || dModel < 1 {
		return nil, fmt.Errorf("engine: positional_encoding %q: max_len and d_model must be positive, got %d and %d", name, maxLen, dModel)
	}
	pe := &PositionalEncoding{name: name, kind: kind, maxLen: maxLen, dModel: dModel}
	switch kind {
	case PositionsSinusoidal:
		pe.table = sinusoidalTable(maxLen, dModel)
	case PositionsLearned:
		pe.Weight = NewParam(name+".weight", maxLen, dModel)
		for i := range pe.Weight.Value.Data {
			pe.Weight.Value.Data[i] = rng.NormFloat64()
		}
		pe.table = pe.Weight.Value
	default:
		return nil, fmt.Errorf("engine: positional_encoding %q: kind %q, want %q or %q", name, kind, PositionsSinusoidal, PositionsLearned)
	}
	return pe, nil
}

// sinusoidalTable returns PE [maxLen, d]; for an odd d the last column is a
// sine with no cosine partner.
func sinusoidalTable(maxLen, d int) *Tensor {
	t := NewTensor(maxLen, d)
	for pos := range maxLen {
		row := t.Data[pos*d : (pos+1)*d]
		for i := 0; i < d; i += 2 {
			angle := float64(pos) / math.Pow(10000, float64(i)/float64(d))
			row[i] = math.Sin(angle)
			if i+1 < d {
				row[i+1] = math.Cos(angle)
			}
		}
	}
	return t
}

// Spec returns type "positional_encoding" with kind, max_len and d_model.
func (pe *PositionalEncoding) Spec() Spec {
	return Spec{Name: pe.name, Type: "positional_encoding", Attrs: map[string]any{"kind": pe.kind, "max_len": pe.maxLen, "d_model": pe.dModel}}
}

// Params returns the learned table "weight", or nothing for sinusoidal.
func (pe *PositionalEncoding) Params() []NamedParam {
	if pe.Weight == nil {
		return nil
	}
	return []NamedParam{{Local: "weight", Param: pe.Weight}}
}

// OutShape accepts [T, d_model] with 1 ≤ T ≤ max_len and returns it.
func (pe *PositionalEncoding) OutShape(in []int) ([]int, error) {
	if len(in) != 2 || in[1] != pe.dModel || in[0] < 1 {
		return nil, fmt.Errorf("engine: positional_encoding %q: input shape %v, want [T %d] with T ≥ 1", pe.name, in, pe.dModel)
	}
	if in[0] > pe.maxLen {
		return nil, fmt.Errorf("engine: positional_encoding %q: sequence of %d tokens is longer than max_len %d", pe.name, in[0], pe.maxLen)
	}
	return []int{in[0], in[1]}, nil
}

// Count reports, for an example [T, d], Uses = T·d additions of table
// entries. Each row of a learned table belongs to one position and is not
// shared across tokens, so Unshared is the table itself, max_len·d (0 for
// sinusoidal, which has no parameters).
func (pe *PositionalEncoding) Count(in []int) LayerCount {
	if pe.Weight == nil {
		return LayerCount{}
	}
	return LayerCount{Uses: in[0] * pe.dModel, Unshared: pe.maxLen * pe.dModel}
}

// Forward returns x + PE[:T]. It panics with a ShapeError unless x is
// [B, T, d_model] with T ≤ max_len.
func (pe *PositionalEncoding) Forward(x *Tensor, _ Tap) *Tensor {
	if len(x.Shape) != 3 || x.Shape[2] != pe.dModel || x.Shape[1] > pe.maxLen {
		panic(ShapeError{Op: "positional_encoding " + pe.name + " forward", Want: []int{-1, pe.maxLen, pe.dModel}, Got: x.Shape})
	}
	pe.y = reuse(pe.y, x.Shape...)
	seq := x.Shape[1] * pe.dModel // one example's elements
	pos := pe.table.Data[:seq]
	for b := range x.Shape[0] {
		xb, yb := x.Data[b*seq:(b+1)*seq], pe.y.Data[b*seq:(b+1)*seq]
		for i, v := range xb {
			yb[i] = v + pos[i]
		}
	}
	return pe.y
}

// Backward returns dx = dy and, for a learned table, adds Σ over the batch
// of dy[b,t] into row t of the weight's gradient. No per-token tap is
// reported: row t is used by token t only, so there is nothing shared to
// split. It panics with a ShapeError unless dy has the shape of the last
// output.
func (pe *PositionalEncoding) Backward(dy *Tensor, _ Tap) *Tensor {
	mustMatch("positional_encoding", pe.name, dy, pe.y)
	pe.dx = reuse(pe.dx, dy.Shape...)
	copy(pe.dx.Data, dy.Data)
	if pe.Weight != nil {
		seq := dy.Shape[1] * pe.dModel
		g := pe.Weight.Grad.Data[:seq]
		for b := range dy.Shape[0] {
			for i, v := range dy.Data[b*seq : (b+1)*seq] {
				g[i] += v
			}
		}
	}
	return pe.dx
}
