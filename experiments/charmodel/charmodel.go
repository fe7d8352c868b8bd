// Package charmodel is the experiment of lesson 10, "A character model":
// one recurrent cell (torch.nn.RNN, LSTM or GRU, h_0 = 0) trained live on
// the course's corpus (engine/data.Corpus) to predict the next character
// at every step (engine.NewSeqModel with EveryStep: one-hot input, the
// cell, a linear layer to the vocabulary, cross-entropy). A step is one
// Adam step on a batch of windows of the training text.
//
// A frame shows three things, every number from the engine:
//
//   - the loss: the batch loss of every step, and every sampleEvery steps
//     the loss on held-out text (the corpus' last tenth, never trained
//     on), under the loss of guessing uniformly, ln V;
//   - a sample: sampleLen characters after a fixed prompt, each drawn from
//     softmax(logits/τ) of the engine's forward over the characters before
//     it (the last seqLen of them, from h_0 = 0, as the model was
//     trained). It is drawn by the step that takes the model to a
//     multiple of sampleEvery (and at step 0 and the last step) from that
//     step's weights (kept as a snapshot), with a random stream fixed by
//     the seed and that step: a seek or replay shows the same text, and a
//     new temperature re-draws it from the same weights and the same
//     uniform numbers without retraining;
//   - the reach: one prediction (the character after a fixed held-out
//     context of reachLen characters) and, from one backward pass of that
//     prediction's loss alone, each of the reachLen steps' piece of the
//     shared W_hh's gradient (engine.Recorder, UseStep) and ‖∂L/∂h_t‖ (the
//     hidden.grad internal), computed by every step for its new weights.
//     The pieces add up to the engine's dW_hh.
//
// Both are computed in Advance, not in Frame, so that Budget.Step (which
// the conformance test measures on Advance) covers all of a step's work;
// Frame only rounds and copies.
package charmodel

import (
	"embed"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/paramshare/paramshare/engine"
	"github.com/paramshare/paramshare/engine/data"
	"github.com/paramshare/paramshare/run"
	"github.com/paramshare/paramshare/viz"
)

// Name is the experiment's name in the registry, the protocol and export
// URLs.
const Name = "char-model"

const (
	// total is a run's length in steps (one batch each).
	total = 600
	// batch is the windows per step.
	batch = 16
	// sampleEvery is the steps between two samples and two held-out
	// losses: a sample costs sampleLen forwards.
	sampleEvery = 20
	// sampleLen is the characters a sample draws after the prompt.
	sampleLen = 120
	// reachLen is the characters whose pieces of dW_hh the reach shows.
	reachLen = 50
	// clipNorm bounds the gradient's norm before each Adam step (as
	// torch.nn.utils.clip_grad_norm_; char-rnn instead clips each element
	// at ±5): a recurrent model's gradient can spike on a batch.
	clipNorm = 5
	// prompt starts every sample.
	prompt = "The same "
	// reachEnd is the held-out text that the reach's prediction ends: the
	// model reads the reachLen characters before its last character and
	// predicts that one.
	reachEnd = "the gradient that the optimizer uses"
	// reachFloor is the share of the largest piece that a piece must reach
	// to count for the reach's distance (1 %).
	reachFloor = 0.01
)

// Cells are the recurrent cells a model can use.
func Cells() []string { return []string{"rnn", "lstm", "gru"} }

// The corpus split: the first nine tenths (to a line break) train, the
// rest is held out. Both are substrings of the shared corpus, not copies.
var (
	corpus              = data.Corpus()
	vocab, vocabIndex   = data.CharVocab(corpus)
	trainText, heldText = split(corpus)
	reachIn, reachNext  = reachContext()
)

// split cuts text at the first line break after nine tenths.
func split(text string) (train, held string) {
	cut := len(text) * 9 / 10
	if i := strings.IndexByte(text[cut:], '\n'); i >= 0 {
		cut += i + 1
	}
	return text[:cut], text[cut:]
}

