package engine

import (
	"slices"
	"testing"
)

func TestLastStep(t *testing.T) {
	l := NewLastStep("last")
	x := randTensor(1, 2, 3, 4)
	y := l.Forward(x, nil)
	if !slices.Equal(y.Shape, []int{2, 4}) {
		t.Fatalf("shape %v", y.Shape)
	}
	for b := range 2 {
		if !slices.Equal(y.Data[b*4:(b+1)*4], x.Data[(b*3+2)*4:][:4]) {
			t.Errorf("batch %d: %v is not the last step", b, y.Data[b*4:(b+1)*4])
		}
	}
	checkLayerGrads(t, l, x, gradCheckOpts{})
	if out, err := l.OutShape([]int{3, 4}); err != nil || !slices.Equal(out, []int{4}) {
		t.Errorf("OutShape([3 4]) = %v, %v", out, err)
	}
	for _, bad := range [][]int{{4}, {0, 4}, {2, 3, 4}} {
		if _, err := l.OutShape(bad); err == nil {
			t.Errorf("OutShape(%v) accepted", bad)
		}
	}
	if s := l.Spec(); s.Type != "last_step" || len(s.Attrs) != 0 || l.Params() != nil {
		t.Errorf("spec %+v", s)
	}
	expectShapePanic(t, "last_step [B H]", func() { l.Forward(NewTensor(2, 4), nil) })
}
