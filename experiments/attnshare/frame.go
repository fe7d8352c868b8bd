package attnshare

import (
	"math"
	"slices"

	"github.com/paramshare/paramshare/run"
	"github.com/paramshare/paramshare/viz"
)

// digits is how many significant digits the widget shows (viz.Sig).
const digits = 3

// staticPart is the whole pass, fixed by the parameters; the data part
// says how much of it the position shows.
type staticPart struct {
	Params  params   `json:"params"`
	Tokens  []string `json:"tokens"`  // the letters
	Targets []string `json:"targets"` // the next letter at each position, "·" for the end
	DK      int      `json:"dk"`      // d_model / heads
	Vocab   int      `json:"vocab"`
	// Embed is each token's row of the embedding table, PE its position's
	// sinusoid and X their sum, the attention's input [T, d].
	Embed []float64 `json:"embed"`
	PE    []float64 `json:"pe"`
	X     []float64 `json:"x"`
	// W and B are W_Q, W_K, W_V, W_O [d, d] and their biases [d].
	W [4][]float64 `json:"w"`
	B [4][]float64 `json:"b"`
	// Q, K, V [T, d]; Scores and Attn [heads, T, T] (Scores before the
	// mask: with causal, entries above the diagonal are −∞ in the softmax);
	// Ctx = concat_h A_h V_h and Out = Ctx W_Oᵀ + b_O [T, d].
	Q      []float64 `json:"q"`
	K      []float64 `json:"k"`
	V      []float64 `json:"v"`
	Scores []float64 `json:"scores"`
	Attn   []float64 `json:"attn"`
	Ctx    []float64 `json:"ctx"`
	Out    []float64 `json:"out"`
	// PTarget is the probability the read-out gives each target; Loss
	// the engine's cross-entropy, their mean −log.
	PTarget []float64 `json:"pTarget"`
	Loss    float64   `json:"loss"`
	// Contrib is every token's contribution to the shown projection's
	// gradient [T][d·d], Norms their sizes, Grad the engine's dW.
	Contrib [][]float64 `json:"contrib"`
	Norms   []float64   `json:"norms"`
	Grad    []float64   `json:"grad"`
	Count   count       `json:"count"`
}

// count is the attention layer's count from the engine (Counter): its
// parameters, whatever T, against its uses and its maps' entries.
type count struct {
	Params int `json:"params"` // 4d² + 4d
	// At the length field's T: multiply-adds of the projections
	// (4·T·d²), parameters if every token had its own projections
	// (T·(4d² + 4d)), and attention-map entries heads·T².
	T        int   `json:"T"`
	Uses     int   `json:"uses"`
	Unshared int   `json:"unshared"`
	Entries  int   `json:"entries"`
	Ts       []int `json:"ts"` // 1, 2, 4, …, 512 and the same three numbers at each
	UsesAt   []int `json:"usesAt"`
	EntryAt  []int `json:"entriesAt"`
}

// dataPart is the position.
type dataPart struct {
	Step  int `json:"step"`
	Total int `json:"total"`
	// Phase is input, project, scores, softmax, mix, output or ledger;
	// Token is the token projected or added last (1-based; 0: none).
	Phase string `json:"phase"`
	Token int    `json:"token"`
	// Added is how many tokens' contributions are in Sum, the running Σ
	// of the shown projection's gradient [d·d], added in token order.
	Added int       `json:"added"`
	Sum   []float64 `json:"sum"`
	// MaxDiff is max |Σ − dW| at full precision once every token is in.
	MaxDiff *float64 `json:"maxDiff"`
}

// Frame returns the pass and the position. The rounded static part is
// kept per revision: rounding its ~2,000 numbers costs far more than a step.
func (s *share) Frame() run.Frame {
	r := func(v []float64) []float64 { return viz.SigAll(v, digits) }
	if s.shown == nil || s.shownRev != s.rev {
		st := s.static(r)
		s.shown, s.shownRev = &st, s.rev
	}
	return run.Frame{StaticRev: s.rev, Static: *s.shown, Data: s.data(r)}
}

func (s *share) static(r func([]float64) []float64) staticPart {
	ps, p := s.ps, s.p
	i := slices.Index(projections, p.Param)
	st := staticPart{
		Params: p, DK: p.DModel / p.Heads, Vocab: vocab,
		Embed: r(ps.embed), PE: r(ps.pe), X: r(ps.x),
		Q: r(ps.q), K: r(ps.k), V: r(ps.v), Scores: r(ps.scores), Attn: r(ps.attn),
		Ctx: r(ps.ctx), Out: r(ps.out), PTarget: r(ps.pTarget), Loss: ps.loss,
		Norms: r(ps.norms[i]), Grad: r(ps.grad[i]), Count: s.count(),
	}
	for t, c := range p.Text {
		st.Tokens = append(st.Tokens, string(c))
		next := "·"
		if t+1 < len(p.Text) {
			next = string(p.Text[t+1])
		}
		st.Targets = append(st.Targets, next)
	}
	for j := range 4 {
		st.W[j], st.B[j] = r(ps.w[j]), r(ps.b[j])
	}
	for _, c := range ps.contrib[i] {
		st.Contrib = append(st.Contrib, r(c))
	}
	return st
}

// count asks the engine's attention layer for its count at the length
// field's T and at powers of two.
func (s *share) count() count {
	d, h := s.p.DModel, s.p.Heads
	c := count{T: s.p.Length}
	for _, np := range s.m.attn.Params() {
		c.Params += np.Size()
	}
	lc := s.m.attn.Count([]int{s.p.Length, d})
	c.Uses, c.Unshared, c.Entries = lc.Uses, lc.Unshared, h*s.p.Length*s.p.Length
	for T := 1; T <= maxCount; T *= 2 {
		c.Ts = append(c.Ts, T)
		c.UsesAt = append(c.UsesAt, s.m.attn.Count([]int{T, d}).Uses)
		c.EntryAt = append(c.EntryAt, h*T*T)
	}
	return c
}

// phase names position k of a run over T tokens and the token it is at.
func phase(k, T int) (string, int) {
	switch {
	case k == 0:
		return "input", 0
	case k <= T:
		return "project", k
	case k == T+1:
		return "scores", 0
	case k == T+2:
		return "softmax", 0
	case k == T+3:
		return "mix", 0
	case k == T+4:
		return "output", 0
	}
	return "ledger", k - T - 4
}

// added is how many contributions position k shows.
func added(k, T int) int { return max(0, k-T-4) }

// sum returns Σ of the first j tokens' contributions to the shown
// projection, added from zero in token order.
func (s *share) sum(j int) []float64 {
	i := slices.Index(projections, s.p.Param)
	out := make([]float64, len(s.ps.grad[i]))
	for _, c := range s.ps.contrib[i][:j] {
		for e, g := range c {
			out[e] += g // a shared weight's gradient is the sum of its uses
		}
	}
	return out
}

// maxDiff is max |Σ − dW| over all T contributions.
func (s *share) maxDiff() float64 {
	i, T := slices.Index(projections, s.p.Param), len(s.p.Text)
	var m float64
	for e, g := range s.sum(T) {
		m = math.Max(m, math.Abs(g-s.ps.grad[i][e]))
	}
	return m
}

func (s *share) data(r func([]float64) []float64) dataPart {
	T := len(s.p.Text)
	ph, tok := phase(s.pos, T)
	j := added(s.pos, T)
	d := dataPart{Step: s.pos, Total: s.Total(), Phase: ph, Token: tok, Added: j, Sum: r(s.sum(j))}
	if j == T {
		m := s.maxDiff()
		d.MaxDiff = &m
	}
	return d
}
