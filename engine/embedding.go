package engine

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// Embedding is torch.nn.Embedding(num_embeddings, embedding_dim): a table
// Weight [num, dim] whose row k is the vector of token k. It maps integer
// indices [B, T] (stored as float64) to [B, T, dim]. Every token position
// reads the same table, so the gradient of a row is the sum over every
// position where that token appeared.
type Embedding struct {
	name     string
	num, dim int
	Weight   *Param // [num, dim]

	idx    []int // the last Forward's indices, checked and converted
	batch  int
	steps  int
	y, dx  *Tensor
	tokW   *Tensor // one position's contribution, only with a tap
	tokIdx [][]int // Index slices [t], made once and never modified
}

var (
	_ Layer   = (*Embedding)(nil)
	_ Counter = (*Embedding)(nil)
)

// NewEmbedding returns an embedding table of num vectors of size dim,
// initialised from N(0, 1) as torch.nn.Embedding, drawn from rng. It returns
// an error when num or dim is not positive.
func NewEmbedding(name string, num, dim int, rng *rand.Rand) (*Embedding, error) {
	if num < 1 || dim < 1 {
		return nil, fmt.Errorf("engine: embedding %q: num_embeddings and embedding_dim must be positive, got %d and %d", name, num, dim)
	}
	e := &Embedding{name: name, num: num, dim: dim, Weight: NewParam(name+".weight", num, dim)}
	for i := range e.Weight.Value.Data {
		e.Weight.Value.Data[i] = rng.NormFloat64()
	}
	return e, nil
}

// Spec returns the trace spec: type "embedding" with num_embeddings and
// embedding_dim.
func (e *Embedding) Spec() Spec {
	return Spec{Name: e.name, Type: "embedding", Attrs: map[string]any{"num_embeddings": e.num, "embedding_dim": e.dim}}
}

// Params returns the table as "weight".
func (e *Embedding) Params() []NamedParam {
	return []NamedParam{{Local: "weight", Param: e.Weight}}
}

// OutShape accepts a sequence of indices [T] with T ≥ 1 and returns
// [T, embedding_dim]. Whether the indices are in range is only known in
// Forward.
func (e *Embedding) OutShape(in []int) ([]int, error) {
	if len(in) != 1 || in[0] < 1 {
		return nil, fmt.Errorf("engine: embedding %q: input shape %v, want [T] token indices with T ≥ 1", e.name, in)
	}
	return []int{in[0], e.dim}, nil
}

// Count reports, for one sequence [T], Uses = T·dim (each position reads
// one row of dim numbers; a lookup has no multiply-adds, so a read counts as
// one use) and Unshared = T·num·dim: without sharing every position would
// hold a table of its own. We count the whole table per position, not one
// row, because which row a position reads depends on the data, so an
// unshared model would need all of them at every position.
func (e *Embedding) Count(in []int) LayerCount {
	if len(in) != 1 {
		return LayerCount{}
	}
	return LayerCount{Uses: in[0] * e.dim, Unshared: in[0] * e.num * e.dim}
}

// Forward copies row x[b,t] of the table to y[b,t]. It panics with a
// ShapeError unless x is [B, T], and with an "engine: embedding ..." message
// when an index is not an integer in [0, num_embeddings): token ids are
// produced by the program's own data code, so a bad one is a bug there.
func (e *Embedding) Forward(x *Tensor, _ Tap) *Tensor {
	if len(x.Shape) != 2 {
		panic(ShapeError{Op: "embedding " + e.name + " forward", Want: []int{-1, -1}, Got: x.Shape})
	}
	e.idx = readIndices("embedding", e.name, x, e.num, e.idx)
	e.batch, e.steps = x.Shape[0], x.Shape[1]
	e.y = reuse(e.y, x.Shape[0], x.Shape[1], e.dim)
	w := e.Weight.Value.Data
	for n, k := range e.idx {
		copy(e.y.Data[n*e.dim:(n+1)*e.dim], w[k*e.dim:(k+1)*e.dim]) // y[b,t] = W[x[b,t]]
	}
	return e.y
}

// readIndices converts the float64 indices of x into ints in [0, num),
// reusing buf. It panics with a message naming the layer and the position of
// the first bad index.
func readIndices(kind, name string, x *Tensor, num int, buf []int) []int {
	buf = buf[:0]
	steps := x.Shape[1]
	for n, v := range x.Data {
		k := int(v)
		if float64(k) != v || k < 0 || k >= num || math.IsNaN(v) {
			panic(fmt.Sprintf("engine: %s %q: index %v at [%d %d] is not an integer in [0, %d)", kind, name, v, n/steps, n%steps, num))
		}
		buf = append(buf, k)
	}
	return buf
}

// Backward adds dy[b,t] into row x[b,t] of the table's gradient, for every
// position (a token seen twice gets both parts), and returns a zero tensor
// of the input's shape: indices have no gradient. With a tap, position t's
// part (summed over the batch) is reported as a UseToken contribution with
// Index [t]. It panics with a ShapeError unless dy has the shape of the
// last output.
func (e *Embedding) Backward(dy *Tensor, tap Tap) *Tensor {
	mustMatch("embedding", e.name, dy, e.y)
	d, grad := e.dim, e.Weight.Grad.Data
	if tap != nil {
		e.reportTokens(dy, tap)
	} else {
		for n, k := range e.idx {
			row := grad[k*d : (k+1)*d]
			for j, g := range dy.Data[n*d : (n+1)*d] {
				row[j] += g // dW[x[b,t]] += dy[b,t]
			}
		}
	}
	e.dx = reuse(e.dx, e.batch, e.steps)
	return e.dx // never written: stays zero
}

// reportTokens shows the tap, for each position t, the rows position t
// added to the table's gradient (summed over the batch), and adds them into
// Grad so the contributions sum to exactly what was added.
func (e *Embedding) reportTokens(dy *Tensor, tap Tap) {
	d, grad := e.dim, e.Weight.Grad.Data
	e.tokW = reuse(e.tokW, e.num, e.dim)
	e.tokW.Zero()
	for len(e.tokIdx) < e.steps {
		e.tokIdx = append(e.tokIdx, []int{len(e.tokIdx)})
	}
	for t := range e.steps {
		for b := range e.batch {
			n := b*e.steps + t
			k := e.idx[n]
			row := e.tokW.Data[k*d : (k+1)*d]
			for j, g := range dy.Data[n*d : (n+1)*d] {
				row[j] += g
			}
		}
		tap.Contribute(Contribution{Layer: e.name, Param: e.Weight, Local: "weight", Kind: UseToken, Index: e.tokIdx[t], Grad: e.tokW})
		for b := range e.batch {
			// Add the touched rows into Grad and clear them again, so the
			// buffer is zero for the next position without clearing it all.
			k := e.idx[b*e.steps+t]
			row := e.tokW.Data[k*d : (k+1)*d]
			for j, g := range row {
				grad[k*d+j] += g
				row[j] = 0
			}
		}
	}
}
