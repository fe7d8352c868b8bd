package attnshare

import (
	"embed"
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/paramshare/paramshare/engine"
	"github.com/paramshare/paramshare/run"
)

const name = "attention-share"

const (
	// maxLen is the longest word: 12 letters keep a T×T map readable on
	// a phone.
	maxLen = 12
	// vocab is a–z and the end mark: the read-out names the next letter,
	// or the end after the last one.
	vocab  = 27
	endTok = 26
	// maxCount is the largest sequence length of the parameter count.
	maxCount = 512
	maxSeed  = 9999
)

// The projections the ledger can show.
const (
	projQ = "w_q"
	projK = "w_k"
	projV = "w_v"
	projO = "w_o"
)

// projections lists them in the engine's order (SelfAttention.Params).
var projections = []string{projQ, projK, projV, projO}

// padded returns word as the text field's bytes: the letters, then zeros.
func padded(word string) string {
	b := make([]byte, maxLen)
	copy(b, word)
	return base64.StdEncoding.EncodeToString(b)
}

var fields = []run.Field{
	{Name: "text", Kind: run.Bytes, Len: maxLen, Default: padded("attention"), Desc: run.Text{
		En: "the word the attention layer reads: 1–12 lowercase letters a–z, padded with zero bytes",
		Zh: "注意力层读入的单词：1–12 个小写字母 a–z，其后用零字节补齐",
	}},
	{Name: "dModel", Kind: run.Int, Default: 4, Min: 2, Max: 8, Desc: run.Text{
		En: "d_model: the size of each token's vector (W_Q, W_K, W_V, W_O are d_model × d_model)",
		Zh: "d_model：每个词元向量的维数（W_Q、W_K、W_V、W_O 都是 d_model × d_model）",
	}},
	{Name: "heads", Kind: run.Int, Default: 1, Min: 1, Max: 2, Desc: run.Text{
		En: "attention heads: each has its own d_k = d_model / heads columns of Q, K and V",
		Zh: "注意力头数：每个头使用 Q、K、V 中自己的 d_k = d_model / heads 列",
	}},
	{Name: "causal", Kind: run.Bool, Default: true, Desc: run.Text{
		En: "causal mask: a token attends only to itself and earlier tokens (needed to guess the next letter honestly)",
		Zh: "因果掩码：每个词元只关注自己和之前的词元（诚实地预测下一个字母需要它）",
	}},
	{Name: "seed", Kind: run.Int, Default: 1, Min: 0, Max: maxSeed, Desc: run.Text{
		En: "the random seed of the initial weights",
		Zh: "初始权重的随机种子",
	}},
	{Name: "param", Kind: run.Choice, Default: projQ, Choices: projections, Desc: run.Text{
		En: "the shared projection whose gradient the ledger adds up: W_Q, W_K, W_V or W_O",
		Zh: "账本累加其梯度的共享投影：W_Q、W_K、W_V 或 W_O",
	}},
	{Name: "length", Kind: run.Int, Default: 64, Min: 1, Max: maxCount, Desc: run.Text{
		En: "a sequence length T for the count: parameters, uses and attention-map entries at T tokens",
		Zh: "用于计数的序列长度 T：T 个词元时的参数、使用次数和注意力图的元素个数",
	}},
}

// wordOf returns the letters of a text field's bytes, or an error naming
// what is wrong with them.
func wordOf(b []byte) (string, error) {
	n := slices.Index(b, 0)
	if n < 0 {
		n = len(b)
	}
	if n == 0 {
		return "", errors.New("empty")
	}
	for _, c := range b[:n] {
		if c < 'a' || c > 'z' {
			return "", errors.New("letter")
		}
	}
	for _, c := range b[n:] {
		if c != 0 {
			return "", errors.New("padding")
		}
	}
	return string(b[:n]), nil
}

