package engine

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// This file holds the Elman RNN and what the three recurrent layers (RNN,
// LSTM, GRU) have in common: the four PyTorch parameters, the input
// projection done for all steps at once, the parameter gradients
// accumulated after BPTT, and the per-step contributions shown to a tap.
//
// Layout. Sequences are batch first, [B, T, F], row-major, so the [B, F]
// matrix of one time step t is not contiguous: its rows start at
// (b·T + t)·F, T·F apart. The per-step products hand gonum exactly that
// strided view (data[t·F:], leading dimension T·F), so no step is copied in
// or out. Gate pre-activations are [B, T, G·H] with the G gates of one step
// side by side in PyTorch's order.

// recurrent is the part of RNN, LSTM and GRU that does not depend on the
// cell: the parameters and their gradients.
type recurrent struct {
	name, typ      string
	inSize, hidden int
	gates          int // rows of weight_ih per hidden unit: 1 rnn, 4 lstm, 3 gru

	WeightIH *Param // [G·H, I]
	WeightHH *Param // [G·H, H]
	BiasIH   *Param // [G·H]
	BiasHH   *Param // [G·H]

	x *Tensor // last Forward input (borrowed)
	// noInputGrad: Backward leaves dx out (see InputGradSkipper).
	noInputGrad bool
	dx          *Tensor

	// Transposed copies of the weights, W_ihᵀ [I, G·H] and W_hhᵀ [H, G·H],
	// refreshed by every Forward (an optimizer may have changed the
	// weights). With them each product is row × matrix, which gonum computes
	// as a sum of scaled rows skipping zero entries of the left factor: a
	// one-hot input then costs one row of W_ihᵀ per step, not I of them.
	wihT, whhT []float64
	dwihT      []float64 // dW_ihᵀ [I, G·H] before it is added into Grad

	// Buffers for one step's contributions, made only when a tap is given.
	stepWIH, stepWHH, stepBIH, stepBHH *Tensor
	stepIdx                            [][]int // Index slices [t], made once and never modified

	// One step's [B, H] internal, made only when the tap is an Observer.
	obsStep *Tensor
}

// newRecurrent checks the sizes and creates the four parameters with
// PyTorch's initialisation for recurrent layers: every weight and bias from
// U(-1/√H, 1/√H), drawn in the order weight_ih, weight_hh, bias_ih, bias_hh.
func newRecurrent(typ, name string, inSize, hidden, gates int, rng *rand.Rand) (recurrent, error) {
	if inSize < 1 || hidden < 1 {
		return recurrent{}, fmt.Errorf("engine: %s %q: input_size and hidden_size must be positive, got %d and %d", typ, name, inSize, hidden)
	}
	r := recurrent{
		name: name, typ: typ, inSize: inSize, hidden: hidden, gates: gates,
		WeightIH: NewParam(name+".weight_ih", gates*hidden, inSize),
		WeightHH: NewParam(name+".weight_hh", gates*hidden, hidden),
		BiasIH:   NewParam(name+".bias_ih", gates*hidden),
		BiasHH:   NewParam(name+".bias_hh", gates*hidden),
	}
	for _, p := range []*Param{r.WeightIH, r.WeightHH, r.BiasIH, r.BiasHH} {
		InitTorchDefault(p.Value, hidden, rng) // torch uses 1/√hidden_size for all four
	}
	return r, nil
}

// Spec returns the trace spec: the layer's type with input_size and
// hidden_size.
func (r *recurrent) Spec() Spec {
	return Spec{Name: r.name, Type: r.typ, Attrs: map[string]any{"input_size": r.inSize, "hidden_size": r.hidden}}
}

// Params returns weight_ih, weight_hh, bias_ih and bias_hh.
func (r *recurrent) Params() []NamedParam {
	return []NamedParam{
		{Local: "weight_ih", Param: r.WeightIH},
		{Local: "weight_hh", Param: r.WeightHH},
		{Local: "bias_ih", Param: r.BiasIH},
		{Local: "bias_hh", Param: r.BiasHH},
	}
}

