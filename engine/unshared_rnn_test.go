package engine

import (
	"slices"
	"strings"
	"testing"
)

func TestUnsharedRNNGrads(t *testing.T) {
	r, err := NewUnsharedRNN("u", 3, 4, 5, NewRand(1))
	if err != nil {
		t.Fatal(err)
	}
	for _, steps := range []int{5, 3, 1} { // the full length and shorter sequences
		checkLayerGrads(t, r, randTensor(uint64(steps), 2, steps, 3), gradCheckOpts{})
	}
}

// TestUnsharedRNNEqualsRNNWithCopies builds an unshared RNN whose every
// step holds a copy of one RNN's weights: its outputs must be the RNN's,
// and the sum over steps of its per-step gradients must be the RNN's
// gradient — the shared cell's gradient is the sum of its uses.
func TestUnsharedRNNEqualsRNNWithCopies(t *testing.T) {
	const in, hid, steps = 3, 4, 5
	shared, err := NewRNN("rnn", in, hid, NewRand(2))
	if err != nil {
		t.Fatal(err)
	}
	u, err := NewUnsharedRNN("u", in, hid, steps, NewRand(3))
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range u.Params() {
		src := shared.Params()[i].Value.Data
		for s := range steps {
			copy(p.Value.Data[s*len(src):(s+1)*len(src)], src)
		}
	}
	x := randTensor(4, 2, steps, in)
	ys, yu := shared.Forward(x, nil), u.Forward(x, nil)
	if e := relErr(ys.Data, yu.Data); e > 1e-14 {
		t.Fatalf("outputs differ, relative %.3g", e)
	}
	dy := randTensor(5, 2, steps, hid)
	zeroParams(shared.Params())
	zeroParams(u.Params())
	dxs := shared.Backward(dy, nil).Clone()
	dxu := u.Backward(dy, nil)
	if e := relErr(dxs.Data, dxu.Data); e > 1e-13 {
		t.Errorf("input gradients differ, relative %.3g", e)
	}
	for i, p := range u.Params() {
		want := shared.Params()[i].Grad.Data
		sum := make([]float64, len(want))
		for s := range steps {
			for j, v := range p.Grad.Data[s*len(want) : (s+1)*len(want)] {
				sum[j] += v
			}
		}
		if e := relErr(sum, want); e > 1e-13 {
			t.Errorf("%s: the steps' gradients sum to relative %.3g off the shared cell's", p.Local, e)
		}
	}
}

func TestUnsharedRNNShapes(t *testing.T) {
	if _, err := NewUnsharedRNN("u", 3, 4, 0, NewRand(1)); err == nil {
		t.Error("seq_len 0 accepted")
	}
	r, _ := NewUnsharedRNN("u", 3, 4, 5, NewRand(1))
	if s := r.Spec(); s.Type != "unshared_rnn" || s.Attrs["seq_len"] != 5 || s.Attrs["input_size"] != 3 || s.Attrs["hidden_size"] != 4 {
		t.Errorf("spec %+v", s)
	}
	for _, p := range []struct {
		got  []int
		want []int
	}{
		{r.WeightIH.Value.Shape, []int{5, 4, 3}}, {r.WeightHH.Value.Shape, []int{5, 4, 4}},
		{r.BiasIH.Value.Shape, []int{5, 4}}, {r.BiasHH.Value.Shape, []int{5, 4}},
	} {
		if !slices.Equal(p.got, p.want) {
			t.Errorf("param shape %v, want %v", p.got, p.want)
		}
	}
	if out, err := r.OutShape([]int{5, 3}); err != nil || !slices.Equal(out, []int{5, 4}) {
		t.Errorf("OutShape([5 3]) = %v, %v", out, err)
	}
	if _, err := r.OutShape([]int{6, 3}); err == nil || !strings.Contains(err.Error(), "weights for 5 only") {
		t.Errorf("a 6-step input: %v, want an error saying it has weights for 5 steps only", err)
	}
	// An RNN with one cell per step: 5 × (4·3 + 4·4 + 2·4) = 180 params,
	// each used once per sequence.
	if c := r.Count([]int{5, 3}); c.Uses != 5*4*(3+4) || c.Unshared != 180 {
		t.Errorf("count %+v", c)
	}
	defer func() {
		e, ok := recover().(ShapeError)
		if !ok || !strings.Contains(e.Error(), "seq_len = 5") {
			t.Errorf("a 6-step forward: %v, want a ShapeError naming seq_len", e)
		}
	}()
	r.Forward(NewTensor(2, 6, 3), nil)
}

// unsharedSeqModel is one_hot(4), unshared_rnn(4→5, seq_len), last_step,
// linear 5→4 with cross-entropy: the small rnn model with a cell per step.
func unsharedSeqModel(seqLen int) (*Model, error) {
	rng := NewRand(1)
	oh, err := NewOneHot("onehot", 4)
	if err != nil {
		return nil, err
	}
	cell, err := NewUnsharedRNN("cell", 4, 5, seqLen, rng)
	if err != nil {
		return nil, err
	}
	out, err := NewLinear("out", 5, 4, rng)
	if err != nil {
		return nil, err
	}
	return NewModel("unshared-rnn", []int{seqLen}, NewCrossEntropy(), oh, cell, NewLastStep("last"), out)
}

func TestUnsharedRNNModelTrace(t *testing.T) {
	m, err := unsharedSeqModel(6)
	if err != nil {
		t.Fatal(err)
	}
	x, target := tokenTensor(3, 4, 2, 6), classTargets(4, 4, 2)
	checkModelGrads(t, m, x, target, nil)
	raw := checkTraceRoundTrip(t, m, x, target)
	if !strings.Contains(string(raw), `"type":"unshared_rnn","attrs":{"hidden_size":5,"input_size":4,"seq_len":6}`) {
		t.Error("no unshared_rnn layer with its three attrs in the trace")
	}
	bad := strings.Replace(string(raw), `"seq_len":6`, `"steps":6`, 1)
	if _, err := ReadTrace(strings.NewReader(bad)); err == nil {
		t.Error("an unshared_rnn without seq_len read back")
	}
	if _, err := NewModel("long", []int{7}, NewCrossEntropy(), m.Layers...); err == nil {
		t.Error("a model for 7 steps accepted a 6-step unshared_rnn")
	}
}
