package lab

import (
	"math"
	"testing"

	"github.com/paramshare/paramshare/engine"
	"github.com/paramshare/paramshare/engine/data"
)

// TestTiedLedgerSeparatesTheSides checks the ledger three ways after a few
// training steps: input + output = dW to 1e-12; the input side equals the
// embedding gradient, and the output side the output-layer gradient, of an
// untied twin holding the same weights in two separate matrices; and dW
// matches central finite differences of the loss in float64.
func TestTiedLedgerSeparatesTheSides(t *testing.T) {
	cfg := DefaultTiedConfig()
	cfg.Batch = 4
	r, err := NewTiedRace(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		if _, err := r.Step(); err != nil {
			t.Fatal(err)
		}
	}
	l := r.Ledger()
	if l.MaxErr > 1e-12 {
		t.Fatalf("max |input + output − dW| = %g", l.MaxErr)
	}
	v := len(r.Corpus().Words)
	if l.OutRows != v || l.InputRows < 1 || l.InputRows > cfg.Batch*TiedT {
		t.Fatalf("rows touched: input %d, output %d of %d", l.InputRows, l.OutRows, v)
	}
	// The probe batch again, on the tied model and on an untied twin.
	x, y := data.WordBatch(engine.NewRand(99), r.Corpus().Train, cfg.Batch, TiedT)
	tied := r.Model(Tied)
	if err := r.measure(x, y); err != nil {
		t.Fatal(err)
	}
	twin, err := NewWordLM(false, v, cfg.D, cfg.Seed)
	if err != nil {
		t.Fatal(err)
	}
	tp, wp := tied.Model.Params(), twin.Model.Params()
	// Params in order of first use: embed.weight, block…, out.bias (tied)
	// or out.weight, out.bias (untied).
	for i := range tp {
		copy(wp[i].Value.Data, tp[i].Value.Data)
	}
	copy(twin.Out.Weight.Value.Data, tied.Embed.Weight.Value.Data)
	copy(twin.Out.Bias.Value.Data, tied.Out.Bias.Value.Data)
	if _, err := twin.Model.ComputeGrad(x, y, nil); err != nil {
		t.Fatal(err)
	}
	for j := range l.DW.Data {
		if d := math.Abs(l.InSide.Data[j] - twin.Embed.Weight.Grad.Data[j]); d > 1e-12 {
			t.Fatalf("input side [%d] %g, twin's embedding gradient %g", j, l.InSide.Data[j], twin.Embed.Weight.Grad.Data[j])
		}
		if d := math.Abs(l.OutSide.Data[j] - twin.Out.Weight.Grad.Data[j]); d > 1e-12 {
			t.Fatalf("output side [%d] %g, twin's output gradient %g", j, l.OutSide.Data[j], twin.Out.Weight.Grad.Data[j])
		}
	}
	// Finite differences on rows of a word in the batch and of one not in it.
	w := tied.Embed.Weight
	inBatch := int(x.Data[0])
	notIn := -1
	for k := range v {
		if l.InSide.Data[k*cfg.D] == 0 && l.InSide.Data[k*cfg.D+1] == 0 {
			notIn = k
			break
		}
	}
	lossAt := func() float64 { return tied.Model.Loss.Forward(tied.Model.Forward(x, nil), y) }
	const h = 1e-5
	for _, k := range []int{inBatch, notIn} {
		for _, j := range []int{0, cfg.D - 1} {
			i := k*cfg.D + j
			old := w.Value.Data[i]
			w.Value.Data[i] = old + h
			up := lossAt()
			w.Value.Data[i] = old - h
			down := lossAt()
			w.Value.Data[i] = old
			fd := (up - down) / (2 * h)
			if math.Abs(fd-l.DW.Data[i]) > 1e-7*math.Max(1, math.Abs(fd)) {
				t.Errorf("dW[%d,%d] = %g, finite difference %g", k, j, l.DW.Data[i], fd)
			}
		}
	}
	if notIn >= 0 && l.OutSide.Data[notIn*cfg.D] == 0 {
		t.Error("a word outside the batch got no output-side gradient")
	}
}

// TestTiedParamsSaveVd checks the saving V·d and the counts lesson 13
// states: at d 8 the untied model is nearly twice the tied one (the two
// V×d matrices are most of both), at 32 and 48 the figures of its table
// and its "try it" list; at every d the untied model is more than 1.7
// times the tied one.
func TestTiedParamsSaveVd(t *testing.T) {
	v := len(data.WordCorpus().Words)
	lesson := map[int][2]int{8: {10_581, 19_453}, 32: {45_141, 80_629}, 48: {73_301, 126_533}}
	for _, d := range []int{8, 32, 48} {
		var n [2]int
		for i, tied := range []bool{true, false} {
			m, err := NewWordLM(tied, v, d, 1)
			if err != nil {
				t.Fatal(err)
			}
			n[i] = m.Model.Count().Params
		}
		t.Logf("d %d: tied %d, untied %d, saved %d, ratio %.2f", d, n[0], n[1], n[1]-n[0], float64(n[1])/float64(n[0]))
		if n[1]-n[0] != v*d {
			t.Errorf("d %d: untied %d − tied %d = %d, want V·d = %d", d, n[1], n[0], n[1]-n[0], v*d)
		}
		if r := float64(n[1]) / float64(n[0]); r < 1.7 || r > 2 {
			t.Errorf("d %d: untied/tied = %.2f, the lesson says 1.7–2", d, r)
		}
		if want := lesson[d]; n != want {
			t.Errorf("d %d: tied %d, untied %d; the lesson says %d and %d", d, n[0], n[1], want[0], want[1])
		}
	}
}

func TestTiedConfigRefusals(t *testing.T) {
	for _, c := range []TiedConfig{{D: 7, Batch: 1, LR: 1e-3}, {D: 8, Batch: 0, LR: 1e-3}, {D: 8, Batch: 1, LR: 0}} {
		if c.Validate() == nil {
			t.Errorf("%+v accepted", c)
		}
	}
}
