package engine

import (
	"math"
	"math/rand/v2"
)

// LSTM is torch.nn.LSTM(input_size, hidden_size, batch_first=True) with one
// layer and h_0 = c_0 = 0. The gates are stacked in PyTorch's order i, f, g,
// o in weight_ih [4H, I], weight_hh [4H, H], bias_ih [4H], bias_hh [4H]:
//
//	i_t = σ(x_t W_iiᵀ + b_ii + h_{t-1} W_hiᵀ + b_hi)     input gate
//	f_t = σ(x_t W_ifᵀ + b_if + h_{t-1} W_hfᵀ + b_hf)     forget gate
//	g_t = tanh(x_t W_igᵀ + b_ig + h_{t-1} W_hgᵀ + b_hg)  candidate cell
//	o_t = σ(x_t W_ioᵀ + b_io + h_{t-1} W_hoᵀ + b_ho)     output gate
//	c_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t
//	h_t = o_t ⊙ tanh(c_t)
//
// on input [B, T, input_size], returning every h_t as [B, T, hidden_size].
type LSTM struct {
	recurrent
	gate   *Tensor // i, f, g, o after their nonlinearities, [B, T, 4H]
	cell   *Tensor // c_t, [B, T, H]
	tanhC  *Tensor // tanh(c_t), [B, T, H]
	out    *Tensor // h_t, [B, T, H]
	dGate  *Tensor // dL/d(gate pre-activations), [B, T, 4H]
	dh, dc []float64
}

var (
	_ Layer   = (*LSTM)(nil)
	_ Counter = (*LSTM)(nil)
)

// NewLSTM returns an LSTM layer with PyTorch's initialisation drawn from
// rng. It returns an error when a size is not positive.
func NewLSTM(name string, inputSize, hiddenSize int, rng *rand.Rand) (*LSTM, error) {
	base, err := newRecurrent("lstm", name, inputSize, hiddenSize, 4, rng)
	if err != nil {
		return nil, err
	}
	return &LSTM{recurrent: base}, nil
}

// gateSigmoid is the logistic function σ(v) = 1/(1+e^-v) of the recurrent gates.
func gateSigmoid(v float64) float64 { return 1 / (1 + math.Exp(-v)) }

// Forward runs the cell over every step of x. A tap that is an Observer is
// shown each h_t and c_t (InternalHidden, InternalCell). It panics with a
// ShapeError unless x is [B, T, input_size].
func (l *LSTM) Forward(x *Tensor, tap Tap) *Tensor {
	obs, _ := tap.(Observer)
	batch, steps := l.batchSteps(x)
	l.x = x
	h := l.hidden
	l.gate = reuse(l.gate, batch, steps, 4*h)
	l.cell = reuse(l.cell, batch, steps, h)
	l.tanhC = reuse(l.tanhC, batch, steps, h)
	l.out = reuse(l.out, batch, steps, h)
	gate, cell, tc, hs := l.gate.Data, l.cell.Data, l.tanhC.Data, l.out.Data
	// [i f g o] pre-activations = x_t W_ihᵀ + b_ih + b_hh, for all t at once
	l.project(x, gate, true)
	for t := range steps {
		if t > 0 {
			l.recurStep(hs, gate, batch, steps, t) // += h_{t-1} W_hhᵀ
		}
		for b := range batch {
			n := b*steps + t
			g4 := gate[n*4*h:][:4*h]
			ig, fg, gg, og := g4[:h], g4[h:2*h], g4[2*h:3*h], g4[3*h:]
			c, th, hh := cell[n*h:][:h], tc[n*h:][:h], hs[n*h:][:h]
			for j := range h {
				ig[j] = gateSigmoid(ig[j]) // i_t = σ(·)
				fg[j] = gateSigmoid(fg[j]) // f_t = σ(·)
				gg[j] = math.Tanh(gg[j])   // g_t = tanh(·)
				og[j] = gateSigmoid(og[j]) // o_t = σ(·)
				cv := ig[j] * gg[j]        // c_t = i_t g_t
				if t > 0 {                 //     + f_t c_{t-1}
					cv += fg[j] * cell[(n-1)*h+j]
				}
				c[j] = cv
				th[j] = math.Tanh(cv)
				hh[j] = og[j] * th[j] // h_t = o_t tanh(c_t)
			}
		}
		if obs != nil {
			l.showStep(obs, l, InternalHidden, t, hs, batch, steps)
			l.showStep(obs, l, InternalCell, t, cell, batch, steps)
		}
	}
	return l.out
}

