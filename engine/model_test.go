package engine

import (
	"math"
	"strings"
	"testing"
)

// The first layer with parameters is told to skip its input gradient, and
// the parameter gradients stay exact.
func TestModelSkipsUnusedInputGradient(t *testing.T) {
	rng := NewRand(3)
	oneHot, _ := NewOneHot("onehot", 4)
	rnn, err := NewRNN("rnn", 4, 5, rng)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := NewLinear("out", 5, 4, rng)
	m, err := NewModel("seq", []int{3}, NewCrossEntropy(), oneHot, rnn, out)
	if err != nil {
		t.Fatal(err)
	}
	if !rnn.noInputGrad || out.noInputGrad {
		t.Fatalf("skip flags: rnn %v (want true), out %v (want false)", rnn.noInputGrad, out.noInputGrad)
	}
	x := TensorFrom([]float64{0, 1, 2, 3, 2, 1}, 2, 3)
	y := TensorFrom([]float64{1, 2, 3, 0, 0, 1}, 2, 3)
	checkModelGrads(t, m, x, y)

	conv, _ := NewConv2d("conv", Conv2dConfig{InChannels: 1, OutChannels: 2, KernelSize: 3, Padding: 1}, rng)
	lin, _ := NewLinear("fc", 2*4*4, 3, rng)
	cnn, err := NewModel("cnn", []int{1, 4, 4}, NewCrossEntropy(), conv, NewReLU("relu"), NewFlatten("flat"), lin)
	if err != nil {
		t.Fatal(err)
	}
	if !conv.noInputGrad {
		t.Fatal("conv is the first layer but still computes its input gradient")
	}
	if dx := conv.Backward(conv.Forward(randTensor(1, 2, 1, 4, 4), nil), nil); dx != nil {
		t.Fatalf("skipping conv returned dx of shape %v", dx.Shape)
	}
	checkModelGrads(t, cnn, randTensor(2, 2, 1, 4, 4), TensorFrom([]float64{0, 2}, 2))
}

func TestModelRejectsBadStacks(t *testing.T) {
	rng := NewRand(1)
	a, _ := NewLinear("same", 3, 3, rng)
	b, _ := NewLinear("same", 3, 3, rng)
	if _, err := NewModel("dup", []int{3}, nil, a, b); err == nil || !strings.Contains(err.Error(), "two layers named") {
		t.Errorf("duplicate names: err = %v", err)
	}
	c, _ := NewLinear("c", 4, 3, rng)
	if _, err := NewModel("misfit", []int{3}, nil, a, c); err == nil || !strings.Contains(err.Error(), `layer "c"`) {
		t.Errorf("misfitting layers: err = %v", err)
	}
	if _, err := NewModel("empty", []int{3}, nil); err == nil {
		t.Error("a model without layers was accepted")
	}
	m, _ := NewModel("noloss", []int{3}, nil, a)
	if _, err := m.ComputeGrad(NewTensor(1, 3), NewTensor(1), nil); err == nil {
		t.Error("ComputeGrad without a loss returned no error")
	}
}

// A NaN loss is reported as ErrDiverged and the parameters are not touched.
func TestComputeGradDiverged(t *testing.T) {
	rng := NewRand(1)
	l, _ := NewLinear("fc", 2, 2, rng)
	m, _ := NewModel("nan", []int{2}, NewMSE(), l)
	before := l.Weight.Value.Clone()
	x := TensorFrom([]float64{1, math.NaN()}, 1, 2)
	if _, err := m.ComputeGrad(x, NewTensor(1, 2), nil); err != ErrDiverged {
		t.Fatalf("err = %v, want ErrDiverged", err)
	}
	if relErr(before.Data, l.Weight.Value.Data) != 0 {
		t.Error("weights changed on a diverged step")
	}
}

// A tap given to ComputeGrad reaches every layer's Backward, also when no
// Param is shared between layers (the conv's per-position uses).
func TestModelPassesTapToLayers(t *testing.T) {
	rng := NewRand(5)
	conv, _ := NewConv2d("conv", Conv2dConfig{InChannels: 1, OutChannels: 1, KernelSize: 3, Padding: 1}, rng)
	lin, _ := NewLinear("fc", 16, 2, rng)
	m, err := NewModel("tiny", []int{1, 4, 4}, NewCrossEntropy(), conv, NewFlatten("flat"), lin)
	if err != nil {
		t.Fatal(err)
	}
	tap := newRecordingTap()
	if _, err := m.ComputeGrad(randTensor(3, 2, 1, 4, 4), TensorFrom([]float64{0, 1}, 2), tap); err != nil {
		t.Fatal(err)
	}
	if got := tap.counts[UsePosition]; got != 2*16 {
		t.Fatalf("%d per-position contributions, want 32 (16 positions × weight and bias)", got)
	}
	if tap.outputs != 3 {
		t.Errorf("%d layer outputs shown, want 3", tap.outputs)
	}
	if e := relErr(tap.sums[conv.Weight][UsePosition], conv.Weight.Grad.Data); e > 1e-12 {
		t.Errorf("per-position contributions sum off by %.3g", e)
	}
}
