package lab

import "testing"

// TestMarkPareto: a model is on the front unless another has at most as
// many parameters and a mean test measure at least as good, one strictly;
// for perplexity lower is better.
func TestMarkPareto(t *testing.T) {
	mk := func(higher bool, ms ...EvalModel) *EvalResult {
		r := &EvalResult{HigherBetter: higher, Models: ms}
		r.markPareto()
		return r
	}
	m := func(name string, params int, test float64) EvalModel {
		return EvalModel{Model: name, Params: params, Test: EvalStat{Mean: test}}
	}
	r := mk(true, m("a", 100, 0.9), m("b", 1000, 0.95), m("c", 1000, 0.9), m("d", 50, 0.5), m("e", 100, 0.9))
	want := map[string]bool{"a": true, "b": true, "c": false, "d": true, "e": true} // a and e tie: neither dominates
	for _, x := range r.Models {
		if x.Pareto != want[x.Model] {
			t.Errorf("accuracy: %s pareto %v, want %v", x.Model, x.Pareto, want[x.Model])
		}
	}
	if f := r.Front(); len(f) != 4 || f[0].Model != "d" || f[len(f)-1].Model != "b" {
		t.Errorf("front %+v: want d first (fewest parameters), b last", f)
	}
	p := mk(false, m("tied", 45141, 48.6), m("untied", 80629, 45.6), m("worse", 90000, 50))
	want = map[string]bool{"tied": true, "untied": true, "worse": false}
	for _, x := range p.Models {
		if x.Pareto != want[x.Model] {
			t.Errorf("perplexity: %s pareto %v, want %v", x.Model, x.Pareto, want[x.Model])
		}
	}
}
