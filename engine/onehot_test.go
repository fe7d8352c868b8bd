package engine

import (
	"slices"
	"strings"
	"testing"
)

func TestOneHot(t *testing.T) {
	o, err := NewOneHot("oh", 4)
	if err != nil {
		t.Fatal(err)
	}
	y := o.Forward(tokens(2, 2, 3, 0, 1, 3), nil)
	want := []float64{0, 0, 0, 1, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1}
	if !slices.Equal(y.Shape, []int{2, 2, 4}) || !slices.Equal(y.Data, want) {
		t.Errorf("one_hot = %v %v, want [2 2 4] %v", y.Shape, y.Data, want)
	}
	// A second call must not keep the ones of the first.
	y = o.Forward(tokens(2, 2, 0, 0, 0, 0), nil)
	if got := y.Data[3]; got != 0 {
		t.Errorf("stale one left from the previous call")
	}
	dx := o.Backward(randTensor(1, 2, 2, 4), nil)
	if !slices.Equal(dx.Shape, []int{2, 2}) || slices.ContainsFunc(dx.Data, func(v float64) bool { return v != 0 }) {
		t.Errorf("dx %v %v, want zeros [2 2]", dx.Shape, dx.Data)
	}
	if s := o.Spec(); s.Type != "one_hot" || s.Attrs["num_classes"] != 4 || len(s.Attrs) != 1 || o.Params() != nil {
		t.Errorf("spec %+v", s)
	}
	if out, err := o.OutShape([]int{5}); err != nil || !slices.Equal(out, []int{5, 4}) {
		t.Errorf("OutShape([5]) = %v, %v", out, err)
	}
	if _, err := o.OutShape([]int{5, 4}); err == nil {
		t.Error("OutShape accepted [5 4]")
	}
	if _, err := NewOneHot("oh", 0); err == nil || !strings.HasPrefix(err.Error(), "engine: ") {
		t.Errorf("num_classes 0: error %v", err)
	}
	defer func() {
		if msg, _ := recover().(string); !strings.HasPrefix(msg, `engine: one_hot "oh": index 4`) {
			t.Errorf("out-of-range index: panic %q", msg)
		}
	}()
	o.Forward(tokens(1, 2, 0, 4), nil)
}
