package engine

import (
	"fmt"
	"math"
)

// Optimizer updates Params in place from their accumulated gradients.
type Optimizer interface {
	// Step applies one update to every Param in params. Each Param must be
	// listed once (a shared Param is one Param: its Grad already holds the
	// sum of its uses).
	Step(params []*Param)
}

// SGD is stochastic gradient descent with optional momentum, as
// torch.optim.SGD with dampening 0, no weight decay and no Nesterov:
// v = μ·v + g, p −= lr·v (with μ = 0: p −= lr·g).
type SGD struct {
	LR       float64
	Momentum float64
	velocity map[*Param][]float64
}

var _ Optimizer = (*SGD)(nil)

// NewSGD returns SGD with learning rate lr and momentum μ (0 for none).
func NewSGD(lr, momentum float64) *SGD {
	return &SGD{LR: lr, Momentum: momentum, velocity: map[*Param][]float64{}}
}

// Step updates each Param. A Param's momentum buffer is allocated the first
// time it is seen and starts at the gradient, as torch's does (μ·0 + g).
func (s *SGD) Step(params []*Param) {
	for _, p := range params {
		g := p.Grad.Data
		w := p.Value.Data
		if s.Momentum == 0 {
			for i := range w {
				w[i] -= s.LR * g[i]
			}
			continue
		}
		v, ok := s.velocity[p]
		if !ok {
			v = make([]float64, len(g))
			s.velocity[p] = v
		}
		for i := range w {
			v[i] = s.Momentum*v[i] + g[i]
			w[i] -= s.LR * v[i]
		}
	}
}

// Adam is torch.optim.Adam without weight decay or amsgrad:
//
//	m = β1·m + (1−β1)·g
//	v = β2·v + (1−β2)·g²
//	p −= lr/(1−β1ᵗ) · m / (√v/√(1−β2ᵗ) + ε)
//
// with t counted per Param, as torch counts it.
type Adam struct {
	LR, Beta1, Beta2, Eps float64
	state                 map[*Param]*adamState
}

type adamState struct {
	step int
	m, v []float64
}

var _ Optimizer = (*Adam)(nil)

// NewAdam returns Adam with the given learning rate, decay rates and ε
// (torch's defaults are 1e-3, 0.9, 0.999, 1e-8).
func NewAdam(lr, beta1, beta2, eps float64) *Adam {
	return &Adam{LR: lr, Beta1: beta1, Beta2: beta2, Eps: eps, state: map[*Param]*adamState{}}
}

// Step updates each Param; its moment buffers are allocated the first time
// it is seen.
func (a *Adam) Step(params []*Param) {
	for _, p := range params {
		st, ok := a.state[p]
		if !ok {
			st = &adamState{m: make([]float64, p.Size()), v: make([]float64, p.Size())}
			a.state[p] = st
		}
		st.step++
		bc1 := 1 - math.Pow(a.Beta1, float64(st.step))
		bc2 := 1 - math.Pow(a.Beta2, float64(st.step))
		stepSize := a.LR / bc1
		sqrtBC2 := math.Sqrt(bc2)
		g := p.Grad.Data
		w := p.Value.Data
		for i := range w {
			st.m[i] = a.Beta1*st.m[i] + (1-a.Beta1)*g[i]
			st.v[i] = a.Beta2*st.v[i] + (1-a.Beta2)*g[i]*g[i]
			w[i] -= stepSize * st.m[i] / (math.Sqrt(st.v[i])/sqrtBC2 + a.Eps)
		}
	}
}

// GradNorm returns the L2 norm of all the gradients of params taken as one
// vector. List a shared Param once.
func GradNorm(params []*Param) float64 {
	var sum float64
	for _, p := range params {
		for _, g := range p.Grad.Data {
			sum += g * g
		}
	}
	return math.Sqrt(sum)
}

// ClipGradNorm scales the gradients of params so that their total L2 norm is
// at most maxNorm, as torch.nn.utils.clip_grad_norm_: when the norm exceeds
// maxNorm every gradient is multiplied by maxNorm/(norm+1e-6). It returns the
// norm before clipping; a non-finite norm (a diverged step) is returned with
// the gradients left untouched, so the caller sees it. It panics unless
// maxNorm is positive.
func ClipGradNorm(params []*Param, maxNorm float64) float64 {
	if !(maxNorm > 0) {
		panic(fmt.Sprintf("engine: ClipGradNorm: maxNorm must be positive, got %v", maxNorm))
	}
	norm := GradNorm(params)
	if math.IsNaN(norm) || math.IsInf(norm, 0) {
		return norm
	}
	if norm <= maxNorm {
		return norm
	}
	scale := maxNorm / (norm + 1e-6)
	for _, p := range params {
		for i := range p.Grad.Data {
			p.Grad.Data[i] *= scale
		}
	}
	return norm
}

// StateCloner is an optimizer that can copy itself — settings and every
// per-Param buffer — for a copy of the model it trains: to maps each of
// its Params to the copy's. A forked training run continues exactly as
// the original would.
type StateCloner interface {
	CloneFor(to map[*Param]*Param) Optimizer
}

var (
	_ StateCloner = (*SGD)(nil)
	_ StateCloner = (*Adam)(nil)
)

// CloneFor returns SGD with the same settings and momentum buffers.
func (s *SGD) CloneFor(to map[*Param]*Param) Optimizer {
	c := NewSGD(s.LR, s.Momentum)
	for p, v := range s.velocity {
		c.velocity[to[p]] = append([]float64(nil), v...)
	}
	return c
}

// CloneFor returns Adam with the same settings, moments and step counts.
func (a *Adam) CloneFor(to map[*Param]*Param) Optimizer {
	c := NewAdam(a.LR, a.Beta1, a.Beta2, a.Eps)
	for p, st := range a.state {
		c.state[to[p]] = &adamState{step: st.step, m: append([]float64(nil), st.m...), v: append([]float64(nil), st.v...)}
	}
	return c
}
