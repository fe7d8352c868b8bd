package engine

import (
	"math"
	"slices"
	"testing"
)

// TestRecorderSumsEveryKind runs every model with a Recorder and checks, for
// every Param and every kind of use recorded for it, that the recorded
// contributions sum to the Param's gradient within 1e-12 — and that between
// them the models report every kind of use the engine knows.
func TestRecorderSumsEveryKind(t *testing.T) {
	want := map[string][]UseKind{
		"cnn":             {UsePosition},
		"rnn":             {UseStep},
		"lstm-every-step": {UseStep, UseToken},
		"attention":       {UseToken, UseLayer},
		"albert":          {UseToken, UseLayer},
		"siamese":         {UseBranch, UsePosition},
	}
	seen := map[UseKind]bool{}
	for _, sm := range smallModels() {
		t.Run(sm.name, func(t *testing.T) {
			m, err := sm.build()
			if err != nil {
				t.Fatal(err)
			}
			rec := NewRecorder(RecordFilter{})
			if _, err := m.ComputeGrad(sm.x, sm.target, rec); err != nil {
				t.Fatal(err)
			}
			kinds := map[UseKind]bool{}
			for _, p := range m.Params() {
				for _, kind := range rec.Kinds(p) {
					kinds[kind], seen[kind] = true, true
					checkSum(t, p.Name+" ("+string(kind)+")", rec.Sum(p, kind).Data, p.Grad.Data)
				}
			}
			for _, kind := range want[sm.name] {
				if !kinds[kind] {
					t.Errorf("no %s contributions recorded", kind)
				}
			}
		})
	}
	for _, kind := range []UseKind{UsePosition, UseStep, UseToken, UseBranch, UseLayer} {
		if !seen[kind] {
			t.Errorf("no model reported a %s contribution", kind)
		}
	}
}

// checkSum fails unless sum equals grad within 1e-12, relative to the
// gradient's norm, or absolutely when the gradient is zero by construction
// (a key bias): there the contributions cancel and only round-off is left.
func checkSum(t *testing.T, what string, sum, grad []float64) {
	t.Helper()
	var d, g float64
	for i := range grad {
		d += (sum[i] - grad[i]) * (sum[i] - grad[i])
		g += grad[i] * grad[i]
	}
	if math.Sqrt(d) > 1e-12*max(math.Sqrt(g), 1) || math.IsNaN(d) {
		t.Errorf("%s: contributions sum off by %.3g (gradient norm %.3g)", what, math.Sqrt(d), math.Sqrt(g))
	}
}

// TestRecorderFilters checks that a Recorder keeps only what its filter
// lets through, and that the per-position ledger of one kernel is enough to
// rebuild its gradient.
func TestRecorderFilters(t *testing.T) {
	sm := smallModelNamed(t, "cnn")
	m, err := sm.build()
	if err != nil {
		t.Fatal(err)
	}
	conv := m.Layers[0].(*Conv2d)
	kernel := NewRecorder(RecordFilter{Params: []*Param{conv.Weight}, Kinds: []UseKind{UsePosition}})
	if _, err := m.ComputeGrad(sm.x, sm.target, kernel); err != nil {
		t.Fatal(err)
	}
	uses := kernel.Uses(conv.Weight, UsePosition)
	if len(uses) != 8*8 || len(kernel.Contributions()) != 8*8 {
		t.Fatalf("%d kernel uses in %d contributions, want the 64 positions of the 8×8 map only", len(uses), len(kernel.Contributions()))
	}
	for i, c := range uses {
		if !slices.Equal(c.Index, []int{i / 8, i % 8}) || c.Layer != conv.Spec().Name || c.Local != "weight" {
			t.Fatalf("use %d: position %v of layer %q local %q", i, c.Index, c.Layer, c.Local)
		}
	}
	checkSum(t, "one kernel's positions", kernel.Sum(conv.Weight, UsePosition).Data, conv.Weight.Grad.Data)
	if kernel.Sum(conv.Bias, UsePosition) != nil || kernel.Internals() != nil {
		t.Error("the bias or an internal was recorded though the filter leaves them out")
	}
	norms := kernel.Norms(conv.Weight, UsePosition)
	if len(norms) != len(uses) || math.Abs(norms[9]-norm(uses[9].Grad.Data)) != 0 {
		t.Errorf("norms %v do not follow the uses", norms)
	}

	// By holder: the tied embedding's part from the output layer only.
	tied := smallModelNamed(t, "attention")
	tm, err := tied.build()
	if err != nil {
		t.Fatal(err)
	}
	embed := tm.Params()[0]
	out := tm.Layers[len(tm.Layers)-1].Spec().Name
	byLayer := NewRecorder(RecordFilter{Layers: []string{out}, Kinds: []UseKind{UseLayer}})
	if _, err := tm.ComputeGrad(tied.x, tied.target, byLayer); err != nil {
		t.Fatal(err)
	}
	if n := len(byLayer.Contributions()); n != 1 {
		t.Fatalf("%d contributions recorded, want the output layer's one part of %s", n, embed.Name)
	}
	c := byLayer.Contributions()[0]
	if c.Param != embed || c.Layer != out || !slices.Equal(c.Index, []int{len(tm.Layers) - 1}) {
		t.Errorf("recorded %s from %q at %v", c.Param.Name, c.Layer, c.Index)
	}

	byLayer.Reset()
	if byLayer.Contributions() != nil || byLayer.Kinds(embed) != nil {
		t.Error("Reset left contributions behind")
	}
}

