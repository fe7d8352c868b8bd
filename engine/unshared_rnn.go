package engine

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// UnsharedRNN is the control for "one cell at every time step": an Elman
// RNN (tanh, h_0 = 0) whose every step t has weights of its own,
//
//	h_t = tanh(x_t W_ih[t]ᵀ + b_ih[t] + h_{t−1} W_hh[t]ᵀ + b_hh[t])
//
// on input [B, T', input_size] with T' ≤ seq_len, returning every h_t as
// [B, T', hidden_size]. It is nn.RNN unrolled with seq_len separate
// nn.RNNCell(nonlinearity='tanh'), cell t used at step t only: the same
// function class per step as RNN, seq_len times the parameters, and no
// gradient is a sum over steps — step t's weights get only step t's part.
// Because it has no weights for a step past seq_len, it cannot run a
// longer sequence (OutShape returns an error, Forward panics).
type UnsharedRNN struct {
	name                  string
	inSize, hidden, steps int // steps = seq_len

	WeightIH *Param // [T, H, I]
	WeightHH *Param // [T, H, H]
	BiasIH   *Param // [T, H]
	BiasHH   *Param // [T, H]

	x           *Tensor // last Forward input (borrowed)
	out         *Tensor // h, [B, T', H]
	da          *Tensor // dL/da_t, [B, T', H]
	dh          []float64
	dx          *Tensor
	noInputGrad bool
}

var (
	_ Layer            = (*UnsharedRNN)(nil)
	_ Counter          = (*UnsharedRNN)(nil)
	_ InputGradSkipper = (*UnsharedRNN)(nil)
)

// NewUnsharedRNN returns an unshared tanh RNN for sequences of up to
// seqLen steps. Every weight and bias is drawn from U(−1/√H, 1/√H), torch's
// initialisation of each step's nn.RNNCell, in the order weight_ih,
// weight_hh, bias_ih, bias_hh (each whole [T, …] tensor at once). It
// returns an error when a size is not positive.
func NewUnsharedRNN(name string, inputSize, hiddenSize, seqLen int, rng *rand.Rand) (*UnsharedRNN, error) {
	if inputSize < 1 || hiddenSize < 1 || seqLen < 1 {
		return nil, fmt.Errorf("engine: unshared_rnn %q: input_size, hidden_size and seq_len must be positive, got %d, %d and %d", name, inputSize, hiddenSize, seqLen)
	}
	r := &UnsharedRNN{
		name: name, inSize: inputSize, hidden: hiddenSize, steps: seqLen,
		WeightIH: NewParam(name+".weight_ih", seqLen, hiddenSize, inputSize),
		WeightHH: NewParam(name+".weight_hh", seqLen, hiddenSize, hiddenSize),
		BiasIH:   NewParam(name+".bias_ih", seqLen, hiddenSize),
		BiasHH:   NewParam(name+".bias_hh", seqLen, hiddenSize),
	}
	for _, p := range []*Param{r.WeightIH, r.WeightHH, r.BiasIH, r.BiasHH} {
		InitTorchDefault(p.Value, hiddenSize, rng)
	}
	return r, nil
}

// SeqLen returns the most steps the layer has weights for.
func (r *UnsharedRNN) SeqLen() int { return r.steps }

// Spec returns type "unshared_rnn" with input_size, hidden_size and seq_len.
func (r *UnsharedRNN) Spec() Spec {
	return Spec{Name: r.name, Type: "unshared_rnn", Attrs: map[string]any{"input_size": r.inSize, "hidden_size": r.hidden, "seq_len": r.steps}}
}

// Params returns weight_ih, weight_hh, bias_ih and bias_hh.
func (r *UnsharedRNN) Params() []NamedParam {
	return []NamedParam{
		{Local: "weight_ih", Param: r.WeightIH},
		{Local: "weight_hh", Param: r.WeightHH},
		{Local: "bias_ih", Param: r.BiasIH},
		{Local: "bias_hh", Param: r.BiasHH},
	}
}

// OutShape accepts [T', input_size] with 1 ≤ T' ≤ seq_len and returns
// [T', hidden_size].
func (r *UnsharedRNN) OutShape(in []int) ([]int, error) {
	if len(in) != 2 || in[1] != r.inSize || in[0] < 1 {
		return nil, fmt.Errorf("engine: unshared_rnn %q: input shape %v, want [T %d] with T ≥ 1", r.name, in, r.inSize)
	}
	if in[0] > r.steps {
		return nil, fmt.Errorf("engine: unshared_rnn %q: %d steps, but it has weights for %d only (seq_len): an unshared RNN cannot run longer sequences than it was built for", r.name, in[0], r.steps)
	}
	return []int{in[0], r.hidden}, nil
}

// Count reports, for one sequence [T', I], Uses = T'·H·(I + H), as RNN's
// (each weight is used once), and Unshared = the parameter count: nothing
// is shared.
func (r *UnsharedRNN) Count(in []int) LayerCount {
	if _, err := r.OutShape(in); err != nil {
		return LayerCount{}
	}
	h := r.hidden
	return LayerCount{Uses: in[0] * h * (r.inSize + h), Unshared: r.steps * (h*r.inSize + h*h + 2*h)}
}