// check refuses a text that is not a word and heads that do not divide
// d_model.
func check(v run.Values) error {
	if _, err := wordOf(v.Bytes("text")); err != nil {
		return run.CheckError("text", v.String("text"),
			"the text must be 1–12 lowercase letters a–z followed only by zero bytes",
			"文本必须是 1–12 个小写字母 a–z，之后只能是零字节")
	}
	if d, h := v.Int("dModel"), v.Int("heads"); d%h != 0 {
		return run.CheckError("heads", h,
			fmt.Sprintf("%d heads do not divide d_model = %d; choose a number of heads that does", h, d),
			fmt.Sprintf("%d 个头不能整除 d_model = %d；请选择能整除它的头数", h, d))
	}
	return nil
}

// widget is the page's side: attention-share.js and attention-share.css.
//
//go:embed widget
var widget embed.FS

func init() {
	run.Register(run.Spec{
		Name:   name,
		Widget: run.Sub(widget, "widget"),
		Title:  run.Text{En: "Attention shares its projections", Zh: "注意力共享它的投影"},
		Fields: fields,
		Check:  check,
		New:    func(v run.Values) (run.Experiment, error) { return newShare(v) },
		Exports: []run.Export{
			{Format: "png", Write: writeFigure("png")},
			{Format: "svg", Write: writeFigure("svg")},
			{Format: "json", Write: writeJSON},
			{Format: "trace.json", Write: writeTrace},
		},
		// Measured at the costliest values (12 letters, d_model 8, 2 heads;
		// docs/perf.md): a step and its frame 5–17 µs (the static part is
		// rounded once per revision); building a run (model, one tapped
		// forward and backward pass) 0.27–0.86 ms on the shared 2-core
		// machine; a run holds 0.11 MB; static part 17.3 kB, data 0.2 kB.
		Budget:    run.Budget{Step: 2 * time.Millisecond, Memory: 1 << 20, FrameBytes: 2 << 10, StaticBytes: 32 << 10},
		Costliest: map[string]any{"text": padded("attentionabc"), "dModel": 8, "heads": 2},
	})
}

// params are the parameters as the frame's static part shows them.
type params struct {
	Text   string `json:"text"` // the letters, decoded
	DModel int    `json:"dModel"`
	Heads  int    `json:"heads"`
	Causal bool   `json:"causal"`
	Seed   int    `json:"seed"`
	Param  string `json:"param"`
	Length int    `json:"length"`
}

func paramsOf(v run.Values) params {
	word, _ := wordOf(v.Bytes("text")) // check has refused anything else
	return params{Text: word, DModel: v.Int("dModel"), Heads: v.Int("heads"), Causal: v.Bool("causal"),
		Seed: v.Int("seed"), Param: v.String("param"), Length: v.Int("length")}
}

// model is the lesson's network and its layers.
type model struct {
	m    *engine.Model
	emb  *engine.Embedding
	pos  *engine.PositionalEncoding
	attn *engine.SelfAttention
	out  *engine.Linear
}

// newModel builds embedding(27, d) → sinusoidal positions → self-attention
// → linear(d, 27) → cross-entropy, seeded with PyTorch's initialisations.
func newModel(p params) (*model, error) {
	rng := engine.NewRand(uint64(p.Seed))
	emb, err := engine.NewEmbedding("embed", vocab, p.DModel, rng)
	if err != nil {
		return nil, fmt.Errorf("attnshare: %w", err)
	}
	pos, err := engine.NewPositionalEncoding("pos", engine.PositionsSinusoidal, maxLen, p.DModel, nil)
	if err != nil {
		return nil, fmt.Errorf("attnshare: %w", err)
	}
	attn, err := engine.NewSelfAttention("attn", p.DModel, p.Heads, p.Causal, rng)
	if err != nil {
		return nil, fmt.Errorf("attnshare: %w", err)
	}
	out, err := engine.NewLinear("out", p.DModel, vocab, rng)
	if err != nil {
		return nil, fmt.Errorf("attnshare: %w", err)
	}
	m, err := engine.NewModel(name, []int{len(p.Text)}, engine.NewCrossEntropy(), emb, pos, attn, out)
	if err != nil {
		return nil, fmt.Errorf("attnshare: %w", err)
	}
	return &model{m: m, emb: emb, pos: pos, attn: attn, out: out}, nil
}

