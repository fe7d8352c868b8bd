package engine

import (
	"math"
	"slices"
	"testing"
)

// newTestSiamese returns a siamese layer whose branch maps 4 features to 3
// through linear, layer norm, linear and tanh, with random Params. The
// branch ends in a nonlinearity: a bias added last would shift both sides
// alike and get an exactly zero gradient, which a relative check cannot
// compare.
func newTestSiamese(t *testing.T) *Siamese {
	t.Helper()
	rng := NewRand(21)
	enc1, err := NewLinear("enc1", 4, 5, rng)
	if err != nil {
		t.Fatal(err)
	}
	norm, err := NewLayerNorm("enc_norm", 5, 1e-5)
	if err != nil {
		t.Fatal(err)
	}
	enc2, err := NewLinear("enc2", 5, 3, rng)
	if err != nil {
		t.Fatal(err)
	}
	randomizeParams(norm.Params(), 22)
	s, err := NewSiamese("twin", enc1, norm, enc2, NewTanh("enc_tanh"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// branchOn runs s's branch on x (no pairs).
func branchOn(s *Siamese, x *Tensor) *Tensor {
	for _, l := range s.Sublayers() {
		x = l.Forward(x, nil).Clone()
	}
	return x
}

// side returns x[:, k] of a pair batch [B, 2, F].
func side(x *Tensor, k int) *Tensor {
	bsz, f := x.Shape[0], x.Shape[2]
	out := NewTensor(bsz, f)
	for b := range bsz {
		copy(out.Data[b*f:(b+1)*f], x.Data[(2*b+k)*f:])
	}
	return out
}

// outputKeeper is a Tap that keeps a copy of the last output of every layer
// it is shown.
type outputKeeper struct {
	nopTap
	outs map[Layer]*Tensor
}

func (k *outputKeeper) Output(l Layer, _, y *Tensor) { k.outs[l] = y.Clone() }

func TestSiameseDistance(t *testing.T) {
	s := newTestSiamese(t)
	x := randTensor(23, 3, 2, 4)
	a, b := branchOn(s, side(x, 0)), branchOn(s, side(x, 1))
	keep := &outputKeeper{outs: map[Layer]*Tensor{}}
	y := s.Forward(x, keep)
	if !slices.Equal(y.Shape, []int{3}) {
		t.Fatalf("output shape %v, want [3]", y.Shape)
	}
	for p := range 3 {
		var sum float64
		for i := range 3 {
			d := a.Data[p*3+i] - b.Data[p*3+i] + 1e-6 // torch pairwise_distance's eps
			sum += d * d
		}
		if want := math.Sqrt(sum); math.Abs(y.Data[p]-want) > 1e-14 {
			t.Errorf("pair %d: distance %.17g, want %.17g", p, y.Data[p], want)
		}
	}
	// The embeddings: the last branch layer's output, shown as one batch of
	// 2B, the first inputs of the pairs and then the second ones.
	branch := s.Sublayers()
	emb := keep.outs[branch[len(branch)-1]]
	if emb == nil || !slices.Equal(emb.Shape, []int{6, 3}) {
		t.Fatalf("embeddings %v, want shape [6 3]", emb)
	}
	if first, second := emb.Data[:9], emb.Data[9:]; relErr(first, a.Data) > 1e-15 || relErr(second, b.Data) > 1e-15 {
		t.Errorf("embeddings %v %v, want %v %v", first, second, a.Data, b.Data)
	}
}

func TestSiameseGrads(t *testing.T) {
	checkLayerGrads(t, newTestSiamese(t), randTensor(24, 3, 2, 4), gradCheckOpts{})
}

// TestSiameseBranchContributions checks that the per-side parts sum to the
// gradient, that a tap changes neither gradients nor dx, and that side 0's
// part is the gradient with side 1's embeddings held fixed.
func TestSiameseBranchContributions(t *testing.T) {
	s := newTestSiamese(t)
	x := randTensor(25, 3, 2, 4)
	tap := checkTapSums(t, s, x)
	if got, want := useCounts(tap)[UseBranch], 2*len(s.Params()); got != want {
		t.Errorf("%d branch contributions, want %d", got, want)
	}

	dy := randTensor(26, 3)
	zeroParams(s.Params())
	s.Forward(x, nil)
	dxPlain := s.Backward(dy, nil).Clone()
	var plain [][]float64
	for _, np := range s.Params() {
		plain = append(plain, slices.Clone(np.Grad.Data))
	}
	zeroParams(s.Params())
	rec := NewRecorder(RecordFilter{Kinds: []UseKind{UseBranch}})
	s.Forward(x, nil)
	dxTapped := s.Backward(dy, rec)
	if e := relErr(dxTapped.Data, dxPlain.Data); e > 1e-14 {
		t.Errorf("dx with a tap differs by relative %.3g", e)
	}
	for i, np := range s.Params() {
		if e := relErr(np.Grad.Data, plain[i]); e > 1e-14 {
			t.Errorf("%s: gradient with a tap differs by relative %.3g", np.Local, e)
		}
	}

	// Side 0 alone: L0(θ) = Σ_b dy_b ‖f_θ(x[b,0]) − e1_b + eps‖ with the
	// second embeddings e1 fixed.
	e1 := branchOn(s, side(x, 1))
	x0 := side(x, 0)
	loss0 := func() float64 {
		a := branchOn(s, x0)
		var l float64
		for b := range 3 {
			var sum float64
			for i := range 3 {
				d := a.Data[b*3+i] - e1.Data[b*3+i] + 1e-6
				sum += d * d
			}
			l += dy.Data[b] * math.Sqrt(sum)
		}
		return l
	}
	for _, np := range s.Params() {
		uses := rec.Uses(np.Param, UseBranch)
		if len(uses) != 2 || uses[0].Index[0] != 0 || uses[1].Index[0] != 1 {
			t.Fatalf("%s: %d branch contributions, want side 0 then side 1", np.Local, len(uses))
		}
		got := uses[0].Grad
		if e := relErr(got.Data, numericGrad(np.Value.Data, loss0)); e > gradTol {
			t.Errorf("%s: side 0's part relative error %.3g", np.Local, e)
		}
	}
}

// TestSiameseConvBranch runs a convolution twin on image pairs.
func TestSiameseConvBranch(t *testing.T) {
	conv, err := NewConv2d("conv", Conv2dConfig{InChannels: 1, OutChannels: 2, KernelSize: 3, Padding: 1}, NewRand(27))
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSiamese("twin", conv, NewTanh("act"), NewFlatten("flat"))
	if err != nil {
		t.Fatal(err)
	}
	if out, err := s.OutShape([]int{2, 1, 4, 4}); err != nil || len(out) != 0 {
		t.Fatalf("OutShape = %v, %v, want []", out, err)
	}
	x := randTensor(28, 2, 2, 1, 4, 4)
	checkLayerGrads(t, s, x, gradCheckOpts{})
	tap := checkTapSums(t, s, x)
	if n := useCounts(tap); n[UseBranch] != 4 || n[UsePosition] == 0 {
		t.Errorf("contributions %v, want 4 per branch and the conv's positions", n)
	}
}

func TestSiameseInModel(t *testing.T) {
	s := newTestSiamese(t)
	m, err := NewModel("pairs", []int{2, 4}, NewContrastive(1), s)
	if err != nil {
		t.Fatal(err)
	}
	x := randTensor(29, 4, 2, 4)
	target := TensorFrom([]float64{1, 0, 1, 0}, 4)
	checkModelGrads(t, m, x, target, nil)

	var branchParams, uses, unshared int
	shape := []int{4}
	for _, l := range s.Sublayers() {
		for _, np := range l.Params() {
			branchParams += np.Size()
		}
		if ct, ok := l.(Counter); ok {
			c := ct.Count(shape)
			uses, unshared = uses+c.Uses, unshared+c.Unshared
		}
		shape, _ = l.OutShape(shape)
	}
	c := m.Count()
	if c.Params != branchParams || c.Uses != 2*uses || c.Unshared != 2*unshared {
		t.Errorf("count %+v, want params %d, uses %d, unshared %d", c, branchParams, 2*uses, 2*unshared)
	}
	var locals []string
	for _, np := range s.Params() {
		locals = append(locals, np.Local)
	}
	if want := []string{"enc1.weight", "enc1.bias", "enc_norm.weight", "enc_norm.bias", "enc2.weight", "enc2.bias"}; !slices.Equal(locals, want) {
		t.Errorf("params %v, want %v", locals, want)
	}
	if sp := s.Spec(); sp.Type != "siamese" || sp.Attrs["distance"] != "l2" || len(sp.Attrs) != 1 {
		t.Errorf("spec %+v", sp)
	}
}

func TestSiameseInvalid(t *testing.T) {
	if _, err := NewSiamese("twin"); err == nil {
		t.Error("empty branch accepted")
	}
	if _, err := NewSiamese("twin", nil); err == nil {
		t.Error("nil branch layer accepted")
	}
	s := newTestSiamese(t)
	for _, in := range [][]int{{4}, {3, 4}, {2, 5}, {2}} {
		if _, err := s.OutShape(in); err == nil {
			t.Errorf("OutShape %v accepted", in)
		}
	}
	lin, _ := NewLinear("twin", 4, 2, NewRand(1))
	named, _ := NewSiamese("twin", lin)
	if _, err := NewModel("m", []int{2, 4}, NewContrastive(1), named); err == nil {
		t.Error("a branch layer named as the siamese layer accepted")
	}
	expectShapePanic(t, "forward on [3 3 4]", func() { s.Forward(NewTensor(3, 3, 4), nil) })
}

func TestSiameseNoAllocs(t *testing.T) {
	s := newTestSiamese(t)
	x, dy := randTensor(30, 3, 2, 4), randTensor(31, 3)
	s.Forward(x, nil)
	s.Backward(dy, nil)
	if allocs := testing.AllocsPerRun(10, func() { s.Forward(x, nil); s.Backward(dy, nil) }); allocs != 0 {
		t.Errorf("%v allocations per step without a tap, want 0", allocs)
	}
}