// OutShape accepts [T, input_size] with T ≥ 1 and returns [T, hidden_size].
func (r *recurrent) OutShape(in []int) ([]int, error) {
	if len(in) != 2 || in[1] != r.inSize {
		return nil, fmt.Errorf("engine: %s %q: input shape %v, want [T %d]", r.typ, r.name, in, r.inSize)
	}
	if in[0] < 1 {
		return nil, fmt.Errorf("engine: %s %q: input shape %v has no steps", r.typ, r.name, in)
	}
	return []int{in[0], r.hidden}, nil
}

// Count reports, for one sequence [T, I], Uses = T·G·H·(I + H): the
// multiply-adds of x_t·W_ihᵀ and h_{t-1}·W_hhᵀ at every step (G = 1 rnn,
// 4 lstm, 3 gru; the bias additions are not multiply-adds), and Unshared =
// T × the parameter count: an unrolled network with its own cell per step.
func (r *recurrent) Count(in []int) LayerCount {
	if len(in) != 2 {
		return LayerCount{}
	}
	steps, gh := in[0], r.gates*r.hidden
	params := gh*r.inSize + gh*r.hidden + 2*gh
	return LayerCount{Uses: steps * gh * (r.inSize + r.hidden), Unshared: steps * params}
}

// batchSteps checks that x is [B, T, input_size] and returns B and T.
func (r *recurrent) batchSteps(x *Tensor) (int, int) {
	if len(x.Shape) != 3 || x.Shape[2] != r.inSize {
		panic(ShapeError{Op: r.typ + " " + r.name + " forward", Want: []int{-1, -1, r.inSize}, Got: x.Shape})
	}
	return x.Shape[0], x.Shape[1]
}

// transposeInto writes (or with add, adds) the transpose of src [rows,
// cols] into dst [cols, rows].
func transposeInto(dst, src []float64, rows, cols int, add bool) {
	for i := range rows {
		for j, v := range src[i*cols : (i+1)*cols] {
			if add {
				dst[j*rows+i] += v
			} else {
				dst[j*rows+i] = v
			}
		}
	}
}

// project refreshes the transposed weights and writes pre = x·W_ihᵀ + b_ih
// (+ b_hh when withHH) for every step at once: one product over all B·T
// rows, since the input side of the cell does not depend on the recurrence.
// pre is [B, T, G·H]. Every Forward starts with it.
func (r *recurrent) project(x *Tensor, pre []float64, withHH bool) {
	in, h, gh, rows := r.inSize, r.hidden, r.gates*r.hidden, x.Size()/r.inSize
	if len(r.wihT) != in*gh {
		r.wihT = make([]float64, in*gh)
		r.whhT = make([]float64, h*gh)
	}
	transposeInto(r.wihT, r.WeightIH.Value.Data, gh, in, false)
	transposeInto(r.whhT, r.WeightHH.Value.Data, gh, h, false)
	bih, bhh := r.BiasIH.Value.Data, r.BiasHH.Value.Data
	for n := range rows {
		row := pre[n*gh : (n+1)*gh]
		copy(row, bih)
		if withHH {
			for j, v := range bhh {
				row[j] += v
			}
		}
	}
	// pre[B·T, G·H] += x[B·T, I] · W_ihᵀ[I, G·H]
	gemm(false, false, rows, gh, in, 1, x.Data, in, r.wihT, gh, 1, pre, gh)
}

// recurStep adds h_{t-1}·W_hhᵀ into the pre-activations of step t (t ≥ 1).
// hs is [B, T, H] (the outputs), pre is [B, T, G·H].
func (r *recurrent) recurStep(hs, pre []float64, batch, steps, t int) {
	h, gh := r.hidden, r.gates*r.hidden
	// pre_t[B, G·H] += h_{t-1}[B, H] · W_hhᵀ[H, G·H]
	gemm(false, false, batch, gh, h, 1, hs[(t-1)*h:], steps*h, r.whhT, gh, 1, pre[t*gh:], steps*gh)
}

