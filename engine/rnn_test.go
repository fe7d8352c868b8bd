package engine

import (
	"math"
	"slices"
	"strings"
	"testing"
)

// Sizes of the small recurrent test cases: batch, steps, input, hidden.
const (
	seqB = 2
	seqT = 4
	seqI = 3
	seqH = 5
)

// recurrentLayer is what the three recurrent layers (RNN, LSTM, GRU) have in
// common; attention layers satisfy it too, so tell them apart by type.
type recurrentLayer interface {
	Layer
	Counter
}

// newTestRecurrents builds each of the three recurrent layers, and the RNN
// with its other two activations, at the small test sizes.
func newTestRecurrents(t *testing.T) []recurrentLayer {
	t.Helper()
	rnn, err := NewRNN("rnn", seqI, seqH, NewRand(1))
	if err != nil {
		t.Fatal(err)
	}
	lstm, err := NewLSTM("lstm", seqI, seqH, NewRand(2))
	if err != nil {
		t.Fatal(err)
	}
	gru, err := NewGRU("gru", seqI, seqH, NewRand(3))
	if err != nil {
		t.Fatal(err)
	}
	relu, err := NewRNNWith("relu_rnn", seqI, seqH, ActReLU, NewRand(4))
	if err != nil {
		t.Fatal(err)
	}
	sig, err := NewRNNWith("sigmoid_rnn", seqI, seqH, ActSigmoid, NewRand(5))
	if err != nil {
		t.Fatal(err)
	}
	return []recurrentLayer{rnn, lstm, gru, relu, sig}
}

func TestRecurrentGrads(t *testing.T) {
	for _, l := range newTestRecurrents(t) {
		t.Run(l.Spec().Type, func(t *testing.T) {
			checkLayerGrads(t, l, randTensor(11, seqB, seqT, seqI), gradCheckOpts{})
		})
	}
}

// TestRecurrentTaps checks that with a tap every parameter gets exactly one
// UseStep contribution per time step, that they sum to the gradient, and
// that the gradient is the same as without a tap (the two paths compute it
// differently: per step, or in a few large products).
func TestRecurrentTaps(t *testing.T) {
	for _, l := range newTestRecurrents(t) {
		t.Run(l.Spec().Type, func(t *testing.T) {
			x := randTensor(12, seqB, seqT, seqI)
			zeroParams(l.Params())
			y := l.Forward(x, nil)
			dy := randTensor(7, y.Shape...) // the dy checkTapSums uses
			dxPlain := l.Backward(dy, nil).Clone()
			var plain [][]float64
			for _, p := range l.Params() {
				plain = append(plain, slices.Clone(p.Grad.Data))
			}

			steps := NewRecorder(RecordFilter{})
			zeroParams(l.Params())
			l.Forward(x, steps)
			dxTap := l.Backward(dy, steps)
			perParam := map[string][]int{} // the steps of each param's contributions, as reported
			for _, c := range steps.Contributions() {
				if c.Kind == UseStep && len(c.Index) == 1 {
					perParam[c.Local] = append(perParam[c.Local], c.Index[0])
				}
			}
			if e := relErr(dxTap.Data, dxPlain.Data); e > 1e-12 {
				t.Errorf("dx with a tap differs from dx without by relative %.3g", e)
			}
			for i, np := range l.Params() {
				if e := relErr(np.Grad.Data, plain[i]); e > 1e-12 {
					t.Errorf("%s: gradient with a tap differs from without by relative %.3g", np.Local, e)
				}
				got := perParam[np.Local]
				want := []int{3, 2, 1, 0} // the order BPTT reaches the steps
				if !slices.Equal(got, want) {
					t.Errorf("%s: UseStep contributions at steps %v, want %v", np.Local, got, want)
				}
			}

			tap := checkTapSums(t, l, x)
			counts := useCounts(tap)
			if got, want := counts[UseStep], 4*seqT; got != want {
				t.Errorf("%d UseStep contributions, want %d (4 params × %d steps)", got, want, seqT)
			}
			if len(counts) != 1 {
				t.Errorf("contribution kinds %v, want only %q", counts, UseStep)
			}
		})
	}
}