// TestRecorderCopies checks that what a Recorder keeps is its own: the
// layers reuse one buffer for every position, and the next pass overwrites
// them.
func TestRecorderCopies(t *testing.T) {
	l, _ := NewConv2d("conv", Conv2dConfig{InChannels: 1, OutChannels: 1, KernelSize: 2}, NewRand(1))
	x := TensorFrom([]float64{1, 2, 3, 4, 5, 6, 7, 8, 9}, 1, 1, 3, 3)
	rec := NewRecorder(RecordFilter{Params: []*Param{l.Weight}})
	l.Forward(x, nil)
	l.Backward(TensorFrom([]float64{1, 0, 0, 0}, 1, 1, 2, 2), rec)
	first := rec.Uses(l.Weight, UsePosition)
	l.Backward(TensorFrom([]float64{0, 0, 0, 3}, 1, 1, 2, 2), nil)
	if !slices.Equal(first[0].Grad.Data, []float64{1, 2, 4, 5}) || !slices.Equal(first[3].Grad.Data, []float64{0, 0, 0, 0}) {
		t.Errorf("recorded positions (0,0) %v and (1,1) %v, want [1 2 4 5] and zeros", first[0].Grad.Data, first[3].Grad.Data)
	}
}

// attentionByHand returns head h's attention map for example b,
// softmax(Q_h K_hᵀ / √dh + mask), computed with plain loops from the
// layer's Params.
func attentionByHand(a *SelfAttention, x *Tensor, b, h int) []float64 {
	steps, d, dh := x.Shape[1], a.dModel, a.headDim
	proj := func(p projection, t, c int) float64 {
		v := p.bias.Value.Data[c]
		for i := range d {
			v += p.weight.Value.Data[c*d+i] * x.Data[(b*steps+t)*d+i]
		}
		return v
	}
	out := make([]float64, steps*steps)
	for i := range steps {
		row := out[i*steps : (i+1)*steps]
		var sum float64
		for j := range steps {
			if a.causal && j > i {
				continue
			}
			var s float64
			for c := h * dh; c < (h+1)*dh; c++ {
				s += proj(a.q, i, c) * proj(a.k, j, c)
			}
			row[j] = math.Exp(s / math.Sqrt(float64(dh)))
			sum += row[j]
		}
		for j := range row {
			row[j] /= sum
		}
	}
	return out
}