// backStep returns the gradient that step t passes back to h_{t-1} through
// the recurrence: dh_{t-1} (+)= dHH_t · W_hh, written into dhPrev [B, H]
// (beta 0 overwrites, beta 1 adds).
func (r *recurrent) backStep(dHH, dhPrev []float64, batch, steps, t int, beta float64) {
	h, gh := r.hidden, r.gates*r.hidden
	gemm(false, false, batch, h, gh, 1, dHH[t*gh:], steps*gh, r.WeightHH.Value.Data, h, beta, dhPrev, h)
}

// SkipInputGrad makes Backward return nil instead of dx when skip is true.
func (r *recurrent) SkipInputGrad(skip bool) { r.noInputGrad = skip }

// accumulate finishes BPTT once the gradients with respect to the gate
// pre-activations are known for every step: dIH on the input side
// (x_t·W_ihᵀ + b_ih) and dHH on the hidden side (h_{t-1}·W_hhᵀ + b_hh), both
// [B, T, G·H] (the same slice for RNN and LSTM, where both sides are simply
// added). hs holds the hidden states [B, T, H]. It adds into the four
// Grads — each the sum over all T steps, because the same cell was used at
// every step — reports one UseStep contribution per step and parameter to a
// non-nil tap, and returns dx = dIH · W_ih.
func (r *recurrent) accumulate(dIH, dHH, hs []float64, tap Tap) *Tensor {
	x := r.x
	batch, steps := x.Shape[0], x.Shape[1]
	in, h, gh := r.inSize, r.hidden, r.gates*r.hidden
	rows := batch * steps
	if tap != nil {
		r.reportSteps(dIH, dHH, hs, tap)
	} else {
		// dW_ih += Σ_{b,t} dIH[b,t]ᵀ x[b,t]: one product over all rows,
		// computed transposed (xᵀ dIH) so zero inputs are skipped.
		if len(r.dwihT) != in*gh {
			r.dwihT = make([]float64, in*gh)
		}
		gemm(true, false, in, gh, rows, 1, x.Data, in, dIH, gh, 0, r.dwihT, gh)
		transposeInto(r.WeightIH.Grad.Data, r.dwihT, in, gh, true)
		// dW_hh += Σ_{t≥1} dHH[b,t]ᵀ h[b,t-1], one product per sequence b:
		// its steps 1…T-1 against its hidden states 0…T-2 (h_{-1} = 0
		// contributes nothing).
		if steps > 1 {
			for b := range batch {
				gemm(true, false, gh, h, steps-1, 1, dHH[(b*steps+1)*gh:], gh, hs[b*steps*h:], h, 1, r.WeightHH.Grad.Data, h)
			}
		}
		// db_ih += Σ_{b,t} dIH[b,t];  db_hh += Σ_{b,t} dHH[b,t]
		addRows(r.BiasIH.Grad.Data, dIH, rows)
		addRows(r.BiasHH.Grad.Data, dHH, rows)
	}
	if r.noInputGrad {
		return nil
	}
	r.dx = reuse(r.dx, x.Shape...)
	// dx[B·T, I] = dIH[B·T, G·H] · W_ih[G·H, I]
	gemm(false, false, rows, in, gh, 1, dIH, gh, r.WeightIH.Value.Data, in, 0, r.dx.Data, in)
	return r.dx
}