// TestRNNByHand checks a one-unit RNN over two steps against the formulas
// written out: h0 = tanh(a·x0 + b), h1 = tanh(a·x1 + w·h0 + b).
func TestRNNByHand(t *testing.T) {
	r, err := NewRNN("r", 1, 1, NewRand(1))
	if err != nil {
		t.Fatal(err)
	}
	a, w, bih, bhh := 0.7, -1.3, 0.2, -0.05
	r.WeightIH.Value.Data[0], r.WeightHH.Value.Data[0] = a, w
	r.BiasIH.Value.Data[0], r.BiasHH.Value.Data[0] = bih, bhh
	x0, x1 := 0.9, -0.4
	g0, g1 := 0.3, -1.1 // dL/dh0, dL/dh1 from the output

	h0 := math.Tanh(a*x0 + bih + bhh)
	h1 := math.Tanh(a*x1 + w*h0 + bih + bhh)
	da1 := g1 * (1 - h1*h1)
	dh0 := g0 + w*da1
	da0 := dh0 * (1 - h0*h0)

	y := r.Forward(TensorFrom([]float64{x0, x1}, 1, 2, 1), nil)
	near := func(what string, got, want float64) {
		t.Helper()
		if math.Abs(got-want) > 1e-14 {
			t.Errorf("%s = %.17g, want %.17g", what, got, want)
		}
	}
	near("h0", y.Data[0], h0)
	near("h1", y.Data[1], h1)
	rec := NewRecorder(RecordFilter{Internals: []string{InternalHiddenGrad}})
	dx := r.Backward(TensorFrom([]float64{g0, g1}, 1, 2, 1), rec)
	parts := rec.Contributions()
	near("dx0", dx.Data[0], a*da0)
	near("dx1", dx.Data[1], a*da1)
	near("dW_ih", r.WeightIH.Grad.Data[0], x0*da0+x1*da1)
	near("dW_hh", r.WeightHH.Grad.Data[0], h0*da1)
	near("db_ih", r.BiasIH.Grad.Data[0], da0+da1)
	near("db_hh", r.BiasHH.Grad.Data[0], da0+da1)
	if norms := rec.ValueNorms(r, InternalHiddenGrad); len(norms) != 2 {
		t.Errorf("%d hidden gradient norms, want 2", len(norms))
	} else {
		near("‖dL/dh1‖", norms[1], math.Abs(g1))
		near("‖dL/dh0‖", norms[0], math.Abs(dh0))
	}
	if dh := rec.Values(r, InternalHiddenGrad); len(dh) != 2 {
		t.Errorf("%d hidden gradients shown, want 2", len(dh))
	} else {
		near("dL/dh0", dh[0].Value.Data[0], dh0)
		near("dL/dh1", dh[1].Value.Data[0], g1)
	}
	want := map[string][2]float64{ // step 0's and step 1's part
		"weight_ih": {x0 * da0, x1 * da1},
		"weight_hh": {0, h0 * da1},
		"bias_ih":   {da0, da1},
		"bias_hh":   {da0, da1},
	}
	if len(parts) != 8 {
		t.Fatalf("%d contributions, want 8", len(parts))
	}
	for _, c := range parts {
		near(c.Local+" step part", c.Grad.Data[0], want[c.Local][c.Index[0]])
		if c.Layer != "r" || c.Param.Name != "r."+c.Local {
			t.Errorf("contribution from layer %q param %q local %q", c.Layer, c.Param.Name, c.Local)
		}
	}
}