// SkipInputGrad makes Backward return nil instead of dx when skip is true.
func (r *UnsharedRNN) SkipInputGrad(skip bool) { r.noInputGrad = skip }

// Forward runs step t's cell on step t of x for every step. It panics with
// a ShapeError unless x is [B, T', input_size] with 1 ≤ T' ≤ seq_len.
func (r *UnsharedRNN) Forward(x *Tensor, _ Tap) *Tensor {
	if len(x.Shape) != 3 || x.Shape[2] != r.inSize || x.Shape[1] < 1 || x.Shape[1] > r.steps {
		panic(ShapeError{Op: fmt.Sprintf("unshared_rnn %s forward (at most seq_len = %d steps)", r.name, r.steps), Want: []int{-1, r.steps, r.inSize}, Got: x.Shape})
	}
	r.x = x
	batch, steps := x.Shape[0], x.Shape[1]
	in, h := r.inSize, r.hidden
	r.out = reuse(r.out, batch, steps, h)
	hs := r.out.Data
	wih, whh := r.WeightIH.Value.Data, r.WeightHH.Value.Data
	bih, bhh := r.BiasIH.Value.Data, r.BiasHH.Value.Data
	// Step t's [B, ·] rows are strided T'·F apart in the batch-first
	// layout; gemm takes them in place through its leading dimensions.
	for t := range steps {
		for b := range batch {
			row := hs[(b*steps+t)*h:][:h]
			for j := range row {
				row[j] = bih[t*h+j] + bhh[t*h+j]
			}
		}
		// a_t[B, H] += x_t[B, I] · W_ih[t]ᵀ
		gemm(false, true, batch, h, in, 1, x.Data[t*in:], steps*in, wih[t*h*in:], in, 1, hs[t*h:], steps*h)
		if t > 0 {
			// a_t[B, H] += h_{t−1}[B, H] · W_hh[t]ᵀ
			gemm(false, true, batch, h, h, 1, hs[(t-1)*h:], steps*h, whh[t*h*h:], h, 1, hs[t*h:], steps*h)
		}
		for b := range batch {
			row := hs[(b*steps+t)*h:][:h]
			for j, v := range row {
				row[j] = math.Tanh(v)
			}
		}
	}
	return r.out
}

// Backward runs backpropagation through time from dy = dL/dh_t ([B, T', H]),
// adds each step's gradients into that step's slice of the four Grads and
// returns dL/dx. It panics with a ShapeError unless dy has the shape of the
// last output.
func (r *UnsharedRNN) Backward(dy *Tensor, _ Tap) *Tensor {
	mustMatch("unshared_rnn", r.name, dy, r.out)
	x := r.x
	batch, steps := x.Shape[0], x.Shape[1]
	in, h := r.inSize, r.hidden
	hs := r.out.Data
	r.da = reuse(r.da, batch, steps, h)
	da := r.da.Data
	if len(r.dh) != batch*h {
		r.dh = make([]float64, batch*h)
	}
	dhNext := r.dh // dL/dh_t arriving from step t+1; zero after the last step
	clear(dhNext)
	wih, whh := r.WeightIH.Value.Data, r.WeightHH.Value.Data
	gwih, gwhh := r.WeightIH.Grad.Data, r.WeightHH.Grad.Data
	gbih, gbhh := r.BiasIH.Grad.Data, r.BiasHH.Grad.Data
	if !r.noInputGrad {
		r.dx = reuse(r.dx, x.Shape...)
	}
	for t := steps - 1; t >= 0; t-- {
		for b := range batch {
			off := (b*steps + t) * h
			for j := range h {
				g := dy.Data[off+j] + dhNext[b*h+j]
				da[off+j] = g * (1 - hs[off+j]*hs[off+j])
				gbih[t*h+j] += da[off+j]
				gbhh[t*h+j] += da[off+j]
			}
		}
		// dW_ih[t][H, I] += da_tᵀ[H, B] · x_t[B, I]
		gemm(true, false, h, in, batch, 1, da[t*h:], steps*h, x.Data[t*in:], steps*in, 1, gwih[t*h*in:], in)
		if t > 0 {
			// dW_hh[t][H, H] += da_tᵀ · h_{t−1};  dL/dh_{t−1} = da_t · W_hh[t]
			gemm(true, false, h, h, batch, 1, da[t*h:], steps*h, hs[(t-1)*h:], steps*h, 1, gwhh[t*h*h:], h)
			gemm(false, false, batch, h, h, 1, da[t*h:], steps*h, whh[t*h*h:], h, 0, dhNext, h)
		}
		if !r.noInputGrad {
			// dx_t[B, I] = da_t · W_ih[t]
			gemm(false, false, batch, in, h, 1, da[t*h:], steps*h, wih[t*h*in:], in, 0, r.dx.Data[t*in:], steps*in)
		}
	}
	if r.noInputGrad {
		return nil
	}
	return r.dx
}