// reportSteps is accumulate's path with a tap: for t = T-1 down to 0 (the
// order BPTT reaches the steps) it computes step t's part of each of the
// four gradients, summed over the batch, shows it to the tap and adds it
// into the Grad, so the contributions sum to exactly what was added.
func (r *recurrent) reportSteps(dIH, dHH, hs []float64, tap Tap) {
	x := r.x
	batch, steps := x.Shape[0], x.Shape[1]
	in, h, gh := r.inSize, r.hidden, r.gates*r.hidden
	r.stepWIH = reuse(r.stepWIH, gh, in)
	if len(r.dwihT) != in*gh {
		r.dwihT = make([]float64, in*gh)
	}
	r.stepWHH = reuse(r.stepWHH, gh, h)
	r.stepBIH = reuse(r.stepBIH, gh)
	r.stepBHH = reuse(r.stepBHH, gh)
	for len(r.stepIdx) < steps {
		r.stepIdx = append(r.stepIdx, []int{len(r.stepIdx)})
	}
	for t := steps - 1; t >= 0; t-- {
		// step t's dW_ih = Σ_b dIH[b,t]ᵀ x[b,t], computed transposed as in
		// accumulate
		gemm(true, false, in, gh, batch, 1, x.Data[t*in:], steps*in, dIH[t*gh:], steps*gh, 0, r.dwihT, gh)
		transposeInto(r.stepWIH.Data, r.dwihT, in, gh, false)
		// step t's dW_hh = Σ_b dHH[b,t]ᵀ h[b,t-1], zero at t = 0 (h_{-1} = 0)
		if t > 0 {
			gemm(true, false, gh, h, batch, 1, dHH[t*gh:], steps*gh, hs[(t-1)*h:], steps*h, 0, r.stepWHH.Data, h)
		} else {
			r.stepWHH.Zero()
		}
		r.stepBIH.Zero()
		r.stepBHH.Zero()
		for b := range batch {
			off := (b*steps + t) * gh
			addRows(r.stepBIH.Data, dIH[off:off+gh], 1)
			addRows(r.stepBHH.Data, dHH[off:off+gh], 1)
		}
		for _, c := range [...]struct {
			local string
			p     *Param
			g     *Tensor
		}{
			{"weight_ih", r.WeightIH, r.stepWIH},
			{"weight_hh", r.WeightHH, r.stepWHH},
			{"bias_ih", r.BiasIH, r.stepBIH},
			{"bias_hh", r.BiasHH, r.stepBHH},
		} {
			tap.Contribute(Contribution{Layer: r.name, Param: c.p, Local: c.local, Kind: UseStep, Index: r.stepIdx[t], Grad: c.g})
			for i, v := range c.g.Data {
				c.p.Grad.Data[i] += v // the shared cell's gradient is the sum of its steps
			}
		}
	}
}

// showStep shows obs step t of data [B, T, H] (hidden or cell states) as
// the internal name of layer l, copied into a [B, H] buffer.
func (r *recurrent) showStep(obs Observer, l Layer, name string, t int, data []float64, batch, steps int) {
	h := r.hidden
	r.obsStep = reuse(r.obsStep, batch, h)
	for b := range batch {
		copy(r.obsStep.Data[b*h:][:h], data[(b*steps+t)*h:][:h])
	}
	obs.Internal(l, name, t, r.obsStep)
}

// showHiddenGrad shows obs ∂L/∂h_t = dy_t + dhNext, where dhNext [B, H] is
// what step t+1 passed back, and returns the [B, H] buffer holding it
// (borrowed until the next show). Backward calls it at the start of step t,
// before dhNext is overwritten.
func (r *recurrent) showHiddenGrad(obs Observer, l Layer, t int, dy, dhNext []float64, batch, steps int) []float64 {
	h := r.hidden
	r.obsStep = reuse(r.obsStep, batch, h)
	buf := r.obsStep.Data
	for b := range batch {
		for j, g := range dy[(b*steps+t)*h:][:h] {
			buf[b*h+j] = g + dhNext[b*h+j]
		}
	}
	obs.Internal(l, InternalHiddenGrad, t, r.obsStep)
	return buf
}

