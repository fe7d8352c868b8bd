package code_test

import (
	"math"
	"testing"

	"github.com/paramshare/paramshare/engine"
	"github.com/paramshare/paramshare/engine/data"
)

// TestCNNAndItsTwin is lesson 4's "In code" in our engine: the race's CNN
// and its locally connected twin on a batch of 32 digits. Loaded with a copy
// of the CNN's kernel at every position, the twin computes what the CNN
// computes, and the gradient of each position's copy is that position's
// contribution to the shared kernel: 784 of them in conv1, 196 in conv2,
// adding up to the CNN's gradient.
func TestCNNAndItsTwin(t *testing.T) {
	idx := make([]int, 32)
	for i := range idx {
		idx[i] = i
	}
	x, y := data.MNISTTest().Batch(idx)
	// in-code:begin twin
	cfg := engine.DefaultCNNConfig()
	// 9,098 parameters, and its twin's 299,498
	cnn, _ := engine.NewCNN("cnn", cfg, 1)
	lc, _ := engine.NewLocallyConnectedCNN("lc", cfg, 1)
	conv1 := cnn.Layers[0].(*engine.Conv2d)
	conv2 := cnn.Layers[3].(*engine.Conv2d)
	rec := engine.NewRecorder(engine.RecordFilter{
		Params: []*engine.Param{conv1.Weight, conv2.Weight},
		Kinds:  []engine.UseKind{engine.UsePosition},
	})
	// the kernels' gradients, one contribution per position
	lossCNN, _ := cnn.ComputeGrad(x, y, rec)

	// the twin, with the CNN's kernel at every position
	copyInto(lc, cnn)
	lossLC, _ := lc.ComputeGrad(x, y, nil)
	lc1 := lc.Layers[0].(*engine.LocallyConnected2d)
	lc2 := lc.Layers[3].(*engine.LocallyConnected2d)
	// lossLC == lossCNN; lc1.Weight.Grad at position p is conv1's
	// contribution from p (conv2 likewise): the twin is the CNN
	// with its uses untied.
	// in-code:end twin
	if math.Abs(lossLC-lossCNN) > 1e-12 {
		t.Fatalf("twin loss %v, CNN loss %v", lossLC, lossCNN)
	}
	if c, l := cnn.Count().Params, lc.Count().Params; c != 9098 || l != 299498 {
		t.Errorf("parameters: CNN %d, twin %d; the lesson says 9,098 and 299,498", c, l)
	}
	for _, pair := range []struct {
		conv      *engine.Conv2d
		local     *engine.LocallyConnected2d
		positions int
	}{{conv1, lc1, 28 * 28}, {conv2, lc2, 14 * 14}} {
		uses := rec.Uses(pair.conv.Weight, engine.UsePosition)
		if len(uses) != pair.positions {
			t.Fatalf("%d contributions, want %d", len(uses), pair.positions)
		}
		n := pair.conv.Weight.Size()
		sum := make([]float64, n)
		for p, c := range uses {
			for i, v := range c.Grad.Data {
				sum[i] += v
				if twin := pair.local.Weight.Grad.Data[p*n+i]; math.Abs(twin-v) > 1e-12 {
					t.Fatalf("position %d entry %d: contribution %g, twin's gradient %g", p, i, v, twin)
				}
			}
		}
		for i, g := range pair.conv.Weight.Grad.Data {
			if math.Abs(sum[i]-g) > 1e-12*math.Max(1, math.Abs(g)) {
				t.Fatalf("entry %d: Σ contributions %g, engine grad %g", i, sum[i], g)
			}
		}
	}
}

// copyInto loads lc, the CNN's locally connected twin, with cnn's weights:
// each convolution's kernel and bias at every position, and the same
// linear layer.
func copyInto(lc, cnn *engine.Model) {
	for _, i := range []int{0, 3} {
		conv, local := cnn.Layers[i].(*engine.Conv2d), lc.Layers[i].(*engine.LocallyConnected2d)
		k, oc := conv.Weight.Value.Data, len(conv.Bias.Value.Data)
		positions := local.Weight.Size() / len(k)
		for p := range positions {
			copy(local.Weight.Value.Data[p*len(k):], k) // [OH, OW, OC, C, k, k]: position-major
			for o := range oc {
				local.Bias.Value.Data[o*positions+p] = conv.Bias.Value.Data[o] // [OC, OH, OW]
			}
		}
	}
	fc, lfc := cnn.Layers[len(cnn.Layers)-1].(*engine.Linear), lc.Layers[len(lc.Layers)-1].(*engine.Linear)
	copy(lfc.Weight.Value.Data, fc.Weight.Value.Data)
	copy(lfc.Bias.Value.Data, fc.Bias.Value.Data)
}
