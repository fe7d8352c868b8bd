package charmodel

import (
	"encoding/json"
	"math"
	"slices"
	"strings"
	"testing"

	"gonum.org/v1/gonum/diff/fd"

	"github.com/paramshare/paramshare/engine"
	"github.com/paramshare/paramshare/run"
)

// defaults returns the spec's default values with changes over them.
func defaults(t testing.TB, change map[string]any) run.Values {
	t.Helper()
	v := run.Defaults(fields)
	for k, x := range change {
		v = v.With(k, x)
	}
	return v
}

// trained returns the experiment for v after k steps.
func trained(t testing.TB, v run.Values, k int) *charModel {
	t.Helper()
	c, err := newCharModel(v)
	if err != nil {
		t.Fatal(err)
	}
	for c.Pos() < k {
		if err := c.Advance(); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

// clone returns a new engine model for c's parameters holding the
// weights of from.
func clone(t *testing.T, c *charModel, from *engine.Model) *engine.Model {
	t.Helper()
	m, err := engine.NewSeqModel("check", engine.SeqConfig{Cell: c.p.Cell, Vocab: len(vocab), Hidden: c.p.Hidden, T: c.p.SeqLen, EveryStep: true}, 99)
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range from.Params() {
		copy(m.Params()[i].Value.Data, p.Value.Data)
	}
	return m
}

// TestCorpusSplit: the held-out text is not trained on, the reach's
// context is held out, and every character is in the vocabulary.
func TestCorpusSplit(t *testing.T) {
	if trainText+heldText != corpus || len(heldText) < 500 || !strings.HasPrefix(corpus, trainText) {
		t.Fatalf("split: %d + %d characters of %d", len(trainText), len(heldText), len(corpus))
	}
	if len(reachIn) != reachLen+1 {
		t.Fatalf("the reach reads %d characters", len(reachIn))
	}
	st := staticPart{}
	c := trained(t, defaults(t, nil), 0)
	st = c.static()
	if st.Next != "s" || !strings.HasSuffix(st.Context, "the optimizer use") || !strings.Contains(heldText, st.Context+st.Next) {
		t.Fatalf("reach context %q → %q", st.Context, st.Next)
	}
	if math.Abs(st.Uniform-math.Log(58)) > 1e-12 || st.Vocab != 58 {
		t.Errorf("vocabulary %d, uniform loss %v", st.Vocab, st.Uniform)
	}
}

// independentSample draws the sample again with its own arithmetic: the
// engine's forward of a model holding the same weights, softmax(z/τ)
// computed here, the same random stream.
func independentSample(t *testing.T, c *charModel, weights *engine.Model, tau float64, step int) string {
	m := clone(t, c, weights)
	rng := sampleRand(c.p.Seed, step)
	seq := ids(prompt)
	var out []rune
	for range sampleLen {
		ctx := seq[max(0, len(seq)-c.p.SeqLen):]
		x := engine.NewTensor(1, len(ctx))
		for i, k := range ctx {
			x.Data[i] = float64(k)
		}
		y := m.Forward(x, nil)
		z := y.Data[(len(ctx)-1)*len(vocab) : len(ctx)*len(vocab)]
		top := slices.Max(z)
		p := make([]float64, len(z))
		var sum float64
		for i, v := range z {
			p[i] = math.Exp((v - top) / tau)
			sum += p[i]
		}
		u := rng.Float64()
		k, acc := len(p)-1, 0.0
		for i := range p {
			acc += p[i] / sum
			if u < acc {
				k = i
				break
			}
		}
		seq = append(seq, k)
		out = append(out, vocab[k])
	}
	return string(out)
}

// TestSampleMatchesEngine: the sample is softmax(logits/τ) of the
// engine's forward with the step's random stream; a new temperature
// re-draws it from the same weights without moving the step, and a step
// between two sample steps keeps the last sample.
func TestSampleMatchesEngine(t *testing.T) {
	for _, cell := range Cells() {
		t.Run(cell, func(t *testing.T) {
			c := trained(t, defaults(t, map[string]any{"cell": cell, "hidden": 24, "seqLen": 12}), sampleEvery)
			s := c.currentSample()
			if s.Step != sampleEvery || s.Temperature != 0.8 || s.Prompt != prompt || len([]rune(s.Text)) != sampleLen {
				t.Fatalf("sample %+v", s)
			}
			if want := independentSample(t, c, c.model, 0.8, sampleEvery); s.Text != want {
				t.Fatalf("sample at τ 0.8:\n%q\nindependent:\n%q", s.Text, want)
			}
			if err := c.SetParams(c.v.With("temperature", 1.7)); err != nil {
				t.Fatal(err)
			}
			if c.Pos() != sampleEvery {
				t.Fatalf("a new temperature moved the run to step %d", c.Pos())
			}
			hot := c.currentSample()
			if want := independentSample(t, c, c.model, 1.7, sampleEvery); hot.Text != want || hot.Text == s.Text {
				t.Fatalf("sample at τ 1.7:\n%q\nindependent:\n%q\nat 0.8:\n%q", hot.Text, want, s.Text)
			}
			snapshot := clone(t, c, c.model)
			if err := c.Advance(); err != nil {
				t.Fatal(err)
			}
			if later := c.currentSample(); later.Step != sampleEvery || later.Text != hot.Text {
				t.Fatalf("step %d shows the sample of step %d: %q", c.Pos(), later.Step, later.Text)
			}
			// A new temperature after the sample step re-draws from the
			// snapshot of that step, not from the current weights.
			if err := c.SetParams(c.v.With("temperature", 0.3)); err != nil {
				t.Fatal(err)
			}
			if want := independentSample(t, c, snapshot, 0.3, sampleEvery); c.currentSample().Text != want {
				t.Fatalf("τ 0.3 after the sample step: %q, want %q", c.currentSample().Text, want)
			}
		})
	}
}

// directReach runs the reach's prediction through the engine's layers one
// by one (one-hot, the cell, the output layer), with the gradient of the
// last prediction's loss computed here, and returns the loss, the cell's
// recorded backward pass and its W_hh.
func directReach(t *testing.T, c *charModel) (float64, *engine.Recorder, engine.Layer, *engine.Param, *engine.Model) {
	m := clone(t, c, c.model)
	whh := weightHH(m)
	rec := engine.NewRecorder(engine.RecordFilter{Params: []*engine.Param{whh}, Kinds: []engine.UseKind{engine.UseStep}, Internals: []string{engine.InternalHiddenGrad}})
	n, V := len(reachIn), len(vocab)
	x := engine.NewTensor(1, n)
	for i, k := range reachIn {
		x.Data[i] = float64(k)
	}
	oh, cell, out := m.Layers[0], m.Layers[1], m.Layers[2]
	h := cell.Forward(oh.Forward(x, nil), rec)
	z := out.Forward(h, nil).Data[(n-1)*V:]
	top := slices.Max(z)
	var sum float64
	for _, v := range z {
		sum += math.Exp(v - top)
	}
	loss := top + math.Log(sum) - z[reachNext]
	dy := engine.NewTensor(1, n, V)
	for j, v := range z {
		dy.Data[(n-1)*V+j] = math.Exp(v-top) / sum
	}
	dy.Data[(n-1)*V+reachNext]--
	m.ZeroGrad()
	cell.Backward(out.Backward(dy, nil), rec)
	return loss, rec, cell, whh, m
}

// TestReachMatchesEngine: the reach's numbers are those of a direct
// engine backward of the one prediction's loss; its pieces add up to the
// engine's dW_hh (1e-12); and that dW_hh is the loss's gradient by finite
// differences.
func TestReachMatchesEngine(t *testing.T) {
	for _, cell := range Cells() {
		t.Run(cell, func(t *testing.T) {
			c := trained(t, defaults(t, map[string]any{"cell": cell, "hidden": 16, "seqLen": 16}), 30)
			r := c.currentReach()
			loss, rec, layer, whh, m := directReach(t, c)
			if math.Abs(r.Loss-loss) > 1e-12 || math.Abs(r.P-math.Exp(-loss)) > 1e-12 {
				t.Fatalf("loss %v p %v; direct %v", r.Loss, r.P, loss)
			}
			pieces := rec.Norms(whh, engine.UseStep)
			hgrad := rec.ValueNorms(layer, engine.InternalHiddenGrad)
			if len(r.Pieces) != reachLen || len(r.HGrad) != reachLen || pieces[0] != 0 {
				t.Fatalf("%d pieces, %d ‖∂L/∂h_t‖; step 0's piece %v", len(r.Pieces), len(r.HGrad), pieces[0])
			}
			for i := range reachLen {
				if math.Abs(r.Pieces[i]-pieces[i+1]) > 1e-12*(1+pieces[i+1]) || math.Abs(r.HGrad[i]-hgrad[i+1]) > 1e-12*(1+hgrad[i+1]) {
					t.Fatalf("step %d: piece %v ‖∂L/∂h‖ %v; direct %v %v", i+1, r.Pieces[i], r.HGrad[i], pieces[i+1], hgrad[i+1])
				}
			}
			// Σ of the pieces (the experiment's probe, whose Grad holds
			// its pass) against the engine's dW_hh of the direct pass.
			sum := make([]float64, whh.Size())
			for _, u := range rec.Uses(whh, engine.UseStep) {
				for i, g := range u.Grad.Data {
					sum[i] += g
				}
			}
			probe := weightHH(c.probe).Grad.Data
			for i, g := range whh.Grad.Data {
				if math.Abs(sum[i]-g) > 1e-12 || math.Abs(probe[i]-g) > 1e-12 {
					t.Fatalf("dW_hh[%d]: Σ pieces %v, probe %v, engine %v", i, sum[i], probe[i], g)
				}
			}
			if math.Abs(r.Sum-r.WHH) > 1e-12 || math.Abs(r.WHH-norm(whh.Grad.Data)) > 1e-12 {
				t.Fatalf("‖Σ‖ %v ‖dW_hh‖ %v direct %v", r.Sum, r.WHH, norm(whh.Grad.Data))
			}
			// The single prediction's dW_hh by central differences on a
			// few entries.
			x := engine.NewTensor(1, len(reachIn))
			for i, k := range reachIn {
				x.Data[i] = float64(k)
			}
			lossAt := func() float64 {
				y := m.Forward(x, nil)
				n, V := len(reachIn), len(vocab)
				z := y.Data[(n-1)*V:]
				top := slices.Max(z)
				var s float64
				for _, v := range z {
					s += math.Exp(v - top)
				}
				return top + math.Log(s) - z[reachNext]
			}
			for _, i := range []int{0, 7, whh.Size() / 2, whh.Size() - 1} {
				w := whh.Value.Data
				orig := w[i]
				num := fd.Derivative(func(v float64) float64 { w[i] = v; return lossAt() }, orig, &fd.Settings{Formula: fd.Central, Step: 1e-6})
				w[i] = orig
				if math.Abs(num-whh.Grad.Data[i]) > 1e-6*(1+math.Abs(num)) {
					t.Errorf("dW_hh[%d]: engine %v, finite differences %v", i, whh.Grad.Data[i], num)
				}
			}
			if r.Far < 1 || r.Far > reachLen || len(r.Top) != 5 || r.Top[0].P < r.Top[4].P {
				t.Fatalf("far %d, top %+v", r.Far, r.Top)
			}
		})
	}
}

// TestTemperatureKeepsTraining: a new temperature keeps the step and the
// loss curve; any other change starts again from step 0.
func TestTemperatureKeepsTraining(t *testing.T) {
	c := trained(t, defaults(t, map[string]any{"hidden": 16}), 7)
	before := slices.Clone(c.train)
	if err := c.SetParams(c.v.With("temperature", 2.0)); err != nil {
		t.Fatal(err)
	}
	if c.Pos() != 7 || !slices.Equal(c.train, before) {
		t.Fatalf("temperature: at %d", c.Pos())
	}
	if err := c.SetParams(c.v.With("cell", "rnn")); err != nil {
		t.Fatal(err)
	}
	if c.Pos() != 0 || len(c.train) != 0 {
		t.Fatalf("cell: at %d", c.Pos())
	}
}

// TestFrameJSON: a live frame encodes within its budget; the JSON export
// carries the same numbers at full precision.
func TestFrameJSON(t *testing.T) {
	c := trained(t, defaults(t, nil), 25)
	d := c.data(0)
	if d.Last != c.train[24] || d.Sample.Step != 20 || len(d.Train) != 25 || !slices.Equal(d.HeldSteps, []int{0, 20}) {
		t.Fatalf("data: last %v, sample of %d, %d losses, held at %v", d.Last, d.Sample.Step, len(d.Train), d.HeldSteps)
	}
	b, err := json.Marshal(c.Frame().Data)
	if err != nil || len(b) > 10<<10 {
		t.Fatalf("frame %d B: %v", len(b), err)
	}
}
