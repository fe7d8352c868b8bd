package code_test

import (
	"math"
	"testing"

	"github.com/paramshare/paramshare/engine"
	"github.com/paramshare/paramshare/engine/data"
)

// TestKernelLedger is lesson 3's "In code" in our engine: the lesson's model,
// one backward pass with a Recorder, and the kernel's gradient as the sum of
// its 784 per-position contributions.
func TestKernelLedger(t *testing.T) {
	x, target := data.MNISTTest().Batch([]int{0})
	rng := engine.NewRand(1)
	// in-code:begin ledger
	conv, _ := engine.NewConv2d("conv", engine.Conv2dConfig{InChannels: 1, OutChannels: 1, KernelSize: 3, Stride: 1, Padding: 1}, rng)
	fc, _ := engine.NewLinear("fc", 28*28, 10, rng)
	model, _ := engine.NewModel("lesson3", []int{1, 28, 28}, engine.NewCrossEntropy(), conv, engine.NewFlatten("flatten"), fc)

	// Record every use of the kernel: one contribution per output position.
	rec := engine.NewRecorder(engine.RecordFilter{Params: []*engine.Param{conv.Weight}, Kinds: []engine.UseKind{engine.UsePosition}})
	if _, err := model.ComputeGrad(x, target, rec); err != nil {
		t.Fatal(err)
	}
	sum := make([]float64, 9)
	for _, c := range rec.Contributions() { // 784 of them, in raster order
		for i, v := range c.Grad.Data {
			sum[i] += v
		}
	}
	// sum is conv.Weight.Grad: the shared kernel's gradient is the sum of its uses.
	// in-code:end ledger
	if n := len(rec.Contributions()); n != 28*28 {
		t.Fatalf("%d contributions, want 784", n)
	}
	for i, g := range conv.Weight.Grad.Data {
		if math.Abs(sum[i]-g) > 1e-12*math.Max(1, math.Abs(g)) {
			t.Fatalf("kernel entry %d: Σ contributions %g, engine grad %g", i, sum[i], g)
		}
	}
}
