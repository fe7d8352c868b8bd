package engine

import (
	"math"
	"math/rand/v2"
)

// GRU is torch.nn.GRU(input_size, hidden_size, batch_first=True) with one
// layer and h_0 = 0. The gates are stacked in PyTorch's order r, z, n in
// weight_ih [3H, I], weight_hh [3H, H], bias_ih [3H], bias_hh [3H], and the
// candidate uses PyTorch's formula, with the reset gate applied after the
// hidden product:
//
//	r_t = σ(x_t W_irᵀ + b_ir + h_{t-1} W_hrᵀ + b_hr)           reset gate
//	z_t = σ(x_t W_izᵀ + b_iz + h_{t-1} W_hzᵀ + b_hz)           update gate
//	n_t = tanh(x_t W_inᵀ + b_in + r_t ⊙ (h_{t-1} W_hnᵀ + b_hn))  candidate
//	h_t = (1 - z_t) ⊙ n_t + z_t ⊙ h_{t-1}
//
// on input [B, T, input_size], returning every h_t as [B, T, hidden_size].
type GRU struct {
	recurrent
	gate *Tensor // x_t W_ihᵀ + b_ih, then r, z, n after their nonlinearities, [B, T, 3H]
	hid  *Tensor // h_{t-1} W_hhᵀ + b_hh, [B, T, 3H] (its n third is kept for Backward)
	out  *Tensor // h_t, [B, T, H]
	dIH  *Tensor // dL/d(x_t W_ihᵀ + b_ih), [B, T, 3H]
	dHH  *Tensor // dL/d(h_{t-1} W_hhᵀ + b_hh), [B, T, 3H]
	dh   []float64
}

var (
	_ Layer   = (*GRU)(nil)
	_ Counter = (*GRU)(nil)
)

// NewGRU returns a GRU layer with PyTorch's initialisation drawn from rng.
// It returns an error when a size is not positive.
func NewGRU(name string, inputSize, hiddenSize int, rng *rand.Rand) (*GRU, error) {
	base, err := newRecurrent("gru", name, inputSize, hiddenSize, 3, rng)
	if err != nil {
		return nil, err
	}
	return &GRU{recurrent: base}, nil
}

// Forward runs the cell over every step of x. A tap that is an Observer is
// shown each h_t (InternalHidden). It panics with a ShapeError unless x is
// [B, T, input_size].
func (g *GRU) Forward(x *Tensor, tap Tap) *Tensor {
	obs, _ := tap.(Observer)
	batch, steps := g.batchSteps(x)
	g.x = x
	h := g.hidden
	g.gate = reuse(g.gate, batch, steps, 3*h)
	g.hid = reuse(g.hid, batch, steps, 3*h)
	g.out = reuse(g.out, batch, steps, h)
	gate, hid, hs := g.gate.Data, g.hid.Data, g.out.Data
	// x_t W_ihᵀ + b_ih for all t at once; the hidden side stays apart
	// because r multiplies only its n third.
	g.project(x, gate, false)
	bhh := g.BiasHH.Value.Data
	for t := range steps {
		for b := range batch {
			copy(hid[(b*steps+t)*3*h:][:3*h], bhh) // b_hh
		}
		if t > 0 {
			g.recurStep(hs, hid, batch, steps, t) // + h_{t-1} W_hhᵀ
		}
		for b := range batch {
			n := b*steps + t
			gi, gh := gate[n*3*h:][:3*h], hid[n*3*h:][:3*h]
			rg, zg, ng := gi[:h], gi[h:2*h], gi[2*h:]
			hh := hs[n*h:][:h]
			for j := range h {
				rg[j] = gateSigmoid(rg[j] + gh[j])         // r_t
				zg[j] = gateSigmoid(zg[j] + gh[h+j])       // z_t
				ng[j] = math.Tanh(ng[j] + rg[j]*gh[2*h+j]) // n_t
				hv := (1 - zg[j]) * ng[j]                  // h_t = (1-z) n
				if t > 0 {                                 //     + z h_{t-1}
					hv += zg[j] * hs[(n-1)*h+j]
				}
				hh[j] = hv
			}
		}
		if obs != nil {
			g.showStep(obs, g, InternalHidden, t, hs, batch, steps)
		}
	}
	return g.out
}

// Backward runs backpropagation through time from dy = dL/dh_t for every
// step ([B, T, H]), adds the parameter gradients into their Grads and
// returns dL/dx. With a tap, each step's part of each gradient is reported
// as a UseStep contribution with Index [t], and a tap that is an Observer is
// shown each ∂L/∂h_t (InternalHiddenGrad). It panics with a ShapeError
// unless dy has the shape of the last output.
func (g *GRU) Backward(dy *Tensor, tap Tap) *Tensor {
	mustMatch(g.typ, g.name, dy, g.out)
	obs, _ := tap.(Observer)
	batch, steps, h := g.out.Shape[0], g.out.Shape[1], g.hidden
	gate, hid, hs := g.gate.Data, g.hid.Data, g.out.Data
	g.dIH = reuse(g.dIH, batch, steps, 3*h)
	g.dHH = reuse(g.dHH, batch, steps, 3*h)
	dIH, dHH := g.dIH.Data, g.dHH.Data
	if len(g.dh) != batch*h {
		g.dh = make([]float64, batch*h)
	}
	dhNext := g.dh // dL/dh_t arriving from step t+1; zero after the last step
	clear(dhNext)
	for t := steps - 1; t >= 0; t-- {
		if obs != nil {
			g.showHiddenGrad(obs, g, t, dy.Data, dhNext, batch, steps)
		}
		for b := range batch {
			n := b*steps + t
			gi, gh := gate[n*3*h:][:3*h], hid[n*3*h:][:3*h]
			rg, zg, ng := gi[:h], gi[h:2*h], gi[2*h:]
			di, dd := dIH[n*3*h:][:3*h], dHH[n*3*h:][:3*h]
			dhn := dhNext[b*h:][:h]
			for j := range h {
				dh := dy.Data[n*h+j] + dhn[j] // dL/dh_t = dy_t + (from step t+1)
				var hPrev float64
				if t > 0 {
					hPrev = hs[(n-1)*h+j]
				}
				r, z, nv := rg[j], zg[j], ng[j]
				dan := dh * (1 - z) * (1 - nv*nv)      // ∂h/∂n = 1-z; tanh' = 1-n²
				daz := dh * (hPrev - nv) * z * (1 - z) // ∂h/∂z = h_{t-1} - n; σ' = z(1-z)
				dar := dan * gh[2*h+j] * r * (1 - r)   // ∂n-pre/∂r = h_{t-1} W_hnᵀ + b_hn
				di[j], di[h+j], di[2*h+j] = dar, daz, dan
				dd[j], dd[h+j], dd[2*h+j] = dar, daz, dan*r // r scales the hidden n term
				dhn[j] = dh * z                             // ∂h_t/∂h_{t-1} directly: z
			}
		}
		if t > 0 {
			g.backStep(dHH, dhNext, batch, steps, t, 1) // + dHH_t W_hh, through the gates
		}
	}
	return g.accumulate(dIH, dHH, hs, tap)
}
