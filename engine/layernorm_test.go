package engine

import (
	"math"
	"slices"
	"testing"
)

func newTestLayerNorm(t *testing.T, d int) *LayerNorm {
	t.Helper()
	ln, err := NewLayerNorm("ln", d, 1e-5)
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

func TestLayerNormGrads(t *testing.T) {
	ln := newTestLayerNorm(t, 8)
	randomizeParams(ln.Params(), 3)
	checkLayerGrads(t, ln, randTensor(1, 2, 4, 8), gradCheckOpts{})
	ln2 := newTestLayerNorm(t, 5)
	randomizeParams(ln2.Params(), 4)
	checkLayerGrads(t, ln2, randTensor(2, 3, 5), gradCheckOpts{})
}

// TestLayerNormByHand checks the torch formula on one row: biased variance,
// eps inside the square root, then weight and bias.
func TestLayerNormByHand(t *testing.T) {
	ln := newTestLayerNorm(t, 4)
	copy(ln.Weight.Value.Data, []float64{1, 2, 0.5, -1})
	copy(ln.Bias.Value.Data, []float64{0, 1, 0, 3})
	x := TensorFrom([]float64{1, 2, 3, 6}, 1, 4)
	y := ln.Forward(x, nil)
	// mean 3, biased variance (4+1+0+9)/4 = 3.5
	inv := 1 / math.Sqrt(3.5+1e-5)
	want := []float64{-2 * inv, -1*inv*2 + 1, 0, -3*inv + 3}
	for i := range want {
		if math.Abs(y.Data[i]-want[i]) > 1e-14 {
			t.Errorf("y[%d] = %.17g, want %.17g", i, y.Data[i], want[i])
		}
	}
}

func TestLayerNormDefaultsSpecCount(t *testing.T) {
	ln := newTestLayerNorm(t, 3)
	if !slices.Equal(ln.Weight.Value.Data, []float64{1, 1, 1}) || !slices.Equal(ln.Bias.Value.Data, []float64{0, 0, 0}) {
		t.Errorf("init weight %v bias %v, want ones and zeros", ln.Weight.Value.Data, ln.Bias.Value.Data)
	}
	s := ln.Spec()
	if s.Type != "layer_norm" || s.Attrs["normalized_shape"] != 3 || s.Attrs["eps"] != 1e-5 || len(s.Attrs) != 2 {
		t.Errorf("spec %+v", s)
	}
	if c := ln.Count([]int{4, 3}); c.Uses != 12 || c.Unshared != 24 {
		t.Errorf("count %+v, want uses 12, unshared 24", c)
	}
	if ln.Weight.Name != "ln.weight" || ln.Bias.Name != "ln.bias" {
		t.Errorf("param names %q %q", ln.Weight.Name, ln.Bias.Name)
	}
}

func TestLayerNormInvalid(t *testing.T) {
	for _, c := range []struct {
		d   int
		eps float64
	}{{0, 1e-5}, {-2, 1e-5}, {4, -1}, {4, math.NaN()}, {4, math.Inf(1)}} {
		if _, err := NewLayerNorm("ln", c.d, c.eps); err == nil {
			t.Errorf("d %d eps %g: no error", c.d, c.eps)
		}
	}
	ln := newTestLayerNorm(t, 4)
	for _, in := range [][]int{{}, {3}, {2, 5}} {
		if _, err := ln.OutShape(in); err == nil {
			t.Errorf("OutShape %v: no error", in)
		}
	}
	expectShapePanic(t, "forward on [2 3]", func() { ln.Forward(NewTensor(2, 3), nil) })
}
