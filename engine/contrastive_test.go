package engine

import (
	"math"
	"testing"
)

func TestContrastiveValue(t *testing.T) {
	c := NewContrastive(1)
	d := TensorFrom([]float64{0.5, 2, 0.3}, 3)
	y := TensorFrom([]float64{1, 0, 0}, 3)
	// similar at 0.5: 0.25; dissimilar beyond the margin: 0; dissimilar at
	// 0.3: (1 − 0.3)² = 0.49.
	if got, want := c.Forward(d, y), (0.25+0+0.49)/3; math.Abs(got-want) > 1e-15 {
		t.Errorf("loss %.17g, want %.17g", got, want)
	}
	g := c.Backward()
	want := []float64{2 * 0.5 / 3, 0, -2 * 0.7 / 3}
	for i := range want {
		if math.Abs(g.Data[i]-want[i]) > 1e-15 {
			t.Errorf("grad[%d] = %g, want %g", i, g.Data[i], want[i])
		}
	}
	s := c.Spec()
	if s.Type != "contrastive" || s.Attrs["margin"] != 1.0 || len(s.Attrs) != 1 {
		t.Errorf("spec %+v", s)
	}
}

func TestContrastiveGrad(t *testing.T) {
	// Distances away from the margin's kink at d = margin.
	d := TensorFrom([]float64{0.2, 0.7, 1.5, 0.4, 1.3, 0.9}, 6)
	y := TensorFrom([]float64{1, 0, 0, 1, 0, 1}, 6)
	checkLossGrad(t, NewContrastive(1.1), d, y)
}

func TestContrastiveShapes(t *testing.T) {
	c := NewContrastive(1)
	expectShapePanic(t, "2-D distances", func() { c.Forward(NewTensor(2, 2), NewTensor(2, 2)) })
	expectShapePanic(t, "target length", func() { c.Forward(NewTensor(3), NewTensor(2)) })
}
