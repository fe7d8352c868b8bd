package engine

import (
	"math"
	"strings"
	"testing"
)

// checkLossGrad compares a loss's Backward with central finite differences
// of its Forward with respect to the output y.
func checkLossGrad(t *testing.T, l Loss, y, target *Tensor) {
	t.Helper()
	l.Forward(y, target)
	got := l.Backward().Clone()
	num := numericGrad(y.Data, func() float64 { return l.Forward(y, target) })
	if e := relErr(got.Data, num); e > gradTol || math.IsNaN(e) {
		t.Errorf("%s: gradient relative error %.3g", l.Spec().Type, e)
	}
}

func classTargets(seed uint64, classes int, shape ...int) *Tensor {
	tt := NewTensor(shape...)
	rng := NewRand(seed)
	for i := range tt.Data {
		tt.Data[i] = float64(rng.IntN(classes))
	}
	return tt
}

func TestCrossEntropyGrad(t *testing.T) {
	checkLossGrad(t, NewCrossEntropy(), randTensor(1, 4, 5), classTargets(2, 5, 4))
	checkLossGrad(t, NewCrossEntropy(), randTensor(3, 2, 3, 6), classTargets(4, 6, 2, 3))
}

func TestCrossEntropyValue(t *testing.T) {
	ce := NewCrossEntropy()
	// Uniform logits: loss log C whatever the target.
	if got := ce.Forward(NewTensor(3, 4), TensorFrom([]float64{0, 1, 3}, 3)); math.Abs(got-math.Log(4)) > 1e-15 {
		t.Errorf("uniform loss %v, want log 4", got)
	}
	// Logits [1, 2, 3], target 2: −log(e³/(e+e²+e³)).
	want := -math.Log(math.Exp(3) / (math.Exp(1) + math.Exp(2) + math.Exp(3)))
	if got := ce.Forward(TensorFrom([]float64{1, 2, 3}, 1, 3), TensorFrom([]float64{2}, 1)); math.Abs(got-want) > 1e-15 {
		t.Errorf("loss %v, want %v", got, want)
	}
	p := ce.Probabilities()
	if s := p.Data[0] + p.Data[1] + p.Data[2]; math.Abs(s-1) > 1e-15 || p.Data[2] < p.Data[1] {
		t.Errorf("probabilities %v", p.Data)
	}
	// Huge logits stay finite (log-sum-exp).
	if got := ce.Forward(TensorFrom([]float64{1000, 0}, 1, 2), TensorFrom([]float64{1}, 1)); math.Abs(got-1000) > 1e-9 {
		t.Errorf("loss on large logits %v, want 1000", got)
	}
}

func TestCrossEntropyBadTargets(t *testing.T) {
	for _, v := range []float64{-1, 3, 0.5, math.NaN()} {
		func() {
			defer func() {
				msg, _ := recover().(string)
				if !strings.HasPrefix(msg, "engine: cross_entropy: ") {
					t.Errorf("target %v: panic %q", v, msg)
				}
			}()
			NewCrossEntropy().Forward(NewTensor(1, 3), TensorFrom([]float64{v}, 1))
		}()
	}
	defer func() {
		if _, ok := recover().(ShapeError); !ok {
			t.Errorf("mismatched target shape did not panic with a ShapeError")
		}
	}()
	NewCrossEntropy().Forward(NewTensor(2, 3), NewTensor(3))
}

func TestAccuracy(t *testing.T) {
	logits := TensorFrom([]float64{0, 1, 5, 5, 5, 1, 0, 0, 3}, 3, 3)
	// argmax: 2, 0 (the first of a tie), 2.
	if got := Accuracy(logits, TensorFrom([]float64{2, 1, 2}, 3)); math.Abs(got-2.0/3) > 1e-15 {
		t.Errorf("accuracy %v, want 2/3", got)
	}
	if got := Accuracy(logits.View(1, 3, 3), TensorFrom([]float64{2, 0, 2}, 1, 3)); got != 1 {
		t.Errorf("3-D accuracy %v, want 1", got)
	}
}

func TestMSE(t *testing.T) {
	m := NewMSE()
	if got := m.Forward(TensorFrom([]float64{1, 2, 3, 4}, 2, 2), TensorFrom([]float64{0, 2, 5, 4}, 2, 2)); got != 5.0/4 {
		t.Errorf("mse %v, want 1.25", got)
	}
	checkLossGrad(t, NewMSE(), randTensor(1, 3, 4), randTensor(2, 3, 4))
	if NewMSE().Spec().Type != "mse" || NewCrossEntropy().Spec().Type != "cross_entropy" {
		t.Errorf("loss types wrong")
	}
}

func TestSoftmax(t *testing.T) {
	// Large logits must not overflow: softmax is shift-invariant.
	p := Softmax([]float64{1000, 1001, 1002})
	q := Softmax([]float64{0, 1, 2})
	var sum float64
	for i := range p {
		sum += p[i]
		if math.Abs(p[i]-q[i]) > 1e-15 {
			t.Errorf("p[%d] = %v, shifted %v", i, p[i], q[i])
		}
	}
	if math.Abs(sum-1) > 1e-15 || !(q[2] > q[1] && q[1] > q[0]) {
		t.Errorf("softmax %v sums to %v", q, sum)
	}
	// The same numbers the cross-entropy uses.
	ce := NewCrossEntropy()
	ce.Forward(TensorFrom([]float64{0, 1, 2}, 1, 3), TensorFrom([]float64{2}, 1))
	if relErr(ce.Probabilities().Data, q) > 1e-15 {
		t.Errorf("cross-entropy probabilities %v, Softmax %v", ce.Probabilities().Data, q)
	}
}
