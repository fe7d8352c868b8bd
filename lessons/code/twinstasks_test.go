package code_test

import (
	"testing"

	"github.com/paramshare/paramshare/engine"
	"github.com/paramshare/paramshare/engine/data"
)

// digitPairs returns 16 pairs of test digits [16, 2, 1, 28, 28], every
// other one of the same class (the embedded set holds one image per class
// in turn, so images i and i+10 share a class), and their targets: 1 for the
// same digit, 0 for different ones.
func digitPairs(t *testing.T) (x, y *engine.Tensor) {
	im := data.MNISTTest()
	x, y = engine.NewTensor(16, 2, 1, 28, 28), engine.NewTensor(16)
	for b := range 16 {
		other := b + 10 + b%2
		pair, labels := im.Batch([]int{b, other})
		copy(x.Data[b*2*784:(b+1)*2*784], pair.Data)
		if labels.Data[0] == labels.Data[1] {
			y.Data[b] = 1
		}
	}
	same := 0
	for _, v := range y.Data {
		same += int(v)
	}
	if same == 0 || same == 16 {
		t.Fatalf("%d same-digit pairs of 16: want both kinds", same)
	}
	return x, y
}

// TestTwinsLedger is lesson 15's "In code" for the Siamese twins, in our
// engine: one encoder reads both digits of each pair, and each of its
// weights' gradient is the first side's contribution plus the second's.
func TestTwinsLedger(t *testing.T) {
	x, y := digitPairs(t)
	// in-code:begin twins
	// One encoder for both inputs:
	cfg := engine.DefaultSiameseConfig()
	model, _ := engine.NewSiameseCNN("twins", cfg, 1)

	rec := engine.NewRecorder(engine.RecordFilter{
		Kinds: []engine.UseKind{engine.UseBranch},
	})
	if _, err := model.ComputeGrad(x, y, rec); err != nil {
		t.Fatal(err)
	}
	for _, p := range model.Params() { // conv1, conv2, embed
		// [0]: the first digits' side, [1]: the second digits'
		sides := rec.Uses(p, engine.UseBranch)
		if len(sides) != 2 {
			t.Fatalf("%s: %d sides, want 2", p.Name, len(sides))
		}
		sumMatches(t, p.Name, rec.Sum(p, engine.UseBranch), p.Grad)
	}
	// in-code:end twins
	if n := len(model.Params()); n != 6 {
		t.Fatalf("the encoder has %d Params, want 6", n)
	}
}

// TestTasksLedger is lesson 15's "In code" for the multi-task trunk, in our
// engine: a backward pass per head (the other head's part of dL/dy zero),
// and the trunk's gradient for the joint loss as the sum of the two tasks'.
func TestTasksLedger(t *testing.T) {
	x, digits := data.MNISTTest().Batch([]int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15})
	target := engine.NewTensor(16, 2) // [digit, digit mod 2]
	for b, d := range digits.Data {
		target.Data[2*b], target.Data[2*b+1] = d, float64(int(d)%2)
	}
	// in-code:begin tasks
	cfg := engine.DefaultMultitaskConfig()
	model, _ := engine.NewMultitaskCNN("multitask", cfg, 1)
	trunk := model.Params()[:4] // conv1, conv2; the heads' Params follow
	var parts [2][]*engine.Tensor
	// Head k's logits are columns cols[0] … cols[1]−1 of the output.
	for k, cols := range [2][2]int{{0, 10}, {10, 12}} {
		model.ZeroGrad()
		model.Loss.Forward(model.Forward(x, nil), target)
		dy := onlyColumns(model.Loss.Backward(), cols)
		model.Backward(dy, nil) // head k's loss alone
		for _, p := range trunk {
			parts[k] = append(parts[k], p.Grad.Clone())
		}
	}
	// The joint loss, both heads at once:
	if _, err := model.ComputeGrad(x, target, nil); err != nil {
		t.Fatal(err)
	}
	for i, p := range trunk { // digit part + odd/even part = gradient
		sumMatches(t, p.Name, added(parts[0][i], parts[1][i]), p.Grad)
	}
	// in-code:end tasks
	if trunk[0].Name != "conv1.weight" || trunk[3].Name != "conv2.bias" {
		t.Fatalf("trunk Params %s … %s, want conv1.weight … conv2.bias", trunk[0].Name, trunk[3].Name)
	}
}

// onlyColumns returns a copy of dL/dy [B, C] that keeps columns cols[0] …
// cols[1]−1 (one head's logits) and zeroes the rest.
func onlyColumns(g *engine.Tensor, cols [2]int) *engine.Tensor {
	out := g.Clone()
	c := g.Shape[1]
	for i := range out.Data {
		if j := i % c; j < cols[0] || j >= cols[1] {
			out.Data[i] = 0
		}
	}
	return out
}

// added returns a + b, element by element.
func added(a, b *engine.Tensor) *engine.Tensor {
	out := a.Clone()
	for i, v := range b.Data {
		out.Data[i] += v
	}
	return out
}