// TestRNNGradNormsGrowAndShrink uses a linear regime (x = 0, zero biases, so
// every h_t = 0 and tanh' = 1) where dL/dh_t = W_hhᵀ dL/dh_{t+1} exactly:
// with W_hh = s·I and a gradient only at the last step, ‖dL/dh_t‖ is
// s^(T-1-t) times the last one — vanishing for s < 1, exploding for s > 1.
func TestRNNGradNormsGrowAndShrink(t *testing.T) {
	const steps = 6
	for _, s := range []float64{0.5, 1.5} {
		r, err := NewRNN("r", 2, 3, NewRand(1))
		if err != nil {
			t.Fatal(err)
		}
		r.WeightHH.Value.Zero()
		for j := range 3 {
			r.WeightHH.Value.Data[j*3+j] = s
		}
		r.BiasIH.Value.Zero()
		r.BiasHH.Value.Zero()
		y := r.Forward(NewTensor(2, steps, 2), nil)
		dy := NewTensor(y.Shape...)
		var last float64
		for b := range 2 {
			for j := range 3 {
				v := float64(b*3+j) - 2.5
				dy.Data[(b*steps+steps-1)*3+j] = v
				last += v * v
			}
		}
		last = math.Sqrt(last)
		rec := NewRecorder(RecordFilter{Internals: []string{InternalHiddenGrad}})
		r.Backward(dy, rec)
		norms := rec.ValueNorms(r, InternalHiddenGrad)
		if len(norms) != steps {
			t.Fatalf("scale %v: %d norms, want %d", s, len(norms), steps)
		}
		for ts, n := range norms {
			want := last * math.Pow(s, float64(steps-1-ts))
			if math.Abs(n-want) > 1e-12*want {
				t.Errorf("scale %v: ‖dL/dh_%d‖ = %v, want %v", s, ts, n, want)
			}
		}
	}
}

// TestRecurrentLastNorm checks, for every cell, that the last step's hidden
// gradient norm is that of dy at the last step (nothing comes from later),
// and that earlier steps' norms are computed (positive here).
func TestRecurrentLastNorm(t *testing.T) {
	for _, l := range newTestRecurrents(t) {
		x := randTensor(3, seqB, seqT, seqI)
		y := l.Forward(x, nil)
		dy := randTensor(4, y.Shape...)
		rec := NewRecorder(RecordFilter{Internals: []string{InternalHiddenGrad}})
		l.Backward(dy, rec)
		var sq float64
		for b := range seqB {
			for j := range seqH {
				v := dy.Data[(b*seqT+seqT-1)*seqH+j]
				sq += v * v
			}
		}
		norms := rec.ValueNorms(l, InternalHiddenGrad)
		if len(norms) != seqT || math.Abs(norms[seqT-1]-math.Sqrt(sq)) > 1e-14 {
			t.Errorf("%s: norms %v, want %d of them ending in %v", l.Spec().Type, norms, seqT, math.Sqrt(sq))
		}
		for ts, n := range norms {
			if !(n > 0) {
				t.Errorf("%s: ‖dL/dh_%d‖ = %v", l.Spec().Type, ts, n)
			}
		}
	}
}

