package engine

import (
	"math"
	"slices"
	"testing"
)

func newTestHeads(t *testing.T) *MultitaskHeads {
	t.Helper()
	m, err := NewMultitaskHeads("heads", 4, []int{3, 2}, NewRand(1))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestMultitaskHeadsGrads(t *testing.T) {
	checkLayerGrads(t, newTestHeads(t), randTensor(2, 5, 4), gradCheckOpts{})
}

// TestMultitaskHeadsAreLinears checks the formula: each slice of the output
// is that head's own linear layer on the same features.
func TestMultitaskHeadsAreLinears(t *testing.T) {
	m := newTestHeads(t)
	x := randTensor(3, 2, 4)
	y := m.Forward(x, nil)
	if !slices.Equal(y.Shape, []int{2, 5}) {
		t.Fatalf("output shape %v, want [2 5]", y.Shape)
	}
	off := 0
	for h, n := range m.Heads() {
		lin := &Linear{name: "ref", in: 4, out: n, Weight: m.Weights[h], Bias: m.Biases[h]}
		ref := lin.Forward(x, nil)
		for b := range 2 {
			for o := range n {
				if got, want := y.Data[b*5+off+o], ref.Data[b*n+o]; math.Abs(got-want) > 1e-15 {
					t.Errorf("head %d, example %d, output %d: %v, want %v", h, b, o, got, want)
				}
			}
		}
		off += n
	}
}

func TestMultitaskHeadsSpecParamsCount(t *testing.T) {
	m := newTestHeads(t)
	s := m.Spec()
	if s.Type != "multitask_heads" || s.Attrs["in_features"] != 4 || !slices.Equal(s.Attrs["heads"].([]int), []int{3, 2}) {
		t.Errorf("spec %+v", s)
	}
	var names []string
	for _, p := range m.Params() {
		names = append(names, p.Local)
	}
	if want := []string{"head0.weight", "head0.bias", "head1.weight", "head1.bias"}; !slices.Equal(names, want) {
		t.Errorf("params %v, want %v", names, want)
	}
	if c := m.Count([]int{4}); c.Uses != 20 || c.Unshared != 25 {
		t.Errorf("count %+v, want uses 20, unshared 25", c)
	}
	if _, err := m.OutShape([]int{5}); err == nil {
		t.Error("OutShape accepted 5 features for a 4-feature layer")
	}
	for _, bad := range [][]int{nil, {3, 0}} {
		if _, err := NewMultitaskHeads("h", 4, bad, NewRand(1)); err == nil {
			t.Errorf("heads %v accepted", bad)
		}
	}
	if _, err := NewMultitaskHeads("h", 0, []int{2}, NewRand(1)); err == nil {
		t.Error("in_features 0 accepted")
	}
	expectShapePanic(t, "multitask_heads forward", func() { m.Forward(randTensor(1, 2, 5), nil) })
}

func TestMultitaskCrossEntropy(t *testing.T) {
	loss, err := NewMultitaskCrossEntropy([]int{3, 2})
	if err != nil {
		t.Fatal(err)
	}
	y := randTensor(4, 4, 5)
	target := TensorFrom([]float64{0, 1, 2, 0, 1, 1, 2, 0}, 4, 2)
	checkLossGrad(t, loss, y, target)

	// The value is the sum of each head's own cross-entropy.
	var want float64
	for h, cols := range [][2]int{{0, 3}, {3, 5}} {
		n := cols[1] - cols[0]
		lg, tg := NewTensor(4, n), NewTensor(4)
		for b := range 4 {
			copy(lg.Data[b*n:(b+1)*n], y.Data[b*5+cols[0]:b*5+cols[1]])
			tg.Data[b] = target.Data[b*2+h]
		}
		want += NewCrossEntropy().Forward(lg, tg)
	}
	if got := loss.Forward(y, target); math.Abs(got-want) > 1e-14 {
		t.Errorf("loss %v, want the sum of the heads' cross-entropies %v", got, want)
	}
	if s := loss.Spec(); s.Type != "multitask_cross_entropy" || !slices.Equal(s.Attrs["splits"].([]int), []int{3, 2}) {
		t.Errorf("spec %+v", s)
	}
	acc := loss.HeadAccuracy(y, target)
	if len(acc) != 2 || acc[0] < 0 || acc[0] > 1 || acc[1] < 0 || acc[1] > 1 {
		t.Errorf("head accuracy %v", acc)
	}
	expectShapePanic(t, "multitask target", func() { loss.Forward(y, NewTensor(4, 3)) })
	for _, bad := range [][]int{nil, {2, 0}} {
		if _, err := NewMultitaskCrossEntropy(bad); err == nil {
			t.Errorf("splits %v accepted", bad)
		}
	}
}
