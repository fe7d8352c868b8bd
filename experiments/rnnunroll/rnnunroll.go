// Package rnnunroll is the experiment of lesson 6, "One cell, many time
// steps": one engine RNN cell (torch.nn.RNN, tanh, h_0 = 0) reads a word
// one character at a time, the characters one-hot over a–z. Step t shows
// how h_t is made from x_t and h_{t−1} with the same W_ih, W_hh, b_ih and
// b_hh as every other step: W_ih·x_t, W_hh·h_{t−1}, the two biases, their
// sum a_t and tanh(a_t). The h_t shown are the engine's own (a Recorder's
// InternalHidden); the parts are computed here from the engine's
// parameters, and the tests check that tanh of their sum is the engine's
// h_t to 1e-12.
//
// Beside it, the count line: for a sequence length T (1…200) the engine's
// Model.Count — parameters flat, multiply-adds growing with T — and the
// unshared twin, an RNN unrolled into T cells with weights of their own
// (Count().Unshared, T × the parameters), which cannot read a word longer
// than the T it was built for: it has no weights for the steps after T.
// No training happens in this lesson: the cell keeps its seeded init.
package rnnunroll

import (
	"embed"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/paramshare/paramshare/engine"
	"github.com/paramshare/paramshare/run"
)

const name = "rnn-unroll"

// alphabet is the input's vocabulary: x_t is the one-hot vector of the
// character's index here.
const alphabet = "abcdefghijklmnopqrstuvwxyz"

// words are the choices of the word the cell reads, shortest first, of
// eight different lengths (2 to 15 characters), all within alphabet.
var words = []string{"go", "cat", "cell", "share", "weights", "sequence", "parameters", "backpropagation"}

const (
	defaultWord = "share"
	maxT        = 200
)

var fields = []run.Field{
	{Name: "word", Kind: run.Choice, Default: defaultWord, Choices: words, Desc: run.Text{
		En: "the word the RNN reads, one character (one-hot over a–z) per time step",
		Zh: "RNN 读入的单词，每个时间步读一个字符（在 a–z 上独热编码）",
	}},
	{Name: "T", Kind: run.Int, Default: len(defaultWord), Min: 1, Max: maxT, Desc: run.Text{
		En: "the sequence length for the parameter count; the unshared RNN is built for exactly T steps",
		Zh: "参数计数所用的序列长度；不共享的 RNN 恰好按 T 个时间步构建",
	}},
	{Name: "hidden", Kind: run.Int, Default: 3, Min: 2, Max: 16, Desc: run.Text{
		En: "the size of the hidden state h_t",
		Zh: "隐藏状态 h_t 的维数",
	}},
	{Name: "seed", Kind: run.Int, Default: 1, Min: 0, Max: 9999, Desc: run.Text{
		En: "the random seed of the cell's initial weights (PyTorch's init, no training)",
		Zh: "单元初始权重的随机种子（PyTorch 的初始化方式，不训练）",
	}},
}

// widget is the page's side: rnn-unroll.js and rnn-unroll.css.
//
//go:embed widget
var widget embed.FS

func init() {
	run.Register(run.Spec{
		Name:   name,
		Widget: run.Sub(widget, "widget"),
		Title:  run.Text{En: "One cell, many time steps", Zh: "一个单元，许多时间步"},
		Fields: fields,
		New:    func(v run.Values) (run.Experiment, error) { return newUnroll(v) },
		Exports: []run.Export{
			{Format: "png", Write: writeFigure("png")},
			{Format: "svg", Write: writeFigure("svg")},
			{Format: "json", Write: writeJSON},
			{Format: "trace.json", Write: writeTrace},
		},
		// Measured by the conformance test at the costliest values (hidden
		// 16, the 15-character word, T = 200): a step only moves the
		// position (the engine's forward runs when the parameters change),
		// below the CPU clock's resolution; a run holds 0.04 MB; the
		// largest data part is 3.1 kB and the largest static part 5.5 kB.
		Budget:    run.Budget{Step: 200 * time.Microsecond, Memory: 256 << 10, FrameBytes: 8 << 10, StaticBytes: 8 << 10},
		Costliest: map[string]any{"word": "backpropagation", "hidden": 16, "T": maxT},
	})
}

// params are the parameters. The frame's static part shows them without
// T (a new T changes only the data part's count line).
type params struct {
	Word   string `json:"word"`
	T      int    `json:"-"`
	Hidden int    `json:"hidden"`
	Seed   int    `json:"seed"`
}