func TestRecurrentSpecShapesCounts(t *testing.T) {
	gates := map[string]int{"rnn": 1, "lstm": 4, "gru": 3, "elman_rnn": 1}
	for _, l := range newTestRecurrents(t) {
		s := l.Spec()
		g := gates[s.Type]
		wantAttrs := 2
		if r, ok := l.(*RNN); ok && r.Nonlinearity() != ActTanh {
			wantAttrs = 3 // elman_rnn also names its nonlinearity
			if s.Type != "elman_rnn" || s.Attrs["nonlinearity"] != string(r.Nonlinearity()) {
				t.Errorf("%s rnn: spec %s %v, want elman_rnn with its nonlinearity", r.Nonlinearity(), s.Type, s.Attrs)
			}
		}
		if s.Attrs["input_size"] != seqI || s.Attrs["hidden_size"] != seqH || len(s.Attrs) != wantAttrs {
			t.Errorf("%s: attrs %v", s.Type, s.Attrs)
		}
		wantShapes := map[string][]int{
			"weight_ih": {g * seqH, seqI}, "weight_hh": {g * seqH, seqH},
			"bias_ih": {g * seqH}, "bias_hh": {g * seqH},
		}
		var locals []string
		params := 0
		for _, np := range l.Params() {
			locals = append(locals, np.Local)
			params += np.Size()
			if np.Name != s.Name+"."+np.Local || !slices.Equal(np.Value.Shape, wantShapes[np.Local]) {
				t.Errorf("%s: param %q named %q shape %v", s.Type, np.Local, np.Name, np.Value.Shape)
			}
			bound := 1 / math.Sqrt(seqH)
			for _, v := range np.Value.Data {
				if math.Abs(v) > bound {
					t.Errorf("%s: %s holds %v outside ±1/√H", s.Type, np.Local, v)
					break
				}
			}
		}
		if !slices.Equal(locals, []string{"weight_ih", "weight_hh", "bias_ih", "bias_hh"}) {
			t.Errorf("%s: params %v", s.Type, locals)
		}
		out, err := l.OutShape([]int{7, seqI})
		if err != nil || !slices.Equal(out, []int{7, seqH}) {
			t.Errorf("%s: OutShape([7 %d]) = %v, %v", s.Type, seqI, out, err)
		}
		for _, bad := range [][]int{{7, seqI + 1}, {seqI}, {2, 7, seqI}, {0, seqI}} {
			if _, err := l.OutShape(bad); err == nil || !strings.HasPrefix(err.Error(), "engine: ") {
				t.Errorf("%s: OutShape(%v) error %v", s.Type, bad, err)
			}
		}
		y := l.Forward(randTensor(1, 3, 7, seqI), nil)
		if !slices.Equal(y.Shape, []int{3, 7, seqH}) {
			t.Errorf("%s: output shape %v", s.Type, y.Shape)
		}
		c := l.Count([]int{7, seqI})
		if want := 7 * g * seqH * (seqI + seqH); c.Uses != want {
			t.Errorf("%s: Uses %d, want %d", s.Type, c.Uses, want)
		}
		if c.Unshared != 7*params {
			t.Errorf("%s: Unshared %d, want %d", s.Type, c.Unshared, 7*params)
		}
		expectShapePanic(t, s.Type+" forward [B T I+1]", func() { l.Forward(NewTensor(2, 3, seqI+1), nil) })
		expectShapePanic(t, s.Type+" forward [B I]", func() { l.Forward(NewTensor(2, seqI), nil) })
		l.Forward(NewTensor(2, 3, seqI), nil)
		expectShapePanic(t, s.Type+" backward", func() { l.Backward(NewTensor(2, 4, seqH), nil) })
	}
}

// expectShapePanic fails unless f panics with a ShapeError.
func expectShapePanic(t *testing.T, what string, f func()) {
	t.Helper()
	defer func() {
		t.Helper()
		if _, ok := recover().(ShapeError); !ok {
			t.Errorf("%s: no ShapeError panic", what)
		}
	}()
	f()
}

func TestRecurrentInvalidConfigs(t *testing.T) {
	for _, sizes := range [][2]int{{0, 5}, {3, 0}, {-1, 5}, {3, -2}} {
		_, e1 := NewRNN("r", sizes[0], sizes[1], NewRand(1))
		_, e2 := NewLSTM("l", sizes[0], sizes[1], NewRand(1))
		_, e3 := NewGRU("g", sizes[0], sizes[1], NewRand(1))
		for _, err := range []error{e1, e2, e3} {
			if err == nil || !strings.HasPrefix(err.Error(), "engine: ") {
				t.Errorf("sizes %v: error %v", sizes, err)
			}
		}
	}
	if _, err := NewRNN("r", 1, 1, NewRand(1)); err != nil {
		t.Errorf("valid sizes: %v", err)
	}
}

