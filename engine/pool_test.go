package engine

import (
	"math"
	"testing"
)

func TestPoolGrads(t *testing.T) {
	for _, c := range []struct{ kernel, stride, h, w int }{{2, 2, 4, 6}, {3, 2, 7, 5}, {2, 1, 3, 3}, {3, 3, 7, 8}} {
		mp, err := NewMaxPool2d("mp", c.kernel, c.stride)
		if err != nil {
			t.Fatal(err)
		}
		// Random inputs have no ties, so max pooling is differentiable there.
		checkLayerGrads(t, mp, randTensor(uint64(c.h), 2, 3, c.h, c.w), gradCheckOpts{})
		ap, _ := NewAvgPool2d("ap", c.kernel, c.stride)
		checkLayerGrads(t, ap, randTensor(uint64(c.w), 2, 3, c.h, c.w), gradCheckOpts{})
	}
}

func TestPoolByHand(t *testing.T) {
	x := TensorFrom([]float64{
		1, 5, 2, 0, 9,
		3, 5, 1, 1, 9,
		0, 0, 7, 2, 9,
	}, 1, 1, 3, 5)
	mp, _ := NewMaxPool2d("mp", 2, 2)
	y := mp.Forward(x, nil)
	// Floor mode: a 3×5 input gives 1×2; the last row and column are dropped.
	if y.Shape[2] != 1 || y.Shape[3] != 2 || y.Data[0] != 5 || y.Data[1] != 2 {
		t.Fatalf("max pool = %v %v, want [5 2] of shape [1 1 1 2]", y.Shape, y.Data)
	}
	dx := mp.Backward(TensorFrom([]float64{10, 20}, 1, 1, 1, 2), nil)
	// The tie between the two 5s goes to the first, as in torch.
	want := []float64{0, 10, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	for i, v := range want {
		if dx.Data[i] != v {
			t.Fatalf("max pool dx = %v, want %v", dx.Data, want)
		}
	}
	ap, _ := NewAvgPool2d("ap", 2, 2)
	ya := ap.Forward(x, nil)
	if ya.Data[0] != 3.5 || ya.Data[1] != 1 {
		t.Errorf("avg pool = %v, want [3.5 1]", ya.Data)
	}
	nan := TensorFrom([]float64{1, math.NaN(), 3, 2}, 1, 1, 2, 2)
	if v := mp.Forward(nan, nil).Data[0]; !math.IsNaN(v) {
		t.Errorf("max pool over a NaN = %v, want NaN as torch", v)
	}
}

func TestPoolErrors(t *testing.T) {
	if _, err := NewMaxPool2d("mp", 0, 1); err == nil {
		t.Errorf("kernel 0 accepted")
	}
	if _, err := NewAvgPool2d("ap", 2, -1); err == nil {
		t.Errorf("negative stride accepted")
	}
	mp, _ := NewMaxPool2d("mp", 3, 0)
	if s := mp.Spec(); s.Type != "maxpool2d" || s.Attrs["stride"] != 3 || s.Attrs["kernel_size"] != 3 {
		t.Errorf("spec %+v: stride 0 should mean stride = kernel", s)
	}
	for _, in := range [][]int{{1, 2, 5}, {1, 5}, {1, 3, 3, 3}} {
		if _, err := mp.OutShape(in); err == nil {
			t.Errorf("OutShape(%v) accepted", in)
		}
	}
	if out, err := mp.OutShape([]int{4, 7, 9}); err != nil || out[1] != 2 || out[2] != 3 {
		t.Errorf("OutShape([4 7 9]) = %v, %v; want [4 2 3]", out, err)
	}
}
