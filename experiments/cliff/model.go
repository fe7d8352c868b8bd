package cliff

import (
	"fmt"
	"math"

	"github.com/paramshare/paramshare/engine"
)

// The model. Pascanu, Mikolov & Bengio (2013, §2.3, eq. 8, fig. 6) train
// one unit
//
//	x_t = w·σ(x_{t−1}) + b,  x_0 = 0.5,  E = (σ(x_50) − 0.7)²
//
// With h_t = σ(x_t) this is h_t = σ(w·h_{t−1} + b), h_0 = σ(0.5): a
// one-unit sigmoid RNN with W_hh = w. The engine's RNN starts from a zero
// state and adds both biases at every step, so the start and b travel
// through two input features instead:
//
//	step 0:      u_0 = (x_s, 0)   a_0 = 1·x_s            h'_0 = σ(x_s)
//	steps 1…n:   u_t = (0, 1)     a_t = w·h'_{t−1} + b   (W_ih = [1, b])
//
// with b_ih = b_hh = 0 and W_ih[0,0] = 1 frozen: their gradients are set to
// zero before clipping and the update (requires_grad=False in PyTorch).
// Step 0 uses no parameter the lesson trains (its W_hh term multiplies the
// zero initial state), so ∂E/∂w is W_hh's gradient and ∂E/∂b is
// W_ih[0,1]'s, exactly those of the recurrence. Full BPTT runs n = 50 steps
// from x_s = x_0. Truncated BPTT of length k runs n = k steps from
// x_s = x_{50−k} = w·h_{49−k} + b, a number (PyTorch: h.detach() at step
// 50−k), so the gradient reaches back only k steps.
const (
	x0     = 0.5 // Pascanu's x_0
	target = 0.7 // the wanted σ(x_50)
	T      = 50  // the steps of the recurrence
)

// net is the engine model on n+1 input steps: elman_rnn(2 → 1, sigmoid),
// last_step, MSE against 0.7 (the mean over one element: the loss itself).
type net struct {
	model *engine.Model
	cell  *engine.RNN
	x     *engine.Tensor // [1, n+1, 2]
	y     *engine.Tensor // [1, 1] = 0.7
	n     int
	sgd   *engine.SGD
}

// newNet returns the model for n recurrence steps (1 ≤ n ≤ T) with the
// given batch (the surface runs many start inputs at once).
func newNet(n, batch int) (*net, error) {
	cell, err := engine.NewRNNWith("rnn", 2, 1, engine.ActSigmoid, engine.NewRand(0))
	if err != nil {
		return nil, fmt.Errorf("cliff: %w", err)
	}
	m, err := engine.NewModel("cliff", []int{n + 1, 2}, engine.NewMSE(), cell, engine.NewLastStep("last"))
	if err != nil {
		return nil, fmt.Errorf("cliff: %w", err)
	}
	cell.BiasIH.Value.Zero()
	cell.BiasHH.Value.Zero()
	cell.WeightIH.Value.Data[0] = 1
	nt := &net{model: m, cell: cell, x: engine.NewTensor(batch, n+1, 2), y: engine.NewTensor(batch, 1), n: n}
	for i := range batch {
		for t := 1; t <= n; t++ {
			nt.x.Data[(i*(n+1)+t)*2+1] = 1
		}
		nt.y.Data[i] = target
	}
	return nt, nil
}

// set puts (w, b) into the cell and the start pre-activation x_s into the
// input (one sequence).
func (nt *net) set(w, b, xs float64) {
	nt.cell.WeightHH.Value.Data[0] = w
	nt.cell.WeightIH.Value.Data[1] = b
	nt.x.Data[0] = xs
}

// grad is one evaluation: the loss, ∂E/∂w and ∂E/∂b, both from the engine.
type grad struct {
	Loss, W, B float64
}

func (g grad) norm() float64 { return math.Hypot(g.W, g.B) }

// eval runs the engine's forward and backward at (w, b) from x_s and
// returns the loss and the gradient with respect to (w, b). The frozen
// parameters' gradients are left zeroed, so engine.ClipGradNorm and SGD
// over the model's parameters see exactly (∂E/∂w, ∂E/∂b).
func (nt *net) eval(w, b, xs float64) (grad, error) {
	nt.set(w, b, xs)
	loss, err := nt.model.ComputeGrad(nt.x, nt.y, nil)
	if err != nil {
		return grad{Loss: loss}, fmt.Errorf("cliff: at w = %g, b = %g: %w", w, b, err)
	}
	nt.freeze()
	return grad{Loss: loss, W: nt.cell.WeightHH.Grad.Data[0], B: nt.cell.WeightIH.Grad.Data[1]}, nil
}

// freeze zeroes the gradients of the parameters the lesson does not train.
func (nt *net) freeze() {
	nt.cell.WeightIH.Grad.Data[0] = 0
	nt.cell.BiasIH.Grad.Zero()
	nt.cell.BiasHH.Grad.Zero()
}

// hidden runs the engine's forward only and returns h'_0 … h'_n of the
// first sequence.
func (nt *net) hidden(w, b, xs float64) []float64 {
	nt.set(w, b, xs)
	return nt.cell.Forward(nt.x, nil).Data[:nt.n+1]
}

// start returns x_s, the pre-activation the k-step model starts from:
// x_0 for full BPTT (k = T), else x_{T−k} = w·h_{T−k−1} + b with h from the
// full model's forward — a number, as a detached h in PyTorch.
func start(full *net, w, b float64, k int) float64 {
	if k >= T {
		return x0
	}
	h := full.hidden(w, b, x0)
	return w*h[T-k-1] + b
}

// step moves (w, b) by one gradient-descent step with the engine, from the
// gradient the last eval left in nt: clipped to norm threshold when clip
// is set (engine.ClipGradNorm, as torch.nn.utils.clip_grad_norm_), then
// engine.SGD's p −= lr·g. It returns the new point.
func (nt *net) step(lr float64, clip bool, threshold float64) (w, b float64) {
	params := nt.model.Params()
	if clip {
		engine.ClipGradNorm(params, threshold)
	}
	if nt.sgd == nil || nt.sgd.LR != lr {
		nt.sgd = engine.NewSGD(lr, 0)
	}
	nt.sgd.Step(params)
	return nt.cell.WeightHH.Value.Data[0], nt.cell.WeightIH.Value.Data[1]
}