// TestObserverAttentionWeights checks that an Observer is shown each head's
// attention map, [B, T, T], equal to softmax(QKᵀ/√d) computed directly, with
// the attention as the layer — or the transformer block holding it.
func TestObserverAttentionWeights(t *testing.T) {
	const bsz, steps = 2, 4
	for _, causal := range []bool{false, true} {
		a := newTestAttention(t, causal)
		x := randTensor(31, bsz, steps, 8)
		rec := NewRecorder(RecordFilter{Internals: []string{InternalAttention}})
		a.Forward(x, rec)
		maps := rec.Values(a, InternalAttention)
		if len(maps) != 2 || len(rec.Internals()) != 2 {
			t.Fatalf("causal %v: %d maps shown, want one per head (2)", causal, len(maps))
		}
		for h, v := range maps {
			if v.Index != h || v.Name != InternalAttention || v.Layer != Layer(a) || !slices.Equal(v.Value.Shape, []int{bsz, steps, steps}) {
				t.Fatalf("causal %v: map %d is %q index %d shape %v", causal, h, v.Name, v.Index, v.Value.Shape)
			}
			for b := range bsz {
				got := v.Value.Data[b*steps*steps:][:steps*steps]
				if e := relErr(got, attentionByHand(a, x, b, h)); e > 1e-12 {
					t.Errorf("causal %v: head %d example %d map off by relative %.3g", causal, h, b, e)
				}
			}
		}
	}

	// In a model of two blocks sharing their Params, each block shows its
	// own maps, as that block.
	first := newTestBlock(t, "block1", true)
	second := NewTransformerBlockShared("block2", first)
	m, err := NewModel("albert", []int{4, 8}, NewMSE(), first, second)
	if err != nil {
		t.Fatal(err)
	}
	rec := NewRecorder(RecordFilter{Internals: []string{InternalAttention}, Layers: []string{"block2"}})
	m.Forward(randTensor(32, 3, 4, 8), rec)
	maps := rec.Values(nil, InternalAttention)
	if len(maps) != 2 {
		t.Fatalf("%d maps of block2 shown, want 2 heads", len(maps))
	}
	in := second.attn.x // LN1 of block1's output: block2's attention input
	for h, v := range maps {
		if v.Layer != Layer(second) {
			t.Errorf("head %d shown as layer %q, want block2", h, v.Layer.Spec().Name)
		}
		for b := range 3 {
			if e := relErr(v.Value.Data[b*16:][:16], attentionByHand(second.attn, in, b, h)); e > 1e-12 {
				t.Errorf("block2 head %d example %d: shown map off by relative %.3g", h, b, e)
			}
		}
	}
}

// TestObserverHiddenStates checks that each h_t shown to an Observer is
// step t of Forward's output, and each LSTM c_t the cell state kept.
func TestObserverHiddenStates(t *testing.T) {
	for _, l := range newTestRecurrents(t) {
		rec := NewRecorder(RecordFilter{Internals: []string{InternalHidden, InternalCell}})
		y := l.Forward(randTensor(33, seqB, seqT, seqI), rec)
		states := map[string]*Tensor{InternalHidden: y}
		if lstm, ok := l.(*LSTM); ok {
			states[InternalCell] = lstm.cell
		}
		if got, want := len(rec.Internals()), seqT*len(states); got != want {
			t.Errorf("%s: %d internals shown, want %d", l.Spec().Type, got, want)
		}
		for name, all := range states {
			vals := rec.Values(l, name)
			if len(vals) != seqT {
				t.Fatalf("%s: %d %q values, want %d", l.Spec().Type, len(vals), name, seqT)
			}
			for ts, v := range vals {
				if v.Index != ts || !slices.Equal(v.Value.Shape, []int{seqB, seqH}) {
					t.Fatalf("%s: %q value %d has index %d, shape %v", l.Spec().Type, name, ts, v.Index, v.Value.Shape)
				}
				for b := range seqB {
					if !slices.Equal(v.Value.Data[b*seqH:][:seqH], all.Data[(b*seqT+ts)*seqH:][:seqH]) {
						t.Errorf("%s: %q at step %d, example %d differs from Forward's", l.Spec().Type, name, ts, b)
					}
				}
			}
		}
	}
}

