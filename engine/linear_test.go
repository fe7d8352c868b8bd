package engine

import (
	"math"
	"strings"
	"testing"
)

func TestLinearGrads2D(t *testing.T) {
	l, err := NewLinear("fc", 5, 3, NewRand(1))
	if err != nil {
		t.Fatal(err)
	}
	checkLayerGrads(t, l, randTensor(2, 4, 5), gradCheckOpts{})
}

func TestLinearGrads3D(t *testing.T) {
	l, err := NewLinear("proj", 4, 6, NewRand(1))
	if err != nil {
		t.Fatal(err)
	}
	checkLayerGrads(t, l, randTensor(3, 2, 5, 4), gradCheckOpts{})
}

func TestLinearForwardByHand(t *testing.T) {
	l, err := NewLinear("fc", 2, 2, NewRand(1))
	if err != nil {
		t.Fatal(err)
	}
	copy(l.Weight.Value.Data, []float64{1, 2, 3, 4})
	copy(l.Bias.Value.Data, []float64{0.5, -1})
	y := l.Forward(TensorFrom([]float64{1, -1, 2, 0.5}, 2, 2), nil)
	// Row [1,-1]: 1-2+0.5, 3-4-1. Row [2,0.5]: 2+1+0.5, 6+2-1.
	want := []float64{-0.5, -2, 3.5, 7}
	for i, v := range want {
		if y.Data[i] != v {
			t.Fatalf("y = %v, want %v", y.Data, want)
		}
	}
}

func TestLinearTapTokens(t *testing.T) {
	l, err := NewLinear("proj", 3, 2, NewRand(1))
	if err != nil {
		t.Fatal(err)
	}
	const steps = 4
	tap := checkTapSums(t, l, randTensor(5, 3, steps, 3))
	// One contribution per step for the weight and one for the bias.
	if got := useCounts(tap)[UseToken]; got != 2*steps {
		t.Errorf("%d token contributions, want %d", got, 2*steps)
	}
	for _, np := range l.Params() {
		if tap.Sum(np.Param, UseToken) == nil {
			t.Errorf("no token contributions for %s", np.Local)
		}
	}
}

func TestLinearSharedWeight(t *testing.T) {
	emb := NewParam("embed.weight", 7, 4) // [num, dim] used as [out, in]
	InitUniform(emb.Value, 1, NewRand(9))
	l, err := NewLinearShared("decoder", emb, NewRand(2))
	if err != nil {
		t.Fatal(err)
	}
	if l.Weight != emb || l.Params()[0].Local != "weight" || l.Params()[0].Name != "embed.weight" {
		t.Fatalf("shared linear does not hold the embedding as its weight")
	}
	if out, err := l.OutShape([]int{5, 4}); err != nil || out[0] != 5 || out[1] != 7 {
		t.Fatalf("OutShape([5 4]) = %v, %v; want [5 7]", out, err)
	}
	checkLayerGrads(t, l, randTensor(3, 2, 5, 4), gradCheckOpts{})

	// Backward adds into the shared Grad: what was there stays.
	emb.Grad.Zero()
	emb.Grad.Data[0] = 100
	y := l.Forward(randTensor(4, 2, 4), nil)
	l.Backward(randTensor(5, y.Shape...), nil)
	before := emb.Grad.Data[0]
	emb.Grad.Zero()
	l.Backward(randTensor(5, y.Shape...), nil)
	if math.Abs(before-100-emb.Grad.Data[0]) > 1e-12 {
		t.Errorf("Backward overwrote the shared gradient instead of adding to it")
	}
}

func TestLinearErrors(t *testing.T) {
	rng := NewRand(1)
	for _, c := range [][2]int{{0, 3}, {3, 0}, {-1, 2}} {
		if _, err := NewLinear("fc", c[0], c[1], rng); err == nil || !strings.HasPrefix(err.Error(), "engine: ") {
			t.Errorf("NewLinear(%d, %d): error %v", c[0], c[1], err)
		}
	}
	if _, err := NewLinearShared("dec", NewParam("v", 3), rng); err == nil {
		t.Errorf("NewLinearShared accepted a vector")
	}
	if _, err := NewLinearShared("dec", nil, rng); err == nil {
		t.Errorf("NewLinearShared accepted nil")
	}
	l, _ := NewLinear("fc", 3, 2, rng)
	for _, in := range [][]int{{4}, {2, 4}, {}, {1, 2, 3}, {0, 3}} {
		if _, err := l.OutShape(in); err == nil {
			t.Errorf("OutShape(%v) accepted", in)
		}
	}
	if got := l.Count([]int{5, 3}); got != (LayerCount{Uses: 5 * 3 * 2, Unshared: 5 * (3*2 + 2)}) {
		t.Errorf("Count([5 3]) = %+v", got)
	}
	if got := l.Count([]int{3}); got != (LayerCount{Uses: 6, Unshared: 8}) {
		t.Errorf("Count([3]) = %+v", got)
	}
	defer func() {
		if _, ok := recover().(ShapeError); !ok {
			t.Errorf("Forward on a wrong shape did not panic with a ShapeError")
		}
	}()
	l.Forward(NewTensor(2, 4), nil)
}
