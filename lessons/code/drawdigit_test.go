package code_test

import (
	"math"
	"testing"

	"github.com/paramshare/paramshare/engine"
	"github.com/paramshare/paramshare/engine/data"
)

// TestMapsMoveWithTheDigit is lesson 5's "In code" in our engine: move a
// digit s pixels to the right and conv1's maps move with it, exactly,
// because conv1 uses the same kernels at every position. The locally
// connected twin's first layer, a kernel of its own at every position, has
// no such property.
func TestMapsMoveWithTheDigit(t *testing.T) {
	x, _ := data.MNISTTest().Batch([]int{3})
	// in-code:begin shift
	cnn, _ := engine.BuildModel("cnn", 1)
	lc, _ := engine.BuildModel("lc", 1)
	s := shift                            // 3
	moved := engine.NewTensor(x.Shape...) // s pixels to the right
	for r := range 28 {
		copy(moved.Data[r*28+s:(r+1)*28], x.Data[r*28:(r+1)*28-s])
	}
	// first-layer maps of the digit, and of the moved digit
	maps := func(m *engine.Model) (a, b *engine.Tensor) {
		a = m.Layers[0].Forward(x, nil).Clone()
		return a, m.Layers[0].Forward(moved, nil)
	}
	// b[c][y][x+s] vs a[c][y][x], away from the right border:
	conv := mismatch(maps(cnn)) // ≈ 0: conv1's maps moved along
	local := mismatch(maps(lc)) // large: each place its own kernel
	// in-code:end shift
	if conv > 1e-12 {
		t.Errorf("conv1's maps differ from the moved maps by %g, want 0 up to rounding", conv)
	}
	if local < 0.01 {
		t.Errorf("the twin's maps moved too (difference %g): the test would show nothing", local)
	}
}

// shift is how far TestMapsMoveWithTheDigit moves the digit, in pixels.
const shift = 3

// mismatch returns the largest |b[c, y, x+s] − a[c, y, x]| over the maps
// [1, C, 28, 28] for s = shift and x+s < 27, where the 3×3 window of both
// lies in the image or its zero padding.
func mismatch(a, b *engine.Tensor) float64 {
	s := shift
	worst := 0.0
	for c := range a.Shape[1] {
		for y := range 28 {
			for x := 0; x+s < 27; x++ {
				i := (c*28+y)*28 + x
				worst = math.Max(worst, math.Abs(b.Data[i+s]-a.Data[i]))
			}
		}
	}
	return worst
}
