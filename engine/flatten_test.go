package engine

import "testing"

func TestFlatten(t *testing.T) {
	f := NewFlatten("flat")
	x := randTensor(1, 2, 3, 2, 2)
	y := f.Forward(x, nil)
	if len(y.Shape) != 2 || y.Shape[0] != 2 || y.Shape[1] != 12 || y.Data[13] != x.Data[13] {
		t.Fatalf("flatten: shape %v", y.Shape)
	}
	checkLayerGrads(t, f, x, gradCheckOpts{})
	if out, err := f.OutShape([]int{3, 4, 5}); err != nil || len(out) != 1 || out[0] != 60 {
		t.Errorf("OutShape([3 4 5]) = %v, %v", out, err)
	}
	if _, err := f.OutShape(nil); err == nil {
		t.Errorf("OutShape of a scalar accepted")
	}
}