// addRows adds the n rows of m (each len(dst) wide) into dst.
func addRows(dst, m []float64, n int) {
	w := len(dst)
	for i := range n {
		for j, v := range m[i*w : (i+1)*w] {
			dst[j] += v
		}
	}
}

// RNN is torch.nn.RNN(input_size, hidden_size, batch_first=True,
// nonlinearity='tanh') with one layer and h_0 = 0:
//
//	h_t = tanh(x_t W_ihᵀ + b_ih + h_{t-1} W_hhᵀ + b_hh)
//
// on input [B, T, input_size], returning every h_t as [B, T, hidden_size].
// The same four parameters are used at every one of the T steps, so their
// gradients are sums over the steps (backpropagation through time).
type RNN struct {
	recurrent
	act Nonlinearity
	out *Tensor // h, [B, T, H]; also holds the pre-activations during Forward
	da  *Tensor // dL/da_t (pre-activation), [B, T, H]
	dh  []float64
}

var (
	_ Layer   = (*RNN)(nil)
	_ Counter = (*RNN)(nil)
)

// Nonlinearity is the activation of an RNN cell.
type Nonlinearity string

// The RNN cell's activations. ActTanh and ActReLU are torch.nn.RNN's
// nonlinearity='tanh' and 'relu'; ActSigmoid has no torch.nn.RNN counterpart
// and is here for the vanishing-gradient lesson: its derivative is at most
// ¼, so gradients through it vanish once W_hh's largest singular value is
// below 4 (Pascanu et al. 2013, γ = ¼).
const (
	ActTanh    Nonlinearity = "tanh"
	ActReLU    Nonlinearity = "relu"
	ActSigmoid Nonlinearity = "sigmoid"
)

// Nonlinearities lists the RNN activations NewRNNWith accepts.
func Nonlinearities() []Nonlinearity { return []Nonlinearity{ActTanh, ActReLU, ActSigmoid} }

// DerivativeBound is γ, the largest value of the activation's derivative:
// 1 for tanh and ReLU, ¼ for sigmoid. With ‖W_hh‖₂ < 1/γ every step back
// shrinks ∂L/∂h by at least that factor (vanishing is then guaranteed).
func (a Nonlinearity) DerivativeBound() float64 {
	if a == ActSigmoid {
		return 0.25
	}
	return 1
}

// NewRNN returns a tanh RNN layer with PyTorch's initialisation drawn from
// rng. It returns an error when a size is not positive.
func NewRNN(name string, inputSize, hiddenSize int, rng *rand.Rand) (*RNN, error) {
	return NewRNNWith(name, inputSize, hiddenSize, ActTanh, rng)
}

// NewRNNWith returns an RNN layer with activation act (h_t = act(a_t)) and
// PyTorch's initialisation drawn from rng. A tanh RNN traces as type "rnn";
// the others as the project's "elman_rnn" with a nonlinearity attr
// (docs/trace-format.md). It returns an error when a size is not positive
// or act is unknown.
func NewRNNWith(name string, inputSize, hiddenSize int, act Nonlinearity, rng *rand.Rand) (*RNN, error) {
	if !slices.Contains(Nonlinearities(), act) {
		return nil, fmt.Errorf("engine: rnn %q: nonlinearity %q, want tanh, relu or sigmoid", name, act)
	}
	typ := "rnn"
	if act != ActTanh {
		typ = "elman_rnn"
	}
	base, err := newRecurrent(typ, name, inputSize, hiddenSize, 1, rng)
	if err != nil {
		return nil, err
	}
	return &RNN{recurrent: base, act: act}, nil
}

// Nonlinearity returns the cell's activation.
func (r *RNN) Nonlinearity() Nonlinearity { return r.act }

// Spec returns the trace spec: "rnn" for tanh, otherwise "elman_rnn" with
// the nonlinearity.
func (r *RNN) Spec() Spec {
	s := r.recurrent.Spec()
	if r.act != ActTanh {
		s.Attrs["nonlinearity"] = string(r.act)
	}
	return s
}

