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
	const s = 3
	moved := engine.NewTensor(x.Shape...) // the digit moved s pixels to the right
	for r := range 28 {
		copy(moved.Data[r*28+s:(r+1)*28], x.Data[r*28:(r+1)*28-s])
	}
	// maps[c][y][x+s] of the moved digit vs maps[c][y][x] of the digit, away from the right border:
	conv := mismatch(cnn.Layers[0].Forward(x, nil).Clone(), cnn.Layers[0].Forward(moved, nil), s) // 0 (rounding): they moved
	local := mismatch(lc.Layers[0].Forward(x, nil).Clone(), lc.Layers[0].Forward(moved, nil), s)  // large: each place its own kernel
	// in-code:end shift
	if conv > 1e-12 {
		t.Errorf("conv1's maps differ from the moved maps by %g, want 0 up to rounding", conv)
	}
	if local < 0.01 {
		t.Errorf("the twin's maps moved too (difference %g): the test would show nothing", local)
	}
}

// mismatch returns the largest |b[c, y, x+s] − a[c, y, x]| over the maps
// [1, C, 28, 28] for x+s < 27, where the 3×3 window of both lies in the
// image or its zero padding.
func mismatch(a, b *engine.Tensor, s int) float64 {
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