// reachContext returns what the reach's model reads — the reachLen+1
// held-out characters before the last character of reachEnd, so that
// every one of the reachLen steps shown has an h_{t−1} — and that last
// character, which it predicts.
func reachContext() ([]int, int) {
	i := strings.Index(heldText, reachEnd)
	if i < 0 {
		panic("charmodel: the reach's text is not in the held-out corpus")
	}
	end := i + len(reachEnd) - 1 // the predicted character (ASCII: bytes are runes)
	if end < reachLen+1 {
		panic("charmodel: the reach's text starts too early")
	}
	return ids(heldText[end-reachLen-1 : end]), vocabIndex[rune(heldText[end])]
}

// ids returns the vocabulary indices of s's characters.
func ids(s string) []int {
	out := make([]int, 0, len(s))
	for _, r := range s {
		out = append(out, vocabIndex[r])
	}
	return out
}

var fields = []run.Field{
	{Name: "cell", Kind: run.Choice, Default: "gru", Choices: Cells(), Desc: run.Text{
		En: "the recurrent cell used at every character: rnn (tanh), lstm or gru",
		Zh: "每个字符都用的循环单元：rnn（tanh）、lstm 或 gru",
	}},
	{Name: "hidden", Kind: run.Int, Default: 64, Min: 16, Max: 128, Desc: run.Text{
		En: "the size of the hidden state h_t",
		Zh: "隐藏状态 h_t 的维数",
	}},
	{Name: "seqLen", Kind: run.Int, Default: 32, Min: 8, Max: 64, Desc: run.Text{
		En: "the characters in each training window (and the characters a sample reads before each draw)",
		Zh: "每个训练窗口的字符数（也是采样时每抽一个字符前读入的字符数）",
	}},
	{Name: "lr", Kind: run.Number, Default: 0.01, Min: 1e-4, Max: 0.05, Desc: run.Text{
		En: "Adam's learning rate",
		Zh: "Adam 的学习率",
	}},
	{Name: "seed", Kind: run.Int, Default: 1, Min: 0, Max: 9999, Desc: run.Text{
		En: "seed of the initial weights, the training windows and the samples",
		Zh: "初始权重、训练窗口和采样的随机种子",
	}},
	{Name: "temperature", Kind: run.Number, Default: 0.8, Min: 0.1, Max: 2, Desc: run.Text{
		En: "sampling temperature τ: characters are drawn from softmax(logits/τ); changing it does not retrain",
		Zh: "采样温度 τ：按 softmax(logits/τ) 抽取字符；改变它不会重新训练",
	}},
}

// widget is the page's side: char-model.js and char-model.css.
//
//go:embed widget
var widget embed.FS

func init() {
	run.Register(run.Spec{
		Name:   Name,
		Widget: run.Sub(widget, "widget"),
		Title:  run.Text{En: "A character model", Zh: "字符级语言模型"},
		Fields: fields,
		New:    func(v run.Values) (run.Experiment, error) { return newCharModel(v) },
		// The exports replay the training to their step: seconds of CPU
		// near the end of a run at the costliest values.
		Exports: []run.Export{
			{Format: "png", Heavy: true, Write: writeFigure("png")},
			{Format: "svg", Heavy: true, Write: writeFigure("svg")},
			{Format: "json", Heavy: true, Write: writeJSON},
			{Format: "trace.json", Heavy: true, Write: writeTrace},
		},
		// At the costliest values (an LSTM of 128 on windows of 64) a
		// step is ≈ 50 ms (the training step and the reach's pass), and
		// every sampleEvery-th step ≈ 340 ms: its sample is 120 forwards
		// over windows of 64. The budget covers the mean over a sample
		// period (≈ 65 ms) and that slowest step within the conformance
		// test's 2.5× + 5 ms; see README.md and docs/perf.md.
		Budget:    run.Budget{Step: 150 * time.Millisecond, Memory: 32 << 20, FrameBytes: 10 << 10, StaticBytes: 2 << 10},
		Costliest: map[string]any{"cell": "lstm", "hidden": 128, "seqLen": 64},
	})
}

// params are the parameters as the frame's static part shows them (the
// temperature is in the data part: changing it keeps the static part).
type params struct {
	Cell   string  `json:"cell"`
	Hidden int     `json:"hidden"`
	SeqLen int     `json:"seqLen"`
	LR     float64 `json:"lr"`
	Seed   int     `json:"seed"`
}

