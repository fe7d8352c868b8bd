package engine

import (
	"math"
	"testing"
)

func paramWith(value, grad []float64) *Param {
	p := NewParam("p.weight", len(value))
	copy(p.Value.Data, value)
	copy(p.Grad.Data, grad)
	return p
}

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-12*math.Max(1, math.Abs(b)) }

func TestSGD(t *testing.T) {
	p := paramWith([]float64{1, -2}, []float64{0.5, 1})
	NewSGD(0.1, 0).Step([]*Param{p})
	if !near(p.Value.Data[0], 0.95) || !near(p.Value.Data[1], -2.1) {
		t.Errorf("plain SGD: %v, want [0.95 -2.1]", p.Value.Data)
	}
}

func TestSGDMomentum(t *testing.T) {
	p := paramWith([]float64{1}, []float64{0.5})
	opt := NewSGD(0.1, 0.9)
	opt.Step([]*Param{p}) // v = 0.5, p = 1 - 0.05
	if !near(p.Value.Data[0], 0.95) {
		t.Fatalf("step 1: %v, want 0.95", p.Value.Data[0])
	}
	p.Grad.Data[0] = 1
	opt.Step([]*Param{p}) // v = 0.9·0.5 + 1 = 1.45, p = 0.95 - 0.145
	if !near(p.Value.Data[0], 0.805) {
		t.Errorf("step 2: %v, want 0.805", p.Value.Data[0])
	}
}

func TestAdam(t *testing.T) {
	p := paramWith([]float64{1, 1}, []float64{0.5, -2})
	opt := NewAdam(0.01, 0.9, 0.999, 1e-8)
	opt.Step([]*Param{p})
	// Step 1: m̂ = g, v̂ = g², so p −= lr·g/(|g|+ε) ≈ lr·sign(g).
	for i, g := range []float64{0.5, -2} {
		want := 1 - 0.01*g/(math.Abs(g)+1e-8)
		if !near(p.Value.Data[i], want) {
			t.Errorf("step 1 [%d]: %v, want %v", i, p.Value.Data[i], want)
		}
	}
	// Step 2 with g = 1 on element 0, by hand:
	// m = 0.9·0.05 + 0.1·1 = 0.145; v = 0.999·0.00025 + 0.001 = 0.00124975
	// p −= 0.01/(1−0.81) · 0.145 / (√0.00124975/√(1−0.998001) + 1e-8)
	before := p.Value.Data[0]
	p.Grad.Data[0] = 1
	opt.Step([]*Param{p})
	want := before - 0.01/0.19*0.145/(math.Sqrt(0.00124975)/math.Sqrt(1-0.998001)+1e-8)
	if !near(p.Value.Data[0], want) {
		t.Errorf("step 2: %v, want %v", p.Value.Data[0], want)
	}
}

func TestClipGradNorm(t *testing.T) {
	a := paramWith([]float64{0, 0}, []float64{3, 0})
	b := paramWith([]float64{0}, []float64{4})
	if n := GradNorm([]*Param{a, b}); n != 5 {
		t.Fatalf("GradNorm %v, want 5", n)
	}
	if n := ClipGradNorm([]*Param{a, b}, 10); n != 5 || a.Grad.Data[0] != 3 {
		t.Errorf("clip below the limit changed gradients: norm %v, grad %v", n, a.Grad.Data)
	}
	n := ClipGradNorm([]*Param{a, b}, 1)
	scale := 1 / (5 + 1e-6)
	if n != 5 || !near(a.Grad.Data[0], 3*scale) || !near(b.Grad.Data[0], 4*scale) {
		t.Errorf("clip to 1: norm %v, grads %v %v", n, a.Grad.Data, b.Grad.Data)
	}
	if after := GradNorm([]*Param{a, b}); after > 1 {
		t.Errorf("norm after clipping %v > 1", after)
	}
}

func TestClipGradNormEdges(t *testing.T) {
	p := NewParam("p", 2)
	p.Grad.Data[0], p.Grad.Data[1] = math.NaN(), 1
	if n := ClipGradNorm([]*Param{p}, 1); !math.IsNaN(n) || p.Grad.Data[1] != 1 {
		t.Errorf("NaN norm: returned %v, gradient %v (want NaN returned, gradients untouched)", n, p.Grad.Data)
	}
	for _, bad := range []float64{0, -1, math.NaN()} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("maxNorm %v accepted", bad)
				}
			}()
			ClipGradNorm([]*Param{p}, bad)
		}()
	}
}
