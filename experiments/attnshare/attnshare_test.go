package attnshare

import (
	"bytes"
	"encoding/json"
	"math"
	"slices"
	"testing"

	"github.com/paramshare/paramshare/engine"
	"github.com/paramshare/paramshare/run"
)

// values returns the defaults with the given changes.
func values(changes map[string]any) run.Values {
	v := run.Defaults(fields)
	for k, x := range changes {
		v = v.With(k, x)
	}
	return v
}

func build(t testing.TB, v run.Values) *share {
	t.Helper()
	if err := check(v); err != nil {
		t.Fatal(err)
	}
	s, err := newShare(v)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// cases are the parameter sets the tests sweep: words of 1, 4, 9 and 12
// letters, one and two heads, with and without the mask, seeds 1–5.
func cases() []run.Values {
	var out []run.Values
	for seed := 1; seed <= 5; seed++ {
		for _, c := range []map[string]any{
			{},
			{"text": padded("q"), "dModel": 2},
			{"text": padded("abab"), "dModel": 6, "heads": 2, "causal": false},
			{"text": padded("parametersha"), "dModel": 8, "heads": 2},
			{"text": padded("attention"), "causal": false},
		} {
			c["seed"] = seed
			out = append(out, values(c))
		}
	}
	return out
}

func maxAbsDiff(a, b []float64) float64 {
	if len(a) != len(b) {
		return math.Inf(1)
	}
	var m float64
	for i := range a {
		m = math.Max(m, math.Abs(a[i]-b[i]))
	}
	return m
}

// twinGrads returns every attention weight's gradient from an independent
// engine run of the same model with no tap at all.
func twinGrads(t *testing.T, p params) (*model, [4][]float64, float64) {
	t.Helper()
	m, err := newModel(p)
	if err != nil {
		t.Fatal(err)
	}
	x, y := batchOf(p.Text)
	loss, err := m.m.ComputeGrad(x, y, nil)
	if err != nil {
		t.Fatal(err)
	}
	var g [4][]float64
	for i, local := range projections {
		g[i] = slices.Clone(m.param(local).Grad.Data)
	}
	return m, g, loss
}

// TestLedgerSumsToEngineGrad: for every projection, the token
// contributions add up to the engine's dW — the one the tapped pass left
// and the one an untapped twin computes — to 1e-12, and the frame says so
// only once every token is in.
func TestLedgerSumsToEngineGrad(t *testing.T) {
	for _, v := range cases() {
		s := build(t, v)
		_, g, loss := twinGrads(t, s.p)
		if loss != s.ps.loss {
			t.Fatalf("%+v: loss %v, twin %v", s.p, s.ps.loss, loss)
		}
		T := len(s.p.Text)
		for i, local := range projections {
			s.p.Param = local
			if len(s.ps.contrib[i]) != T {
				t.Fatalf("%+v %s: %d contributions for %d tokens", s.p, local, len(s.ps.contrib[i]), T)
			}
			full := s.sum(T)
			if d := maxAbsDiff(full, s.ps.grad[i]); d > 1e-12 {
				t.Errorf("%+v %s: max |Σ − dW| = %g", s.p, local, d)
			}
			if d := maxAbsDiff(full, g[i]); d > 1e-12 {
				t.Errorf("%+v %s: max |Σ − twin dW| = %g", s.p, local, d)
			}
			if s.maxDiff() > 1e-12 {
				t.Errorf("%+v %s: frame's maxDiff %g", s.p, local, s.maxDiff())
			}
		}
	}
}

// TestFrameMatchesIndependentForward: the pass's Q, K, V, scores, softmax
// rows, weighted sum and output match an independent computation from a
// fresh engine model's weights and its own forward pass.
func TestFrameMatchesIndependentForward(t *testing.T) {
	for _, v := range cases() {
		s := build(t, v)
		p, ps := s.p, s.ps
		T, d, h := len(p.Text), p.DModel, p.Heads
		m, err := newModel(p)
		if err != nil {
			t.Fatal(err)
		}
		x, _ := batchOf(p.Text)
		rec := engine.NewRecorder(engine.RecordFilter{Internals: []string{engine.InternalAttention}})
		xe := m.pos.Forward(m.emb.Forward(x, nil), nil)
		out := m.attn.Forward(xe, rec)
		if dd := maxAbsDiff(xe.Data, ps.x); dd != 0 {
			t.Fatalf("%+v: x differs by %g", p, dd)
		}
		// x W_ᵀ + b by plain loops over the twin's weights.
		proj := func(local string) []float64 {
			w, b := m.param(local).Value.Data, m.param("b"+local[1:]).Value.Data
			y := make([]float64, T*d)
			for r := range T {
				for o := range d {
					acc := b[o]
					for c := range d {
						acc += xe.Data[r*d+c] * w[o*d+c]
					}
					y[r*d+o] = acc
				}
			}
			return y
		}
		q, k, vv := proj(projQ), proj(projK), proj(projV)
		for _, c := range []struct {
			n         string
			got, want []float64
		}{{"Q", ps.q, q}, {"K", ps.k, k}, {"V", ps.v, vv}, {"out", ps.out, out.Data}} {
			if dd := maxAbsDiff(c.got, c.want); dd > 1e-12 {
				t.Errorf("%+v: %s differs by %g", p, c.n, dd)
			}
		}
		maps := rec.Values(m.attn, engine.InternalAttention)
		dk := d / h
		for hd := range h {
			for i := range T {
				// The softmax of row i of the scores (masked past i when
				// causal) is the engine's row; each row sums to 1.
				live := T
				if p.Causal {
					live = i + 1
				}
				var mx, z, rowSum float64 = math.Inf(-1), 0, 0
				for j := range live {
					var sc float64
					for c := hd * dk; c < (hd+1)*dk; c++ {
						sc += q[i*d+c] * k[j*d+c]
					}
					sc /= math.Sqrt(float64(dk))
					if dd := math.Abs(sc - ps.scores[(hd*T+i)*T+j]); dd > 1e-12 {
						t.Fatalf("%+v: score head %d [%d,%d] differs by %g", p, hd, i, j, dd)
					}
					mx = math.Max(mx, sc)
				}
				for j := range live {
					z += math.Exp(ps.scores[(hd*T+i)*T+j] - mx)
				}
				for j := range T {
					want := 0.0
					if j < live {
						want = math.Exp(ps.scores[(hd*T+i)*T+j]-mx) / z
					}
					a := ps.attn[(hd*T+i)*T+j]
					if dd := math.Abs(a - want); dd > 1e-12 {
						t.Fatalf("%+v: softmax head %d [%d,%d] = %v, want %v", p, hd, i, j, a, want)
					}
					if dd := math.Abs(a - maps[hd].Value.Data[i*T+j]); dd != 0 {
						t.Fatalf("%+v: attention head %d [%d,%d] differs from the twin's by %g", p, hd, i, j, dd)
					}
					rowSum += a
				}
				if math.Abs(rowSum-1) > 1e-12 {
					t.Errorf("%+v: head %d row %d sums to %v", p, hd, i, rowSum)
				}
			}
		}
		// out = ctx W_Oᵀ + b_O: the weighted sum is the engine's.
		wo, bo := m.param(projO).Value.Data, m.param("b_o").Value.Data
		for r := range T {
			for o := range d {
				acc := bo[o]
				for c := range d {
					acc += ps.ctx[r*d+c] * wo[o*d+c]
				}
				if dd := math.Abs(acc - out.Data[r*d+o]); dd > 1e-12 {
					t.Fatalf("%+v: ctx W_Oᵀ + b_O [%d,%d] differs from the engine's output by %g", p, r, o, dd)
				}
			}
		}
	}
}

// TestFrame: the frame shows the pass rounded, the positions' phases, the
// running Σ and maxDiff only when every token is in.
func TestFrame(t *testing.T) {
	s := build(t, values(nil))
	T := len(s.p.Text)
	if s.Total() != 2*T+4 {
		t.Fatalf("total %d, want %d", s.Total(), 2*T+4)
	}
	want := []string{"input"}
	for range T {
		want = append(want, "project")
	}
	want = append(want, "scores", "softmax", "mix", "output")
	for range T {
		want = append(want, "ledger")
	}
	for k := 0; k <= s.Total(); k++ {
		if k > 0 {
			if err := s.Advance(); err != nil {
				t.Fatal(err)
			}
		}
		d := s.Frame().Data.(dataPart)
		if d.Phase != want[k] {
			t.Fatalf("position %d: phase %q, want %q", k, d.Phase, want[k])
		}
		if (d.MaxDiff != nil) != (k == s.Total()) {
			t.Fatalf("position %d: maxDiff %v", k, d.MaxDiff)
		}
		if d.Added != max(0, k-T-4) {
			t.Fatalf("position %d: added %d", k, d.Added)
		}
	}
	if err := s.Advance(); err == nil {
		t.Fatal("Advance past the end did not fail")
	}
	st := s.Frame().Static.(staticPart)
	if len(st.Tokens) != T || st.Tokens[0] != "a" || st.Targets[T-1] != "·" || st.Targets[0] != "t" {
		t.Fatalf("tokens %v targets %v", st.Tokens, st.Targets)
	}
	if math.Abs(st.Q[3]-s.ps.q[3]) > 5e-3*math.Abs(s.ps.q[3]) {
		t.Fatalf("Q[3] %v, pass %v", st.Q[3], s.ps.q[3])
	}
	// A new projection keeps the position; a new word starts a new pass.
	if err := s.SetParams(s.v.With("param", projV)); err != nil || s.Pos() != s.Total() {
		t.Fatalf("param change: %v, pos %d", err, s.Pos())
	}
	if s.Frame().Static.(staticPart).Params.Param != projV {
		t.Fatal("the static part did not follow the projection")
	}
	if err := s.SetParams(s.v.With("text", padded("ab"))); err != nil || s.Pos() != 8 {
		t.Fatalf("word change: %v, pos %d (want the new total 8)", err, s.Pos())
	}
	var buf bytes.Buffer
	if err := writeJSON(&buf, s, "en"); err != nil {
		t.Fatal(err)
	}
	var j map[string]any
	if err := json.Unmarshal(buf.Bytes(), &j); err != nil {
		t.Fatal(err)
	}
}

// TestCheck refuses words that are not 1–12 letters and heads that do not
// divide d_model, in both languages.
func TestCheck(t *testing.T) {
	bad := func(b []byte) string {
		return padded(string(b))
	}
	for _, tc := range []struct {
		v     run.Values
		field string
	}{
		{values(map[string]any{"text": padded("")}), "text"},
		{values(map[string]any{"text": bad([]byte("Abc"))}), "text"},
		{values(map[string]any{"text": bad([]byte("ab\x00c"))}), "text"},
		{values(map[string]any{"text": bad([]byte("a b"))}), "text"},
		{values(map[string]any{"dModel": 5, "heads": 2}), "heads"},
	} {
		err := check(tc.v)
		pe, ok := err.(*run.ParamError)
		if !ok || pe.Field != tc.field || pe.Text.En == "" || pe.Text.Zh == "" {
			t.Errorf("%v: %v, want a ParamError on %s", tc.v, err, tc.field)
		}
	}
	if err := check(values(map[string]any{"text": padded("abcdefghijkl")})); err != nil {
		t.Errorf("12 letters refused: %v", err)
	}
}

// TestClaimsFirstQueryGetsNothing: with the causal mask, token 1's row of
// the attention is [1, 0, …] whatever its score, so token 1's contribution
// to dW_Q is exactly zero (the lesson says so); without the mask it is not.
func TestClaimsFirstQueryGetsNothing(t *testing.T) {
	for _, v := range cases() {
		s := build(t, v)
		n0 := s.ps.norms[0][0]
		if s.p.Causal && n0 != 0 {
			t.Errorf("%+v: token 1's dW_Q contribution is %g with the mask, want exactly 0", s.p, n0)
		}
		if !s.p.Causal && len(s.p.Text) > 1 && n0 == 0 {
			t.Errorf("%+v: token 1's dW_Q contribution is 0 without the mask", s.p)
		}
		// The other projections get something from token 1.
		for i := 1; i < 4; i++ {
			if s.ps.norms[i][0] == 0 && len(s.p.Text) > 1 {
				t.Errorf("%+v: token 1's %s contribution is 0", s.p, projections[i])
			}
		}
	}
}

// TestClaimsCount: the layer's parameters are 4d² + 4d whatever T (read
// from models built on words of 1, 9 and 12 letters), while the engine
// counts 4·T·d² uses and T·(4d² + 4d) unshared parameters, and the maps
// hold heads·T² entries — so from T = 2 on the entries grow faster than
// the uses, and at T = 512 they outnumber the parameters.
func TestClaimsCount(t *testing.T) {
	for _, d := range []int{2, 4, 8} {
		var params []int
		for _, w := range []string{"a", "attention", "parametersha"} {
			s := build(t, values(map[string]any{"text": padded(w), "dModel": d}))
			params = append(params, s.count().Params)
		}
		if params[0] != 4*d*d+4*d || params[1] != params[0] || params[2] != params[0] {
			t.Fatalf("d %d: parameters %v, want %d for every length", d, params, 4*d*d+4*d)
		}
		for _, L := range []int{1, 2, 64, 512} {
			s := build(t, values(map[string]any{"dModel": d, "length": L, "heads": 2}))
			c := s.count()
			if c.Params != 4*d*d+4*d || c.Uses != 4*L*d*d || c.Unshared != L*(4*d*d+4*d) || c.Entries != 2*L*L {
				t.Errorf("d %d T %d: %+v", d, L, c)
			}
		}
	}
	c := build(t, values(map[string]any{"dModel": 8, "length": 512})).count()
	if c.Entries <= c.Params {
		t.Errorf("at T = 512 the map has %d entries, the layer %d parameters", c.Entries, c.Params)
	}
}

// TestClaimsUntrainedLoss: the lesson says the untrained read-out guesses
// about uniformly over 27 symbols: the default word's loss is within 0.3
// of ln 27 ≈ 3.30 for seeds 1–5.
func TestClaimsUntrainedLoss(t *testing.T) {
	for seed := 1; seed <= 5; seed++ {
		s := build(t, values(map[string]any{"seed": seed}))
		if d := math.Abs(s.ps.loss - math.Log(27)); d > 0.3 {
			t.Errorf("seed %d: loss %v, %v from ln 27", seed, s.ps.loss, d)
		}
	}
}

var sink run.Frame

// BenchmarkStep is one position and its frame at the costliest values.
func BenchmarkStep(b *testing.B) {
	v := values(map[string]any{"text": padded("attentionabc"), "dModel": 8, "heads": 2})
	s := build(b, v)
	b.ResetTimer()
	for range b.N {
		if s.Pos() == s.Total() {
			_ = s.Rewind(0)
		}
		if err := s.Advance(); err != nil {
			b.Fatal(err)
		}
		sink = s.Frame()
	}
}

// BenchmarkPass is building a run: one forward and backward pass with the
// tap, at the costliest values.
func BenchmarkPass(b *testing.B) {
	v := values(map[string]any{"text": padded("attentionabc"), "dModel": 8, "heads": 2})
	for range b.N {
		if _, err := newShare(v); err != nil {
			b.Fatal(err)
		}
	}
}

// TestClaimsOrderBlind: without a mask the attention layer alone does not
// know the order — permuting its input rows permutes its output rows the
// same way (what the lesson gives as the reason for positions).
func TestClaimsOrderBlind(t *testing.T) {
	for seed := 1; seed <= 5; seed++ {
		s := build(t, values(map[string]any{"seed": seed, "causal": false}))
		T, d := len(s.p.Text), s.p.DModel
		perm := make([]int, T)
		for i := range perm {
			perm[i] = (i*5 + 3) % T // 9 letters: 5 is coprime to 9
		}
		x := engine.NewTensor(1, T, d)
		for i, from := range perm {
			copy(x.Data[i*d:(i+1)*d], s.ps.x[from*d:(from+1)*d])
		}
		y := s.m.attn.Forward(x, nil)
		for i, from := range perm {
			if dd := maxAbsDiff(y.Data[i*d:(i+1)*d], s.ps.out[from*d:(from+1)*d]); dd > 1e-12 {
				t.Fatalf("seed %d: row %d of the permuted output differs by %g", seed, i, dd)
			}
		}
	}
}

// TestClaimsBanana: the three a's of "banana" read the same embedding row
// but, with their positions added, get different queries.
func TestClaimsBanana(t *testing.T) {
	for seed := 1; seed <= 5; seed++ {
		s := build(t, values(map[string]any{"seed": seed, "text": padded("banana")}))
		d := s.p.DModel
		row := func(v []float64, t int) []float64 { return v[t*d : (t+1)*d] }
		for _, t2 := range []int{3, 5} {
			if !slices.Equal(row(s.ps.embed, 1), row(s.ps.embed, t2)) {
				t.Fatalf("seed %d: the a's embedding rows differ", seed)
			}
			if maxAbsDiff(row(s.ps.q, 1), row(s.ps.q, t2)) < 1e-6 {
				t.Errorf("seed %d: the a's at 2 and %d have the same query", seed, t2+1)
			}
		}
	}
}