// activate applies the cell's activation to a in place.
func (r *RNN) activate(a []float64) {
	switch r.act {
	case ActTanh:
		for j, v := range a {
			a[j] = math.Tanh(v)
		}
	case ActReLU:
		for j, v := range a {
			a[j] = max(v, 0)
		}
	case ActSigmoid:
		for j, v := range a {
			a[j] = gateSigmoid(v)
		}
	}
}

// slopeInto writes da = g·act'(a) for one row (da may be g), with the derivative written
// in terms of y = act(a), as backward keeps only h_t. The switch is outside
// the loop: this is the inner loop of every RNN backward.
func (r *RNN) slopeInto(da, g, y []float64) {
	switch r.act {
	case ActReLU:
		for j, v := range y {
			if v > 0 { // torch's ReLU derivative at 0 is 0
				da[j] = g[j]
			} else {
				da[j] = 0
			}
		}
	case ActSigmoid:
		for j, v := range y {
			da[j] = g[j] * v * (1 - v)
		}
	default:
		for j, v := range y {
			da[j] = g[j] * (1 - v*v)
		}
	}
}

// Forward runs the cell over every step of x. A tap that is an Observer is
// shown each h_t (InternalHidden). It panics with a ShapeError unless x is
// [B, T, input_size].
func (r *RNN) Forward(x *Tensor, tap Tap) *Tensor {
	obs, _ := tap.(Observer)
	batch, steps := r.batchSteps(x)
	r.x = x
	h := r.hidden
	r.out = reuse(r.out, batch, steps, h)
	hs := r.out.Data
	// a_t = x_t W_ihᵀ + b_ih + b_hh, for all t at once
	r.project(x, hs, true)
	for t := range steps {
		if t > 0 {
			r.recurStep(hs, hs, batch, steps, t) // a_t += h_{t-1} W_hhᵀ
		}
		for b := range batch {
			r.activate(hs[(b*steps+t)*h:][:h]) // h_t = act(a_t)
		}
		if obs != nil {
			r.showStep(obs, r, InternalHidden, t, hs, batch, steps)
		}
	}
	return r.out
}

// Backward runs backpropagation through time from dy = dL/dh_t for every
// step ([B, T, H]), adds the parameter gradients into their Grads and
// returns dL/dx. With a tap, each step's part of each gradient is reported
// as a UseStep contribution with Index [t], and a tap that is an Observer is
// shown each ∂L/∂h_t (InternalHiddenGrad). It panics with a ShapeError
// unless dy has the shape of the last output.
func (r *RNN) Backward(dy *Tensor, tap Tap) *Tensor {
	mustMatch(r.typ, r.name, dy, r.out)
	obs, _ := tap.(Observer)
	batch, steps, h := r.out.Shape[0], r.out.Shape[1], r.hidden
	hs := r.out.Data
	r.da = reuse(r.da, batch, steps, h)
	da := r.da.Data
	if len(r.dh) != batch*h {
		r.dh = make([]float64, batch*h)
	}
	dhNext := r.dh // dL/dh_t arriving from step t+1; zero after the last step
	clear(dhNext)
	for t := steps - 1; t >= 0; t-- {
		if obs != nil {
			r.showHiddenGrad(obs, r, t, dy.Data, dhNext, batch, steps)
		}
		for b := range batch {
			off := (b*steps + t) * h
			row := da[off : off+h]
			for j := range row {
				row[j] = dy.Data[off+j] + dhNext[b*h+j] // dL/dh_t = dy_t + (from step t+1)
			}
			r.slopeInto(row, row, hs[off:off+h])
		}
		if t > 0 {
			r.backStep(da, dhNext, batch, steps, t, 0) // dL/dh_{t-1} from step t: da_t W_hh
		}
	}
	return r.accumulate(da, da, hs, tap)
}