// batchOf returns the word as one sequence of token ids and its targets:
// the next letter at every position, the end mark after the last.
func batchOf(word string) (x, y *engine.Tensor) {
	T := len(word)
	x, y = engine.NewTensor(1, T), engine.NewTensor(1, T)
	for t := range T {
		x.Data[t] = float64(word[t] - 'a')
		y.Data[t] = endTok
		if t+1 < T {
			y.Data[t] = float64(word[t+1] - 'a')
		}
	}
	return x, y
}

// param returns the attention's Param with local name local.
func (m *model) param(local string) *engine.Param {
	for _, np := range m.attn.Params() {
		if np.Local == local {
			return np.Param
		}
	}
	panic("attnshare: no attention parameter " + local)
}

// capture is a Recorder that also keeps every layer's output by name.
type capture struct {
	*engine.Recorder
	outs map[string]*engine.Tensor
}

func (c *capture) Output(l engine.Layer, _, y *engine.Tensor) {
	c.outs[l.Spec().Name] = y.Clone()
}

// pass is everything one forward and backward pass showed, row-major.
type pass struct {
	embed, pe, x []float64 // [T, d]: the token's row, its position, their sum
	w, b         [4][]float64
	q, k, v      []float64 // [T, d]: x W_·ᵀ + b_·, by engine linear layers holding the attention's weights
	scores       []float64 // [h, T, T]: Q_h K_hᵀ / √d_k before the mask
	attn         []float64 // [h, T, T]: the engine's attention maps
	ctx          []float64 // [T, d]: concat_h A_h V_h
	out          []float64 // [T, d]: the engine's attention output
	pTarget      []float64 // [T]: the probability the read-out gives the target
	loss         float64
	grad         [4][]float64   // the engine's dW_Q, dW_K, dW_V, dW_O
	contrib      [4][][]float64 // [proj][t]: token t's contribution
	norms        [4][]float64
}

// run computes the pass for p on m.
func run1(p params, m *model) (*pass, error) {
	T, d, h := len(p.Text), p.DModel, p.Heads
	x, y := batchOf(p.Text)
	tap := &capture{
		Recorder: engine.NewRecorder(engine.RecordFilter{
			Params:    []*engine.Param{m.param(projQ), m.param(projK), m.param(projV), m.param(projO)},
			Kinds:     []engine.UseKind{engine.UseToken},
			Internals: []string{engine.InternalAttention},
		}),
		outs: map[string]*engine.Tensor{},
	}
	loss, err := m.m.ComputeGrad(x, y, tap)
	if err != nil {
		return nil, fmt.Errorf("attnshare: %w", err)
	}
	ps := &pass{loss: loss}
	ps.embed = slices.Clone(tap.outs["embed"].Data)
	ps.x = slices.Clone(tap.outs["pos"].Data)
	ps.pe = make([]float64, T*d)
	for i := range ps.pe {
		ps.pe[i] = ps.x[i] - ps.embed[i]
	}
	ps.out = slices.Clone(tap.outs["attn"].Data)
	probs := m.m.Loss.(*engine.CrossEntropy).Probabilities().Data
	ps.pTarget = make([]float64, T)
	for t := range T {
		ps.pTarget[t] = probs[t*vocab+int(y.Data[t])]
	}
	for i, local := range projections {
		wp := m.param(local)
		bp := m.param("b" + local[1:])
		ps.w[i], ps.b[i] = slices.Clone(wp.Value.Data), slices.Clone(bp.Value.Data)
		ps.grad[i] = slices.Clone(wp.Grad.Data)
		uses := tap.Uses(wp, engine.UseToken)
		if len(uses) != T {
			return nil, fmt.Errorf("attnshare: the engine reported %d contributions to %s for %d tokens", len(uses), wp.Name, T)
		}
		for _, u := range uses {
			ps.contrib[i] = append(ps.contrib[i], slices.Clone(u.Grad.Data))
			ps.norms[i] = append(ps.norms[i], norm(u.Grad.Data))
		}
	}
	maps := tap.Values(m.attn, engine.InternalAttention)
	if len(maps) != h {
		return nil, fmt.Errorf("attnshare: the engine showed %d attention maps for %d heads", len(maps), h)
	}
	for _, mp := range maps {
		ps.attn = append(ps.attn, mp.Value.Data...)
	}
	// Q, K and V token by token: an engine linear layer holding the
	// attention's own weight and bias, the same for every row.
	var err2 error
	project := func(local string) []float64 {
		wp := m.param(local)
		lin, err := engine.NewLinearShared("proj_"+local, wp, engine.NewRand(0))
		if err != nil {
			err2 = err
			return nil
		}
		copy(lin.Bias.Value.Data, m.param("b"+local[1:]).Value.Data)
		return slices.Clone(lin.Forward(tap.outs["pos"], nil).Data)
	}
	ps.q, ps.k, ps.v = project(projQ), project(projK), project(projV)
	if err2 != nil {
		return nil, fmt.Errorf("attnshare: %w", err2)
	}
	// The scores and the weighted sum of V, head by head, from those Q, K,
	// V and the engine's maps (the tests check them against the engine).
	dk := d / h
	scale := 1 / math.Sqrt(float64(dk))
	ps.scores = make([]float64, h*T*T)
	ps.ctx = make([]float64, T*d)
	for hd := range h {
		for i := range T {
			for j := range T {
				var s float64
				for c := hd * dk; c < (hd+1)*dk; c++ {
					s += ps.q[i*d+c] * ps.k[j*d+c]
				}
				ps.scores[(hd*T+i)*T+j] = s * scale
				a := ps.attn[(hd*T+i)*T+j]
				for c := hd * dk; c < (hd+1)*dk; c++ {
					ps.ctx[i*d+c] += a * ps.v[j*d+c]
				}
			}
		}
	}
	return ps, nil
}