// cellStep is the recurrent cell written out from its equations, one
// example at a time: from x_t, h_{t-1} and (LSTM) c_{t-1} it returns h_t and
// c_t.
func cellStep(l recurrentLayer, x, h, c []float64) (hNext, cNext []float64) {
	var r *recurrent
	switch l := l.(type) {
	case *RNN:
		r = &l.recurrent
	case *LSTM:
		r = &l.recurrent
	case *GRU:
		r = &l.recurrent
	}
	nh := r.hidden
	affine := func(w, b *Param, v []float64, row int) float64 {
		s := b.Value.Data[row]
		for i, vi := range v {
			s += w.Value.Data[row*len(v)+i] * vi
		}
		return s
	}
	gi := func(row int) float64 { return affine(r.WeightIH, r.BiasIH, x, row) }
	gh := func(row int) float64 { return affine(r.WeightHH, r.BiasHH, h, row) }
	hNext, cNext = make([]float64, nh), make([]float64, nh)
	for j := range nh {
		switch r.typ {
		case "rnn":
			hNext[j] = math.Tanh(gi(j) + gh(j))
		case "elman_rnn":
			a := gi(j) + gh(j)
			switch l.(*RNN).Nonlinearity() {
			case ActReLU:
				hNext[j] = max(a, 0)
			case ActSigmoid:
				hNext[j] = gateSigmoid(a)
			default:
				panic("cellStep: unknown nonlinearity")
			}
		case "lstm":
			i := gateSigmoid(gi(j) + gh(j))
			f := gateSigmoid(gi(nh+j) + gh(nh+j))
			g := math.Tanh(gi(2*nh+j) + gh(2*nh+j))
			o := gateSigmoid(gi(3*nh+j) + gh(3*nh+j))
			cNext[j] = f*c[j] + i*g
			hNext[j] = o * math.Tanh(cNext[j])
		case "gru":
			rg := gateSigmoid(gi(j) + gh(j))
			z := gateSigmoid(gi(nh+j) + gh(nh+j))
			n := math.Tanh(gi(2*nh+j) + rg*gh(2*nh+j))
			hNext[j] = (1-z)*n + z*h[j]
		}
	}
	return hNext, cNext
}

// TestObserverHiddenGrads checks ∂L/∂h_t (and an LSTM's ∂L/∂c_t) shown in
// Backward against finite differences of the loss L = Σ dy·h over the rest
// of the sequence, run from step t by cellStep with h_t (or c_t, and with
// it h_t = o_t tanh(c_t)) perturbed.
func TestObserverHiddenGrads(t *testing.T) {
	for _, l := range newTestRecurrents(t) {
		x := randTensor(34, seqB, seqT, seqI)
		y := l.Forward(x, nil)
		dy := randTensor(35, y.Shape...)
		hs := y.Clone()
		var cells, gates *Tensor
		if lstm, ok := l.(*LSTM); ok {
			cells, gates = lstm.cell.Clone(), lstm.gate.Clone()
		}
		rec := NewRecorder(RecordFilter{Internals: []string{InternalHiddenGrad, InternalCellGrad}})
		l.Backward(dy, rec)
		var order []int
		for _, v := range rec.Internals() {
			if v.Name == InternalHiddenGrad {
				order = append(order, v.Index)
			}
		}
		if !slices.Equal(order, []int{3, 2, 1, 0}) {
			t.Errorf("%s: ∂L/∂h_t shown for steps %v, want the BPTT order [3 2 1 0]", l.Spec().Type, order)
		}
		var norms []float64 // ‖∂L/∂h_t‖ of the values shown, step by step
		for _, v := range rec.Values(l, InternalHiddenGrad) {
			var sq float64
			for _, g := range v.Value.Data {
				sq += g * g
			}
			norms = append(norms, math.Sqrt(sq))
		}
		if e := relErr(rec.ValueNorms(l, InternalHiddenGrad), norms); e > 1e-14 || len(norms) != seqT {
			t.Errorf("%s: ValueNorms of ∂L/∂h_t differ from the values' norms %v by relative %.3g", l.Spec().Type, norms, e)
		}
		row := func(tn *Tensor, b, ts, width int) []float64 {
			return slices.Clone(tn.Data[(b*seqT+ts)*width:][:width])
		}
		// rest is Σ_{t' ≥ ts} dy_t'·h_t' for example b, given h_ts and c_ts.
		rest := func(b, ts int, h, c []float64) float64 {
			var loss float64
			for t2 := ts; t2 < seqT; t2++ {
				if t2 > ts {
					h, c = cellStep(l, row(x, b, t2, seqI), h, c)
				}
				for j, v := range h {
					loss += dy.Data[(b*seqT+t2)*seqH+j] * v
				}
			}
			return loss
		}
		check := func(name string, b, ts int, got, num []float64) {
			t.Helper()
			if e := relErr(got, num); e > gradTol || math.IsNaN(e) {
				t.Errorf("%s: %s at step %d, example %d: relative error %.3g against finite differences", l.Spec().Type, name, ts, b, e)
			}
		}
		grads := rec.Values(l, InternalHiddenGrad)
		for ts := range seqT {
			for b := range seqB {
				var c []float64
				if cells != nil {
					c = row(cells, b, ts, seqH)
				}
				h := row(hs, b, ts, seqH)
				num := numericGrad(h, func() float64 { return rest(b, ts, h, c) })
				check(InternalHiddenGrad, b, ts, grads[ts].Value.Data[b*seqH:][:seqH], num)
			}
		}
		if cells == nil {
			continue
		}
		cgrads := rec.Values(l, InternalCellGrad)
		if len(cgrads) != seqT {
			t.Fatalf("lstm: %d ∂L/∂c_t shown, want %d", len(cgrads), seqT)
		}
		for ts := range seqT {
			for b := range seqB {
				o := row(gates, b, ts, 4*seqH)[3*seqH:]
				c := row(cells, b, ts, seqH)
				num := numericGrad(c, func() float64 {
					h := make([]float64, seqH)
					for j := range h {
						h[j] = o[j] * math.Tanh(c[j])
					}
					return rest(b, ts, h, c)
				})
				check(InternalCellGrad, b, ts, cgrads[ts].Value.Data[b*seqH:][:seqH], num)
			}
		}
	}
}