func paramsOf(v run.Values) params {
	return params{Cell: v.String("cell"), Hidden: v.Int("hidden"), SeqLen: v.Int("seqLen"), LR: v.Float("lr"), Seed: v.Int("seed")}
}

// newModel returns the lesson's model for p: one_hot(V), the cell,
// linear H→V at every step, cross-entropy; torch's init from p.Seed.
func newModel(p params) (*engine.Model, error) {
	m, err := engine.NewSeqModel(Name, engine.SeqConfig{Cell: p.Cell, Vocab: len(vocab), Hidden: p.Hidden, T: p.SeqLen, EveryStep: true}, uint64(p.Seed))
	if err != nil {
		return nil, fmt.Errorf("charmodel: %w", err)
	}
	return m, nil
}

// weightHH returns the cell's weight_hh: the one W_hh every step uses.
func weightHH(m *engine.Model) *engine.Param {
	for _, np := range m.Layers[1].Params() {
		if np.Local == "weight_hh" {
			return np.Param
		}
	}
	panic("charmodel: the cell has no weight_hh")
}

// copyWeights sets dst's parameters to src's (the same architecture).
func copyWeights(dst, src *engine.Model) {
	for i, p := range src.Params() {
		copy(dst.Params()[i].Value.Data, p.Value.Data)
	}
}

// batchSource returns the random source of the training windows for seed.
func batchSource(seed int) *rand.PCG { return rand.NewPCG(uint64(seed), 0x63686172) }

// sampleRand returns the random stream of the sample drawn at step: fixed
// by the seed and the step, the same whatever the temperature.
func sampleRand(seed, step int) *rand.Rand {
	return rand.New(rand.NewPCG(uint64(seed), 0x73616d70<<16|uint64(step)))
}

// charModel is the experiment.
type charModel struct {
	v   run.Values
	p   params
	rev int

	model *engine.Model // trained
	opt   *engine.Adam
	src   *rand.PCG // the training windows' source
	rng   *rand.Rand
	// sampler holds the weights of the last sample step (a snapshot) and
	// draws the samples; probe is the current weights' copy for the
	// reach, the held-out loss and the trace, so that their passes never
	// touch the trained model's buffers.
	sampler, probe *engine.Model

	pos       int
	train     []float64 // batch loss of each step
	heldSteps []int     // steps of the held-out losses
	held      []float64
	diverged  bool

	sample *sampleText // the sample of sampleStep at the current temperature
	reach  *reach      // the reach of step pos

	// lean (set by the claims tests only) skips the per-step reach and
	// the samples in Advance: neither touches the training's weights or
	// random numbers, so the run is the same, at a third of the cost.
	lean bool
}

var _ run.Experiment = (*charModel)(nil)

func newCharModel(v run.Values) (*charModel, error) {
	c := &charModel{}
	if err := c.load(v); err != nil {
		return nil, err
	}
	return c, nil
}

// load builds fresh models for v at step 0; an error leaves c as it was.
func (c *charModel) load(v run.Values) error {
	p := paramsOf(v)
	var ms [3]*engine.Model
	for i := range ms {
		m, err := newModel(p)
		if err != nil {
			return err
		}
		ms[i] = m
	}
	src := batchSource(p.Seed)
	*c = charModel{
		v: v, p: p, rev: c.rev + 1,
		model: ms[0], sampler: ms[1], probe: ms[2],
		opt: engine.NewAdam(p.LR, 0.9, 0.999, 1e-8), src: src, rng: rand.New(src),
		train: []float64{},
	}
	c.heldSteps = []int{0}
	c.held = []float64{c.heldLoss()}
	c.drawCurrentSample()
	c.computeReach()
	return nil
}

// Total is the run's length in steps.
func (c *charModel) Total() int { return total }

// Pos is the steps taken.
func (c *charModel) Pos() int { return c.pos }

// Restart goes back to the initial weights (the same seed: the same run).
func (c *charModel) Restart() error { return c.load(c.v) }

