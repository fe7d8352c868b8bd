package engine

import (
	"fmt"
	"math"
)

// LayerNorm normalises every vector along the last axis, as
// torch.nn.LayerNorm(d):
//
//	y = (x − mean(x)) / √(var(x) + eps) · weight + bias
//
// with the biased variance (divided by d, not d − 1). The same weight and
// bias are applied at every position of a sequence.
type LayerNorm struct {
	name   string
	d      int
	eps    float64
	Weight *Param // [d], initialised to ones
	Bias   *Param // [d], initialised to zeros

	xhat   *Tensor   // normalised input of the last Forward
	invStd []float64 // 1/√(var+eps) per row
	y, dx  *Tensor
}

var (
	_ Layer   = (*LayerNorm)(nil)
	_ Counter = (*LayerNorm)(nil)
)

// NewLayerNorm returns a layer norm over d features with weight 1 and bias
// 0. It returns an error when d is not positive or eps is negative or not
// finite (torch's default eps is 1e-5).
func NewLayerNorm(name string, d int, eps float64) (*LayerNorm, error) {
	if d < 1 {
		return nil, fmt.Errorf("engine: layer_norm %q: normalized_shape must be positive, got %d", name, d)
	}
	if eps < 0 || math.IsNaN(eps) || math.IsInf(eps, 0) {
		return nil, fmt.Errorf("engine: layer_norm %q: eps must be finite and non-negative, got %g", name, eps)
	}
	ln := &LayerNorm{name: name, d: d, eps: eps, Weight: NewParam(name+".weight", d), Bias: NewParam(name+".bias", d)}
	for i := range ln.Weight.Value.Data {
		ln.Weight.Value.Data[i] = 1
	}
	return ln, nil
}

// sharedLayerNorm returns a layer norm holding like's Params, with caches of
// its own.
func sharedLayerNorm(name string, like *LayerNorm) *LayerNorm {
	return &LayerNorm{name: name, d: like.d, eps: like.eps, Weight: like.Weight, Bias: like.Bias}
}

// Spec returns type "layer_norm" with normalized_shape (d) and eps.
func (ln *LayerNorm) Spec() Spec {
	return Spec{Name: ln.name, Type: "layer_norm", Attrs: map[string]any{"normalized_shape": ln.d, "eps": ln.eps}}
}

// Params returns weight and bias.
func (ln *LayerNorm) Params() []NamedParam {
	return []NamedParam{{Local: "weight", Param: ln.Weight}, {Local: "bias", Param: ln.Bias}}
}

// OutShape accepts any shape whose last axis is d and returns it unchanged.
func (ln *LayerNorm) OutShape(in []int) ([]int, error) {
	if len(in) == 0 || in[len(in)-1] != ln.d {
		return nil, fmt.Errorf("engine: layer_norm %q: input shape %v, last axis must be %d", ln.name, in, ln.d)
	}
	return append([]int(nil), in...), nil
}

// Count reports, for an example of n vectors of d features, Uses = n·d (one
// multiply-add of weight and bias per element) and Unshared = n·2d: a
// separate weight and bias for every position.
func (ln *LayerNorm) Count(in []int) LayerCount {
	rows := ShapeSize(in) / ln.d
	return LayerCount{Uses: rows * ln.d, Unshared: rows * 2 * ln.d}
}

// Forward normalises x. It panics with a ShapeError unless x has at least
// two axes (batch first) and its last axis is d.
func (ln *LayerNorm) Forward(x *Tensor, _ Tap) *Tensor {
	if len(x.Shape) < 2 || x.Shape[len(x.Shape)-1] != ln.d {
		panic(ShapeError{Op: "layer_norm " + ln.name + " forward", Want: []int{-1, ln.d}, Got: x.Shape})
	}
	d := ln.d
	rows := x.Size() / d
	ln.xhat = reuse(ln.xhat, x.Shape...)
	ln.y = reuse(ln.y, x.Shape...)
	if cap(ln.invStd) < rows {
		ln.invStd = make([]float64, rows)
	}
	ln.invStd = ln.invStd[:rows]
	w, b := ln.Weight.Value.Data, ln.Bias.Value.Data
	for r := range rows {
		xr := x.Data[r*d : (r+1)*d]
		var mean float64
		for _, v := range xr {
			mean += v
		}
		mean /= float64(d)
		var variance float64
		for _, v := range xr {
			variance += (v - mean) * (v - mean)
		}
		variance /= float64(d) // biased, as torch
		inv := 1 / math.Sqrt(variance+ln.eps)
		ln.invStd[r] = inv
		xh, yr := ln.xhat.Data[r*d:(r+1)*d], ln.y.Data[r*d:(r+1)*d]
		for i, v := range xr {
			xh[i] = (v - mean) * inv
			yr[i] = xh[i]*w[i] + b[i]
		}
	}
	return ln.y
}

// Backward adds dweight = Σ dy·x̂ and dbias = Σ dy over every row into the
// Params' gradients and returns
//
//	dx = (g − mean(g) − x̂·mean(g·x̂)) / √(var+eps),  g = dy·weight,
//
// the gradient through the mean and variance of each row. It panics with a
// ShapeError unless dy has the shape of the last output.
func (ln *LayerNorm) Backward(dy *Tensor, _ Tap) *Tensor {
	mustMatch("layer_norm", ln.name, dy, ln.y)
	d := ln.d
	rows := dy.Size() / d
	ln.dx = reuse(ln.dx, dy.Shape...)
	w, dw, db := ln.Weight.Value.Data, ln.Weight.Grad.Data, ln.Bias.Grad.Data
	for r := range rows {
		dyr, xh, dxr := dy.Data[r*d:(r+1)*d], ln.xhat.Data[r*d:(r+1)*d], ln.dx.Data[r*d:(r+1)*d]
		var meanG, meanGX float64
		for i, g := range dyr {
			dw[i] += g * xh[i]
			db[i] += g
			gi := g * w[i]
			meanG += gi
			meanGX += gi * xh[i]
		}
		meanG /= float64(d)
		meanGX /= float64(d)
		inv := ln.invStd[r]
		for i, g := range dyr {
			dxr[i] = (g*w[i] - meanG - xh[i]*meanGX) * inv
		}
	}
	return ln.dx
}
