package engine

import (
	"math"
	"testing"
)

func TestActivationGrads(t *testing.T) {
	for _, l := range []Layer{NewReLU("relu"), NewTanh("tanh"), NewSigmoid("sigmoid")} {
		// Any shape: 2-D, 3-D and 4-D.
		for _, shape := range [][]int{{3, 4}, {2, 3, 2}, {2, 1, 3, 3}} {
			checkLayerGrads(t, l, randTensor(uint64(len(shape)), shape...), gradCheckOpts{})
		}
	}
}

func TestActivationValues(t *testing.T) {
	x := TensorFrom([]float64{-2, 0, 3}, 1, 3)
	cases := []struct {
		l    Layer
		want []float64
	}{
		{NewReLU("r"), []float64{0, 0, 3}},
		{NewTanh("t"), []float64{math.Tanh(-2), 0, math.Tanh(3)}},
		{NewSigmoid("s"), []float64{1 / (1 + math.Exp(2)), 0.5, 1 / (1 + math.Exp(-3))}},
	}
	for _, c := range cases {
		y := c.l.Forward(x, nil)
		for i, v := range c.want {
			if math.Abs(y.Data[i]-v) > 1e-15 {
				t.Errorf("%s(%v) = %v, want %v", c.l.Spec().Type, x.Data, y.Data, c.want)
				break
			}
		}
		if out, err := c.l.OutShape([]int{4, 5}); err != nil || len(out) != 2 {
			t.Errorf("%s OutShape: %v %v", c.l.Spec().Type, out, err)
		}
	}
	// ReLU's gradient at 0 is 0, as torch's.
	r := NewReLU("r")
	r.Forward(x, nil)
	if dx := r.Backward(TensorFrom([]float64{1, 1, 1}, 1, 3), nil); dx.Data[0] != 0 || dx.Data[1] != 0 || dx.Data[2] != 1 {
		t.Errorf("relu dx = %v, want [0 0 1]", dx.Data)
	}
}