// SetParams takes new values. A new temperature only re-draws the sample
// (the step stays); anything else trains a new model from step 0.
func (c *charModel) SetParams(v run.Values) error {
	if v.Equal(c.v) {
		return nil
	}
	if paramsOf(v) == c.p {
		c.v = v
		c.drawCurrentSample()
		return nil
	}
	return c.load(v)
}

// temperature is the sampling temperature τ.
func (c *charModel) temperature() float64 { return c.v.Float("temperature") }

// Advance trains one step: a batch of windows of the training text, the
// engine's gradient, clipped to clipNorm, and an Adam step; then the reach
// of the new weights. Every sampleEvery steps (and at the end) it also
// measures the held-out loss and draws the sample from the new weights.
func (c *charModel) Advance() error {
	if c.pos >= total {
		return fmt.Errorf("charmodel: the run's %d steps are done", total)
	}
	if c.diverged {
		return run.DivergedError(run.NewError(run.CodeStepFailed,
			"the model diverged earlier; reset or lower the learning rate",
			"模型之前已经发散；请重置或降低学习率"))
	}
	x, y := data.CharBatch(c.rng, trainText, vocabIndex, batch, c.p.SeqLen)
	loss, err := c.model.ComputeGrad(x, y, nil)
	if err != nil {
		if errors.Is(err, engine.ErrDiverged) {
			c.diverged = true
			return run.DivergedError(run.NewError(run.CodeStepFailed,
				fmt.Sprintf("the model diverged at step %d (loss %v): lower the learning rate", c.pos+1, loss),
				fmt.Sprintf("模型在第 %d 步发散（损失 %v）：请降低学习率", c.pos+1, loss)))
		}
		return fmt.Errorf("charmodel: %w", err)
	}
	engine.ClipGradNorm(c.model.Params(), clipNorm)
	c.opt.Step(c.model.Params())
	c.pos++
	c.train = append(c.train, loss)
	if c.pos%sampleEvery == 0 || c.pos == total {
		c.heldSteps = append(c.heldSteps, c.pos)
		c.held = append(c.held, c.heldLoss())
		if !c.lean {
			c.drawCurrentSample()
		}
	}
	if !c.lean {
		c.computeReach()
	}
	return nil
}

// sampleStep is the step whose weights drew the sample shown at pos.
func (c *charModel) sampleStep() int {
	if c.pos == total {
		return total
	}
	return c.pos - c.pos%sampleEvery
}

// heldLoss is the mean cross-entropy of the current weights on the
// held-out text, read as consecutive windows of seqLen characters from
// h_0 = 0 (as the model trains). It also leaves the weights of this step
// in the sampler: the held-out steps are the sample steps.
func (c *charModel) heldLoss() float64 {
	copyWeights(c.sampler, c.model)
	copyWeights(c.probe, c.model)
	n := c.p.SeqLen
	toks := ids(heldText)
	rows := (len(toks) - 1) / n
	x, y := engine.NewTensor(rows, n), engine.NewTensor(rows, n)
	for r := range rows {
		for t := range n {
			x.Data[r*n+t] = float64(toks[r*n+t])
			y.Data[r*n+t] = float64(toks[r*n+t+1])
		}
	}
	return c.probe.Loss.Forward(c.probe.Forward(x, nil), y)
}

// sampleText is a sample: the prompt and the characters drawn after it.
type sampleText struct {
	Step        int     `json:"step"` // the step whose weights drew it
	Temperature float64 `json:"temperature"`
	Prompt      string  `json:"prompt"`
	Text        string  `json:"text"` // the sampleLen characters drawn
}

// drawSample draws sampleLen characters after the prompt with model m at
// temperature tau from rng: each from softmax(z/τ), z the logits of the
// engine's forward over the last window characters (at most) so far.
func drawSample(m *engine.Model, tau float64, window int, rng *rand.Rand) string {
	seq := ids(prompt)
	var out strings.Builder
	z := make([]float64, len(vocab))
	for range sampleLen {
		ctx := seq[max(0, len(seq)-window):]
		x := engine.NewTensor(1, len(ctx))
		for i, k := range ctx {
			x.Data[i] = float64(k)
		}
		y := m.Forward(x, nil) // [1, len(ctx), V]
		last := y.Data[(len(ctx)-1)*len(vocab):]
		for i := range z {
			z[i] = last[i] / tau
		}
		k := drawFrom(engine.Softmax(z), rng.Float64())
		seq = append(seq, k)
		out.WriteRune(vocab[k])
	}
	return out.String()
}