// Backward runs backpropagation through time from dy = dL/dh_t for every
// step ([B, T, H]), adds the parameter gradients into their Grads and
// returns dL/dx. With a tap, each step's part of each gradient is reported
// as a UseStep contribution with Index [t], and a tap that is an Observer is
// shown each ∂L/∂h_t and ∂L/∂c_t (InternalHiddenGrad, InternalCellGrad). It
// panics with a ShapeError unless dy has the shape of the last output.
func (l *LSTM) Backward(dy *Tensor, tap Tap) *Tensor {
	mustMatch(l.typ, l.name, dy, l.out)
	obs, _ := tap.(Observer)
	batch, steps, h := l.out.Shape[0], l.out.Shape[1], l.hidden
	gate, cell, tc := l.gate.Data, l.cell.Data, l.tanhC.Data
	l.dGate = reuse(l.dGate, batch, steps, 4*h)
	dGate := l.dGate.Data
	if len(l.dh) != batch*h {
		l.dh = make([]float64, batch*h)
		l.dc = make([]float64, batch*h)
	}
	dhNext, dcNext := l.dh, l.dc // arriving from step t+1; zero after the last step
	clear(dhNext)
	clear(dcNext)
	for t := steps - 1; t >= 0; t-- {
		if obs != nil {
			l.showGrads(obs, t, dy.Data, dhNext, dcNext, batch, steps)
		}
		for b := range batch {
			n := b*steps + t
			g4 := gate[n*4*h:][:4*h]
			ig, fg, gg, og := g4[:h], g4[h:2*h], g4[2*h:3*h], g4[3*h:]
			d4 := dGate[n*4*h:][:4*h]
			di, df, dg, do := d4[:h], d4[h:2*h], d4[2*h:3*h], d4[3*h:]
			dhn, dcn := dhNext[b*h:][:h], dcNext[b*h:][:h]
			for j := range h {
				dh := dy.Data[n*h+j] + dhn[j] // dL/dh_t = dy_t + (from step t+1)
				th := tc[n*h+j]
				dc := dcn[j] + dh*og[j]*(1-th*th) // dL/dc_t: from c_{t+1} and via h_t = o tanh(c_t)
				var cPrev float64
				if t > 0 {
					cPrev = cell[(n-1)*h+j]
				}
				do[j] = dh * th * og[j] * (1 - og[j])    // ∂h/∂o = tanh(c_t); σ' = o(1-o)
				di[j] = dc * gg[j] * ig[j] * (1 - ig[j]) // ∂c/∂i = g_t
				df[j] = dc * cPrev * fg[j] * (1 - fg[j]) // ∂c/∂f = c_{t-1}
				dg[j] = dc * ig[j] * (1 - gg[j]*gg[j])   // ∂c/∂g = i_t; tanh' = 1-g²
				dcn[j] = dc * fg[j]                      // dL/dc_{t-1} = dc_t f_t
			}
		}
		if t > 0 {
			l.backStep(dGate, dhNext, batch, steps, t, 0) // dL/dh_{t-1} from step t: dGate_t W_hh
		}
	}
	return l.accumulate(dGate, dGate, l.out.Data, tap)
}

// showGrads shows obs ∂L/∂h_t and then ∂L/∂c_t = dcNext + ∂L/∂h_t ⊙ o_t ⊙
// (1 − tanh²(c_t)), as the loop of Backward computes them, at the start of
// step t (before dhNext and dcNext, what step t+1 passed back, change).
func (l *LSTM) showGrads(obs Observer, t int, dy, dhNext, dcNext []float64, batch, steps int) {
	h := l.hidden
	buf := l.showHiddenGrad(obs, l, t, dy, dhNext, batch, steps)
	for b := range batch {
		n := b*steps + t
		og := l.gate.Data[n*4*h+3*h:][:h]
		for j, th := range l.tanhC.Data[n*h:][:h] {
			buf[b*h+j] = dcNext[b*h+j] + buf[b*h+j]*og[j]*(1-th*th)
		}
	}
	obs.Internal(l, InternalCellGrad, t, l.obsStep)
}