func paramsOf(v run.Values) params {
	return params{Word: v.String("word"), T: v.Int("T"), Hidden: v.Int("hidden"), Seed: v.Int("seed")}
}

// tokens returns the indices of word's characters in alphabet.
func tokens(word string) []int {
	out := make([]int, len(word))
	for i, c := range word {
		out[i] = int(c - 'a')
	}
	return out
}

// newCell returns the lesson's model on a sequence of steps characters:
// one_hot(26) → rnn(26 → hidden), its weights drawn from seed with
// PyTorch's init. The loss (MSE against zero hidden states) is used only by
// the step trace; the lesson trains nothing.
func newCell(hidden, seed, steps int) (*engine.Model, *engine.RNN, error) {
	oneHot, err := engine.NewOneHot("onehot", len(alphabet))
	if err != nil {
		return nil, nil, fmt.Errorf("rnnunroll: %w", err)
	}
	cell, err := engine.NewRNN("rnn", len(alphabet), hidden, engine.NewRand(uint64(seed)))
	if err != nil {
		return nil, nil, fmt.Errorf("rnnunroll: %w", err)
	}
	m, err := engine.NewModel("rnn-unroll", []int{steps}, engine.NewMSE(), oneHot, cell)
	if err != nil {
		return nil, nil, fmt.Errorf("rnnunroll: %w", err)
	}
	return m, cell, nil
}

// unshared is the twin without sharing: the RNN unrolled into Steps cells,
// each with weights of its own (PerStep numbers each), so it can be built
// only for a fixed length and cannot read a longer sequence.
type unshared struct {
	Steps   int
	PerStep int
}

// read returns nil when the twin can read a sequence of n steps, or the
// refusal (a *run.Error in both languages) when n > Steps: steps Steps+1…n
// have no weights.
func (u unshared) read(word string) error {
	n := len(word)
	if n <= u.Steps {
		return nil
	}
	missing := fmt.Sprintf("%d", u.Steps+1)
	if n > u.Steps+1 {
		missing = fmt.Sprintf("%d–%d", u.Steps+1, n)
	}
	return run.NewError("too-long",
		fmt.Sprintf("The unshared RNN was built for T = %d steps and cannot read “%s” (%d characters): it has no weights for step %s.", u.Steps, word, n, missing),
		fmt.Sprintf("不共享的 RNN 按 T = %d 个时间步构建，读不了“%s”（%d 个字符）：第 %s 步没有权重。", u.Steps, word, n, missing))
}

// unroll is the experiment. Step k has computed h_1 … h_k (h_0 = 0).
type unroll struct {
	v      run.Values
	p      params
	tokens []int
	model  *engine.Model // built on the word's length, kept for the trace
	cell   *engine.RNN
	x      *engine.Tensor // the word's indices, [1, L]
	hs     [][]float64    // the engine's h_t, t = 1…L, from a Recorder
	rev    int

	counts counts // for p.T

	pos int
}

var _ run.Rewinder = (*unroll)(nil)

func newUnroll(v run.Values) (*unroll, error) {
	u := &unroll{}
	if err := u.load(v, 0); err != nil {
		return nil, err
	}
	return u, nil
}

// load builds the cell for v, runs the engine's forward over the word
// with a Recorder for the hidden states and sets the step to min(keep, L).
// An error leaves u as it was.
func (u *unroll) load(v run.Values, keep int) error {
	p := paramsOf(v)
	toks := tokens(p.Word)
	model, cell, err := newCell(p.Hidden, p.Seed, len(toks))
	if err != nil {
		return err
	}
	x := engine.NewTensor(1, len(toks))
	for i, k := range toks {
		x.Data[i] = float64(k)
	}
	rec := engine.NewRecorder(engine.RecordFilter{Internals: []string{engine.InternalHidden}})
	model.Forward(x, rec)
	vals := rec.Values(cell, engine.InternalHidden)
	if len(vals) != len(toks) {
		return fmt.Errorf("rnnunroll: the engine showed %d hidden states for %d steps", len(vals), len(toks))
	}
	hs := make([][]float64, len(vals))
	for t, iv := range vals {
		hs[t] = slices.Clone(iv.Value.Data) // [1, H]
	}
	c, err := countFor(p)
	if err != nil {
		return err
	}
	*u = unroll{v: v, p: p, tokens: toks, model: model, cell: cell, x: x, hs: hs, rev: u.rev + 1, counts: c}
	u.pos = min(keep, u.Total())
	return nil
}