// drawFrom returns the index that the uniform number u picks from the
// probabilities p: the first whose cumulative sum exceeds u.
func drawFrom(p []float64, u float64) int {
	var acc float64
	for i, q := range p {
		acc += q
		if u < acc {
			return i
		}
	}
	return len(p) - 1 // u within rounding of 1
}

// drawCurrentSample draws the sample of step sampleStep at the current
// temperature from the sampler's weights (that step's).
func (c *charModel) drawCurrentSample() {
	s := c.sampleStep()
	tau := c.temperature()
	c.sample = &sampleText{Step: s, Temperature: tau, Prompt: prompt,
		Text: drawSample(c.sampler, tau, c.p.SeqLen, sampleRand(c.p.Seed, s))}
}

// currentSample returns the sample shown at the current step.
func (c *charModel) currentSample() *sampleText { return c.sample }

// reach is one prediction's backward pass, step by step.
type reach struct {
	// Pieces[i] is ‖step t's contribution to dW_hh‖ and HGrad[i] is
	// ‖∂L/∂h_t‖ for the character read at step t = i+1 of the reachLen+1
	// read (reachLen − i characters before the predicted one). Step 0,
	// which reads the character before these, has no h_{t−1} and adds
	// nothing to dW_hh.
	Pieces []float64 `json:"pieces"`
	HGrad  []float64 `json:"hgrad"`
	// WHH is ‖dW_hh‖, the engine's gradient of this prediction's loss;
	// Sum is ‖Σ of the pieces‖ (the same, to rounding).
	WHH float64 `json:"whh"`
	Sum float64 `json:"sum"`
	// Loss is −ln p(next), P the probability of the right character.
	Loss float64 `json:"loss"`
	P    float64 `json:"p"`
	// Top are the five likeliest next characters (τ = 1).
	Top []choice `json:"top"`
	// Far is the farthest distance (characters back) whose piece is at
	// least reachFloor of the largest piece.
	Far int `json:"far"`
}

// choice is a character and its probability.
type choice struct {
	C string  `json:"c"`
	P float64 `json:"p"`
}

// reachOf runs the prediction of next after ctx (reachLen+1 characters
// are read: the one before ctx's first too, when given) through m and one
// backward pass of that prediction's loss alone, recording each step's
// piece of dW_hh and ‖∂L/∂h_t‖. It leaves that gradient in m's Grads.
func reachOf(m *engine.Model, ctx []int, next int) *reach {
	whh := weightHH(m)
	cell := m.Layers[1]
	n := len(ctx)
	x := engine.NewTensor(1, n)
	for i, k := range ctx {
		x.Data[i] = float64(k)
	}
	rec := engine.NewRecorder(engine.RecordFilter{
		Params: []*engine.Param{whh}, Kinds: []engine.UseKind{engine.UseStep},
		Internals: []string{engine.InternalHiddenGrad},
	})
	m.ZeroGrad()
	y := m.Forward(x, rec) // [1, n, V]
	V := len(vocab)
	// The loss of the last prediction alone: its cross-entropy's gradient
	// goes into the last step's logits, zero elsewhere.
	last := engine.TensorFrom(slices.Clone(y.Data[(n-1)*V:]), 1, V)
	ce := engine.NewCrossEntropy()
	loss := ce.Forward(last, engine.TensorFrom([]float64{float64(next)}, 1))
	dy := engine.NewTensor(y.Shape...)
	copy(dy.Data[(n-1)*V:], ce.Backward().Data)
	m.Backward(dy, rec)

	pieces := rec.Norms(whh, engine.UseStep)                 // t = 0 … n−1
	hgrad := rec.ValueNorms(cell, engine.InternalHiddenGrad) // t = 0 … n−1
	r := &reach{Pieces: pieces[1:], HGrad: hgrad[1:], WHH: norm(whh.Grad.Data), Sum: norm(rec.Sum(whh, engine.UseStep).Data), Loss: loss}
	probs := ce.Probabilities().Data
	r.P = probs[next]
	order := make([]int, V)
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return -cmpFloat(probs[a], probs[b]) })
	for _, k := range order[:5] {
		r.Top = append(r.Top, choice{C: string(vocab[k]), P: probs[k]})
	}
	r.Far = farthest(r.Pieces)
	return r
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// farthest returns the largest distance back (len(pieces) for the first,
// 1 for the last) whose piece is at least reachFloor of the largest.
func farthest(pieces []float64) int {
	top := slices.Max(pieces)
	for i, v := range pieces {
		if v >= reachFloor*top {
			return len(pieces) - i
		}
	}
	return 0
}

