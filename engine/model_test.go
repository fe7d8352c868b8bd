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
	checkModelGrads(t, m, x, y, nil)

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
	checkModelGrads(t, cnn, randTensor(2, 2, 1, 4, 4), TensorFrom([]float64{0, 2}, 2), nil)
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
	tap := &outputCounter{Recorder: NewRecorder(RecordFilter{})}
	if _, err := m.ComputeGrad(randTensor(3, 2, 1, 4, 4), TensorFrom([]float64{0, 1}, 2), tap); err != nil {
		t.Fatal(err)
	}
	if got := useCounts(tap.Recorder)[UsePosition]; got != 2*16 {
		t.Fatalf("%d per-position contributions, want 32 (16 positions × weight and bias)", got)
	}
	if tap.outputs != 3 {
		t.Errorf("%d layer outputs shown, want 3", tap.outputs)
	}
	if e := relErr(tap.Sum(conv.Weight, UsePosition).Data, conv.Weight.Grad.Data); e > 1e-12 {
		t.Errorf("per-position contributions sum off by %.3g", e)
	}
}

// outputCounter is a Recorder that also counts the layer outputs it is
// shown: a Tap of one's own built around a Recorder.
type outputCounter struct {
	*Recorder
	outputs int
}

func (o *outputCounter) Output(Layer, *Tensor, *Tensor) { o.outputs++ }

// nanGradLayer is the identity whose parameter gets a NaN gradient: a loss
// that stays finite while a gradient does not.
type nanGradLayer struct{ p *Param }

func (l *nanGradLayer) Spec() Spec                       { return Spec{Name: "nan", Type: "test"} }
func (l *nanGradLayer) Params() []NamedParam             { return []NamedParam{{Local: "w", Param: l.p}} }
func (l *nanGradLayer) OutShape(in []int) ([]int, error) { return in, nil }
func (l *nanGradLayer) Forward(x *Tensor, _ Tap) *Tensor { return x }
func (l *nanGradLayer) Backward(dy *Tensor, _ Tap) *Tensor {
	l.p.Grad.Data[0] += math.NaN()
	return dy
}

func TestComputeGradDivergedGradient(t *testing.T) {
	m, err := NewModel("nan-grad", []int{2}, NewMSE(), &nanGradLayer{p: NewParam("nan.w", 1)})
	if err != nil {
		t.Fatal(err)
	}
	loss, err := m.ComputeGrad(TensorFrom([]float64{1, 2}, 1, 2), NewTensor(1, 2), nil)
	if err != ErrDiverged || math.IsNaN(loss) {
		t.Fatalf("loss %v, err %v: want a finite loss and ErrDiverged", loss, err)
	}
}

// The attention model's output layer holds the embedding's weight (tying):
// each holder's part of the gradient is reported per layer (UseLayer), and
// the per-token parts of both holders (UseToken) sum to the same gradient.
func TestTiedWeightTaps(t *testing.T) {
	m, err := BuildModel("attention", 1)
	if err != nil {
		t.Fatal(err)
	}
	embed := m.Params()[0]
	if holders := m.Holders(embed); len(holders) != 2 {
		t.Fatalf("%s is held by layers %v, want the embedding and the output layer", embed.Name, holders)
	}
	steps := m.In[0]
	x, y := NewTensor(2, steps), NewTensor(2, steps)
	rng := NewRand(4)
	for i := range x.Data {
		x.Data[i] = float64(rng.IntN(8))
		y.Data[i] = float64(rng.IntN(8))
	}
	tap := NewRecorder(RecordFilter{})
	if _, err := m.ComputeGrad(x, y, tap); err != nil {
		t.Fatal(err)
	}
	for _, kind := range []UseKind{UseLayer, UseToken} {
		s := tap.Sum(embed, kind)
		if s == nil {
			t.Errorf("%s: no %s contributions", embed.Name, kind)
			continue
		}
		if e := relErr(s.Data, embed.Grad.Data); e > 1e-12 {
			t.Errorf("%s: %s contributions sum off by relative %.3g", embed.Name, kind, e)
		}
	}
	if got := useCounts(tap)[UseLayer]; got < 2 {
		t.Errorf("%d per-layer contributions, want one per holder at least", got)
	}
}

func TestInitBounds(t *testing.T) {
	rng := NewRand(9)
	for _, tc := range []struct {
		name  string
		init  func(*Tensor)
		bound float64
	}{
		{"xavier", func(w *Tensor) { InitXavier(w, 30, 20, rng) }, math.Sqrt(6.0 / 50)},
		{"he", func(w *Tensor) { InitHe(w, 30, rng) }, math.Sqrt(6.0 / 30)},
		{"torch", func(w *Tensor) { InitTorchDefault(w, 30, rng) }, 1 / math.Sqrt(30)},
	} {
		w := NewTensor(200, 100)
		tc.init(w)
		var sum, sq, most float64
		for _, v := range w.Data {
			sum += v
			sq += v * v
			most = max(most, math.Abs(v))
		}
		n := float64(w.Size())
		mean, variance := sum/n, sq/n
		// U(-a, a) has mean 0 and variance a²/3; 20,000 samples pin both
		// to about 1 %.
		if most > tc.bound || most < 0.99*tc.bound {
			t.Errorf("%s: largest |w| %.4f, bound %.4f", tc.name, most, tc.bound)
		}
		if want := tc.bound * tc.bound / 3; math.Abs(variance-want) > 0.03*want || math.Abs(mean) > 0.02*tc.bound {
			t.Errorf("%s: mean %.4f variance %.5f, want 0 and %.5f", tc.name, mean, variance, want)
		}
	}
}