func norm(v []float64) float64 {
	var s float64
	for _, x := range v {
		s += x * x
	}
	return math.Sqrt(s)
}

// share is the experiment.
type share struct {
	v   run.Values
	p   params
	rev int
	m   *model
	ps  *pass
	pos int
	// shown is the rounded static part of revision shownRev.
	shown    *staticPart
	shownRev int
}

var (
	_ run.Experiment = (*share)(nil)
	_ run.Rewinder   = (*share)(nil)
)

func newShare(v run.Values) (*share, error) {
	s := &share{}
	if err := s.load(v); err != nil {
		return nil, err
	}
	return s, nil
}

// load builds the model for v and runs its pass; only then does it
// replace s's state (keeping the position when it still exists), so an
// error leaves s as it was.
func (s *share) load(v run.Values) error {
	p := paramsOf(v)
	m, err := newModel(p)
	if err != nil {
		return err
	}
	ps, err := run1(p, m)
	if err != nil {
		return err
	}
	pos := min(s.pos, total(len(p.Text)))
	*s = share{v: v, p: p, rev: s.rev + 1, m: m, ps: ps, pos: pos}
	return nil
}

func total(T int) int { return 2*T + 4 }

// Total is 2T + 4 (see the package doc).
func (s *share) Total() int { return total(len(s.p.Text)) }

// Pos is the position shown.
func (s *share) Pos() int { return s.pos }

// Advance shows the next part of the pass.
func (s *share) Advance() error {
	if s.pos >= s.Total() {
		return errors.New("attnshare: no steps left")
	}
	s.pos++
	return nil
}

// Rewind goes back to position k: nothing is recomputed.
func (s *share) Rewind(k int) error {
	s.pos = k
	return nil
}

// Restart goes back to position 0.
func (s *share) Restart() error {
	s.pos = 0
	return nil
}

// SetParams takes new values. A new projection to show or count length is
// a new view of the same pass and keeps the position; anything else
// computes a new pass and keeps the position when the run still has it.
func (s *share) SetParams(v run.Values) error {
	if v.Equal(s.v) {
		return nil
	}
	view := func(v run.Values) run.Values { return v.With("param", projQ).With("length", 1) }
	if view(v).Equal(view(s.v)) {
		s.v, s.p = v, paramsOf(v)
		s.rev++
		return nil
	}
	return s.load(v)
}