// norm is the Euclidean norm of v.
func norm(v []float64) float64 {
	var s float64
	for _, x := range v {
		s += x * x
	}
	return math.Sqrt(s)
}

// computeReach computes the reach of the current weights (on the probe);
// the reach holds its own numbers, so later passes on the probe leave it.
func (c *charModel) computeReach() {
	copyWeights(c.probe, c.model)
	c.reach = reachOf(c.probe, reachIn, reachNext)
}

// currentReach returns the reach of the current step.
func (c *charModel) currentReach() *reach { return c.reach }

// staticPart changes only when the model does.
type staticPart struct {
	Params params `json:"params"`
	// Context is the reach's reachLen characters, Next the character
	// they predict.
	Context string `json:"context"`
	Next    string `json:"next"`
	// Uniform is ln V, the loss of guessing uniformly among the V
	// characters of the vocabulary.
	Uniform     float64 `json:"uniform"`
	Vocab       int     `json:"vocab"`
	Weights     int     `json:"weights"` // the model's parameters (Count().Params)
	CellWeights int     `json:"cellWeights"`
	Batch       int     `json:"batch"`
	SampleEvery int     `json:"sampleEvery"`
	HeldChars   int     `json:"heldChars"`
	TrainChars  int     `json:"trainChars"`
}

func (c *charModel) static() staticPart {
	cnt := c.model.Count()
	cellWeights := 0
	for _, np := range c.model.Layers[1].Params() {
		cellWeights += np.Param.Size()
	}
	var ctx strings.Builder
	for _, k := range reachIn[1:] {
		ctx.WriteRune(vocab[k])
	}
	return staticPart{
		Params: c.p, Context: ctx.String(), Next: string(vocab[reachNext]),
		Uniform: math.Log(float64(len(vocab))), Vocab: len(vocab), Weights: cnt.Params, CellWeights: cellWeights,
		Batch: batch, SampleEvery: sampleEvery, HeldChars: len(heldText), TrainChars: len(trainText),
	}
}

// dataPart is the step's data.
type dataPart struct {
	Step  int `json:"step"`
	Total int `json:"total"`
	// Train is the batch loss of steps 1 … step; HeldSteps and Held the
	// held-out losses.
	Train     []float64   `json:"train"`
	HeldSteps []int       `json:"heldSteps"`
	Held      []float64   `json:"held"`
	Last      float64     `json:"last"` // the last step's batch loss, full precision (0 at step 0)
	Sample    *sampleText `json:"sample"`
	Reach     *reach      `json:"reach"`
}

// data returns the step's data, its numbers rounded to digits significant
// digits (0: full precision).
func (c *charModel) data(digits int) dataPart {
	d := dataPart{Step: c.pos, Total: total, Train: viz.SigAll(c.train, digits), HeldSteps: slices.Clone(c.heldSteps), Held: viz.SigAll(c.held, digits), Sample: c.currentSample()}
	if c.pos > 0 {
		d.Last = c.train[c.pos-1]
	}
	re := *c.currentReach()
	re.Pieces, re.HGrad = viz.SigAll(re.Pieces, digits), viz.SigAll(re.HGrad, digits)
	d.Reach = &re
	return d
}

// liveDigits are the significant digits of the curves and the reach in
// live frames (the widget shows 3).
const liveDigits = 4

// Frame returns the static part (its revision changes with the model) and
// the step's data.
func (c *charModel) Frame() run.Frame {
	return run.Frame{StaticRev: c.rev, Static: c.static(), Data: c.data(liveDigits)}
}
