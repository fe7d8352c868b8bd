package code_test

import (
	"math"
	"testing"

	"github.com/paramshare/paramshare/engine"
)

// TestOneCellEveryStep is lesson 6's "In code" in our engine: the widget's
// cell (26 letters in, 3 hidden units, seed 1) on "share". One cell serves
// all five steps: 93 parameters, and each of its four tensors receives one
// gradient contribution per step, which add up to its gradient.
func TestOneCellEveryStep(t *testing.T) {
	// in-code:begin steps
	oneHot, _ := engine.NewOneHot("onehot", 26)
	cell, _ := engine.NewRNN("rnn", 26, 3, engine.NewRand(1))
	model, _ := engine.NewModel("rnn-unroll", []int{5},
		engine.NewMSE(), oneHot, cell)
	x := engine.TensorFrom([]float64{18, 7, 0, 17, 4}, 1, 5) // share
	params := []*engine.Param{
		cell.WeightIH, cell.WeightHH, cell.BiasIH, cell.BiasHH}
	rec := engine.NewRecorder(engine.RecordFilter{Params: params,
		Kinds: []engine.UseKind{engine.UseStep}})
	target := engine.NewTensor(1, 5, 3)
	if _, err := model.ComputeGrad(x, target, rec); err != nil {
		t.Fatal(err)
	}
	// 5 contributions per tensor, one per step (Index [t]);
	// their sum is the tensor's gradient
	sums := map[*engine.Param]*engine.Tensor{}
	for _, p := range params {
		sums[p] = rec.Sum(p, engine.UseStep) // = p.Grad
	}
	// in-code:end steps
	for _, p := range params {
		if n := len(rec.Uses(p, engine.UseStep)); n != 5 {
			t.Fatalf("%s: %d contributions, want 5", p.Name, n)
		}
		sum := sums[p]
		for i, g := range p.Grad.Data {
			if math.Abs(sum.Data[i]-g) > 1e-12*math.Max(1, math.Abs(g)) {
				t.Fatalf("%s entry %d: Σ steps %g, engine grad %g", p.Name, i, sum.Data[i], g)
			}
		}
	}
	if c := model.Count(); c.Params != 93 {
		t.Errorf("%d parameters, the lesson says 93", c.Params)
	}
}