// TestRecurrentNoAllocs checks that a forward and backward pass without a
// tap allocates nothing once the buffers exist.
func TestRecurrentNoAllocs(t *testing.T) {
	for _, l := range newTestRecurrents(t) {
		x := randTensor(5, seqB, seqT, seqI)
		dy := randTensor(6, seqB, seqT, seqH)
		allocs := testing.AllocsPerRun(20, func() {
			l.Forward(x, nil)
			l.Backward(dy, nil)
		})
		if allocs != 0 {
			t.Errorf("%s: %v allocations per forward+backward, want 0", l.Spec().Type, allocs)
		}
	}
}

func TestRNNUsedInModel(t *testing.T) {
	rng := NewRand(4)
	rnn, err := NewRNN("rnn", seqI, seqH, rng)
	if err != nil {
		t.Fatal(err)
	}
	m, err := NewModel("m", []int{seqT, seqI}, nil, rnn, NewLastStep("last"))
	if err != nil {
		t.Fatal(err)
	}
	c := m.Count()
	if c.Params != seqH*seqI+seqH*seqH+2*seqH || c.Unshared != seqT*c.Params {
		t.Errorf("count %+v", c)
	}
	if _, err := NewModel("m", []int{seqT, seqI + 1}, nil, rnn); err == nil {
		t.Error("model accepted an input of the wrong feature size")
	}
}

// TestRecurrentWideGates runs the tap and plain paths with more gate rows
// (4·70 = 280) than one gemm tile holds, so per-step products on strided
// views are split into tiles.
func TestRecurrentWideGates(t *testing.T) {
	l, err := NewLSTM("lstm", 2, 70, NewRand(5))
	if err != nil {
		t.Fatal(err)
	}
	x := randTensor(6, 2, 3, 2)
	y := l.Forward(x, nil)
	dy := randTensor(7, y.Shape...)
	zeroParams(l.Params())
	l.Backward(dy, nil)
	var plain [][]float64
	for _, np := range l.Params() {
		plain = append(plain, slices.Clone(np.Grad.Data))
	}
	tap := checkTapSums(t, l, x)
	if n := useCounts(tap)[UseStep]; n != 4*3 {
		t.Errorf("%d UseStep contributions, want 12", n)
	}
	for i, np := range l.Params() {
		if e := relErr(np.Grad.Data, plain[i]); e > 1e-12 {
			t.Errorf("%s: gradient with a tap differs from without by relative %.3g", np.Local, e)
		}
	}
}

// TestRNNNonlinearities checks the activations against their formulas on
// one unit and one step (h = act(a)), the bound γ of their derivatives, and
// that an unknown one is refused.
func TestRNNNonlinearities(t *testing.T) {
	want := map[Nonlinearity]func(a float64) float64{
		ActTanh:    math.Tanh,
		ActReLU:    func(a float64) float64 { return max(a, 0) },
		ActSigmoid: func(a float64) float64 { return 1 / (1 + math.Exp(-a)) },
	}
	gamma := map[Nonlinearity]float64{ActTanh: 1, ActReLU: 1, ActSigmoid: 0.25}
	for _, act := range Nonlinearities() {
		r, err := NewRNNWith("r", 1, 1, act, NewRand(1))
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range []float64{-2, -0.5, 0.25, 3} {
			r.WeightIH.Value.Data[0], r.BiasIH.Value.Data[0], r.BiasHH.Value.Data[0] = 1, a/2, a/2
			x := NewTensor(1, 1, 1)
			x.Data[0] = 0
			if got := r.Forward(x, nil).Data[0]; math.Abs(got-want[act](a)) > 1e-15 {
				t.Errorf("%s(%v) = %v, want %v", act, a, got, want[act](a))
			}
		}
		if got := act.DerivativeBound(); got != gamma[act] {
			t.Errorf("%s: γ = %v, want %v", act, got, gamma[act])
		}
	}
	if _, err := NewRNNWith("r", 1, 1, "softplus", NewRand(1)); err == nil || !strings.Contains(err.Error(), "softplus") {
		t.Errorf("unknown nonlinearity: error %v", err)
	}
}