// countFor returns the count line for p: the engine's Model.Count of the
// cell built for p.T steps, and of the same cell on the word.
func countFor(p params) (counts, error) {
	mT, _, err := newCell(p.Hidden, p.Seed, p.T)
	if err != nil {
		return counts{}, err
	}
	mW, _, err := newCell(p.Hidden, p.Seed, len(p.Word))
	if err != nil {
		return counts{}, err
	}
	cT, cW := mT.Count(), mW.Count()
	c := counts{
		T: p.T, Params: cT.Params, Uses: cT.Uses, Unshared: cT.Unshared,
		WordSteps: len(p.Word), WordUses: cW.Uses,
	}
	tw := unshared{Steps: p.T, PerStep: cT.Params}
	if err := tw.read(p.Word); err != nil {
		e := err.(*run.Error)
		c.Refusal = &text{En: e.Text.En, Zh: e.Text.Zh}
	}
	return c, nil
}

// Total is the number of time steps: the word's length.
func (u *unroll) Total() int { return len(u.tokens) }

// Pos is the number of hidden states computed.
func (u *unroll) Pos() int { return u.pos }

// Advance computes the next hidden state.
func (u *unroll) Advance() error {
	if u.pos < u.Total() {
		u.pos++
	}
	return nil
}

// Rewind goes back to step k < Pos: every h_t is kept, only the step moves.
func (u *unroll) Rewind(k int) error {
	u.pos = k
	return nil
}

// Restart goes back to step 0.
func (u *unroll) Restart() error { return u.Rewind(0) }

// SetParams takes new values. A new T changes only the count line; a new
// word, hidden size or seed rebuilds the cell, keeping the step (up to the
// new word's length).
func (u *unroll) SetParams(v run.Values) error {
	if v.Equal(u.v) {
		return nil
	}
	p := paramsOf(v)
	if p.Word == u.p.Word && p.Hidden == u.p.Hidden && p.Seed == u.p.Seed {
		c, err := countFor(p)
		if err != nil {
			return err
		}
		u.v, u.p, u.counts = v, p, c
		return nil
	}
	return u.load(v, u.pos)
}

// text is a sentence in both languages, as the frame carries it.
type text struct {
	En string `json:"en"`
	Zh string `json:"zh"`
}

// counts is the count line, from the engine's Model.Count.
type counts struct {
	T        int `json:"T"`        // the sequence length counted
	Params   int `json:"params"`   // the cell's parameters, the same for every T
	Uses     int `json:"uses"`     // multiply-adds on a sequence of T steps: T·H·(26+H)
	Unshared int `json:"unshared"` // the unshared twin's parameters: T × Params
	// WordSteps and WordUses are the word's length and the multiply-adds
	// of reading it.
	WordSteps int `json:"wordSteps"`
	WordUses  int `json:"wordUses"`
	// Refusal is the unshared twin's (built for T steps) refusal of the
	// word, null when it can read it.
	Refusal *text `json:"refusal"`
}

// staticPart changes only with the word, the hidden size and the seed.
type staticPart struct {
	Params   params      `json:"params"`
	Alphabet string      `json:"alphabet"`
	Tokens   []int       `json:"tokens"`
	WIH      [][]float64 `json:"wih"` // [H][26], the engine's weight_ih
	WHH      [][]float64 `json:"whh"` // [H][H], weight_hh
	BIH      []float64   `json:"bih"` // [H]
	BHH      []float64   `json:"bhh"` // [H]
	// HAbsMax is the largest |h_t| over the word (≤ 1), for a colour
	// scale that stays fixed while the steps fill in.
	HAbsMax float64 `json:"hAbsMax"`
	// WAbsMax is the largest |weight| of W_ih and W_hh: their colour scale.
	WAbsMax float64 `json:"wAbsMax"`
}

// dataPart changes with each step (and with T).
type dataPart struct {
	Step   int         `json:"step"`
	Total  int         `json:"total"`
	Hidden [][]float64 `json:"hidden"` // h_1 … h_step
	Cur    *stepParts  `json:"cur"`    // step `step`'s arithmetic; null at step 0
	Counts counts      `json:"counts"`
}