// nopObserver is shown everything and keeps nothing.
type nopObserver struct{ nopTap }

func (nopObserver) Internal(Layer, string, int, *Tensor) {}

// TestObservingAllocatesNothing checks that without a tap no model
// allocates anything in a warm step, and that the layers' own work for an
// Observer (the copies of maps and states) reuses its buffers too.
func TestObservingAllocatesNothing(t *testing.T) {
	for _, sm := range smallModels() {
		m, err := sm.build()
		if err != nil {
			t.Fatal(err)
		}
		step := func() {
			if _, err := m.ComputeGrad(sm.x, sm.target, nil); err != nil {
				t.Fatal(err)
			}
		}
		step()
		if allocs := testing.AllocsPerRun(5, step); allocs != 0 {
			t.Errorf("%s: %v allocations per step without a tap, want 0", sm.name, allocs)
		}
	}
	layers := []Layer{newTestAttention(t, true), newTestBlock(t, "block", false)}
	for _, l := range newTestRecurrents(t) {
		layers = append(layers, l)
	}
	for _, l := range layers {
		shape := []int{seqB, seqT, seqI}
		if _, ok := l.(*SelfAttention); ok {
			shape = []int{2, 4, 8}
		} else if _, ok := l.(*TransformerBlock); ok {
			shape = []int{2, 4, 8}
		}
		x := randTensor(36, shape...)
		y := l.Forward(x, nopObserver{})
		dy := randTensor(37, y.Shape...)
		l.Backward(dy, nopObserver{})
		obs := nopObserver{}
		allocs := testing.AllocsPerRun(5, func() { l.Forward(x, obs); l.Backward(dy, nil) })
		if allocs != 0 {
			t.Errorf("%s: %v allocations per step with an Observer in Forward, want 0", l.Spec().Type, allocs)
		}
		switch l.(type) {
		case *RNN, *LSTM, *GRU:
			allocs := testing.AllocsPerRun(5, func() { l.Forward(x, obs); l.Backward(dy, obs) })
			if allocs != 0 {
				t.Errorf("%s: %v allocations per step with an Observer, want 0", l.Spec().Type, allocs)
			}
		}
	}
}