// stepParts is one time step's arithmetic: h_t = tanh(W_ih·x_t + b_ih +
// W_hh·h_{t−1} + b_hh).
type stepParts struct {
	T     int       `json:"t"`     // 1-based
	Char  string    `json:"char"`  // x_t's character
	Token int       `json:"token"` // its index in the alphabet: x_t's 1
	HPrev []float64 `json:"hPrev"` // h_{t−1} (zeros at t = 1)
	WX    []float64 `json:"wx"`    // W_ih·x_t
	WH    []float64 `json:"wh"`    // W_hh·h_{t−1}
	BIH   []float64 `json:"bih"`
	BHH   []float64 `json:"bhh"`
	A     []float64 `json:"a"` // the sum of the four
	// H is the engine's h_t; tanh(A) equals it to 1e-12.
	H []float64 `json:"h"`
}

// parts returns step t's arithmetic (t = 1…L) from the engine's
// parameters and hidden states.
func (u *unroll) parts(t int) *stepParts {
	hid, in := u.p.Hidden, len(alphabet)
	wih, whh := u.cell.WeightIH.Value.Data, u.cell.WeightHH.Value.Data
	xt := make([]float64, in)
	xt[u.tokens[t-1]] = 1
	hPrev := make([]float64, hid)
	if t > 1 {
		copy(hPrev, u.hs[t-2])
	}
	sp := &stepParts{
		T: t, Char: alphabet[u.tokens[t-1] : u.tokens[t-1]+1], Token: u.tokens[t-1],
		HPrev: hPrev, WX: make([]float64, hid), WH: make([]float64, hid),
		BIH: slices.Clone(u.cell.BiasIH.Value.Data), BHH: slices.Clone(u.cell.BiasHH.Value.Data),
		A: make([]float64, hid), H: slices.Clone(u.hs[t-1]),
	}
	for j := range hid {
		for i, x := range xt {
			sp.WX[j] += wih[j*in+i] * x
		}
		for k, h := range hPrev {
			sp.WH[j] += whh[j*hid+k] * h
		}
		sp.A[j] = sp.WX[j] + sp.BIH[j] + sp.WH[j] + sp.BHH[j]
	}
	return sp
}

// static returns the static part, the weights rounded to digits decimals
// (digits < 0: full precision).
func (u *unroll) static(digits int) staticPart {
	hid, in := u.p.Hidden, len(alphabet)
	r := rounder(digits)
	st := staticPart{
		Params: u.p, Alphabet: alphabet, Tokens: slices.Clone(u.tokens),
		BIH: r(u.cell.BiasIH.Value.Data), BHH: r(u.cell.BiasHH.Value.Data),
	}
	wih, whh := u.cell.WeightIH.Value.Data, u.cell.WeightHH.Value.Data
	for j := range hid {
		st.WIH = append(st.WIH, r(wih[j*in:(j+1)*in]))
		st.WHH = append(st.WHH, r(whh[j*hid:(j+1)*hid]))
	}
	for _, w := range append(slices.Clone(wih), whh...) {
		st.WAbsMax = math.Max(st.WAbsMax, math.Abs(w))
	}
	for _, h := range u.hs {
		for _, v := range h {
			st.HAbsMax = math.Max(st.HAbsMax, math.Abs(v))
		}
	}
	return st
}

// data returns the step's data, the hidden states so far rounded to
// digits decimals (the current step's parts keep full precision).
func (u *unroll) data(digits int) dataPart {
	r := rounder(digits)
	d := dataPart{Step: u.pos, Total: u.Total(), Hidden: [][]float64{}, Counts: u.counts}
	for _, h := range u.hs[:u.pos] {
		d.Hidden = append(d.Hidden, r(h))
	}
	if u.pos > 0 {
		d.Cur = u.parts(u.pos)
	}
	return d
}

// rounder returns a function that copies a slice rounded to digits
// decimals (digits < 0: a plain copy).
func rounder(digits int) func([]float64) []float64 {
	scale := math.Pow10(digits)
	return func(v []float64) []float64 {
		out := slices.Clone(v)
		if digits >= 0 {
			for i, x := range out {
				out[i] = math.Round(x*scale) / scale
			}
		}
		return out
	}
}

// liveDigits is the number of decimals of the weights and past hidden
// states in live frames: the widget shows 3, and 4 keep the largest
// static part (hidden 16) under 6 kB.
const liveDigits = 4

// Frame returns the static part (its revision changes with the word,
// hidden size and seed) and the step's data.
func (u *unroll) Frame() run.Frame {
	return run.Frame{StaticRev: u.rev, Static: u.static(liveDigits), Data: u.data(liveDigits)}
}
