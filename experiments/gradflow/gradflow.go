// Package gradflow is the grad-flow experiment of lesson 8, "Vanishing and
// exploding": an engine RNN (tanh, sigmoid or ReLU) whose W_hh is rescaled
// at initialisation so that its largest singular value λ₁ is the reader's
// choice, trained live with SGD on remember-the-first-symbol or the adding
// problem, the loss read at the last step.
//
// Each step shows one recorded forward and backward pass on a fresh batch:
// the norm of every time step's contribution to dW_hh (the engine's UseStep
// contributions, Index [t]) and ‖∂L/∂h_t‖ (the hidden.grad internal),
// against Pascanu, Mikolov & Bengio's (2013) bound: going back one step
// multiplies ∂L/∂h by W_hhᵀ diag(σ'(a_t)), whose norm is at most γλ₁
// (γ = 1 for tanh and ReLU, ¼ for sigmoid), so ‖∂L/∂h_t‖ ≤ (γλ₁)^(T−t)·‖∂L/∂h_T‖.
// λ₁ is computed from the engine's W_hh with gonum's SVD (lab.LargestSingularValue)
// at every step, as training moves it, and beside it the spectral radius ρ
// (gonum's Eigen, lab.SpectralRadius): ρ ≤ λ₁, and a long product of one
// matrix grows like ρ^t, so λ₁ > 1/γ is necessary for exploding but not
// sufficient.
//
// Step k's frame is the pass with the weights after k SGD updates on batch
// k; Advance applies that pass's gradient and measures the next batch.
package gradflow

import (
	"embed"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/paramshare/paramshare/engine"
	"github.com/paramshare/paramshare/engine/data"
	"github.com/paramshare/paramshare/lab"
	"github.com/paramshare/paramshare/run"
	"github.com/paramshare/paramshare/viz"
)

const name = "grad-flow"

// Tasks.
const (
	taskRemember = "remember-first"
	taskAdding   = "adding"
)

const (
	// batch is the sequences per step.
	batch = 16
	// total is the SGD steps of a run.
	total = 300
	// vocab is remember-first's vocabulary: 8 tokens 0…7; the first of a
	// sequence is one of the 7 symbols 1…7 (chance 1/7), the others noise
	// drawn from all 8 (engine/data.RememberFirst).
	vocab = 8
	// DataStream is the PCG stream of the batches, a fixed arbitrary
	// constant: batch k of a seed is drawn from rand.NewPCG(seed·2¹⁶ + k,
	// DataStream), so a replay meets the same batches. It is exported for
	// the browser test, which rebuilds the run from the engine alone.
	DataStream = 0x6772616466c6f77
)

var fields = []run.Field{
	{Name: "lambda1", Kind: run.Number, Default: 0.9, Min: 0.05, Max: 8, Desc: run.Text{
		En: "λ₁, the largest singular value W_hh is scaled to at the start (1/γ: 1 for tanh and ReLU, 4 for sigmoid)",
		Zh: "λ₁：开始时把 W_hh 缩放到的最大奇异值（1/γ：tanh 与 ReLU 为 1，sigmoid 为 4）",
	}},
	{Name: "act", Kind: run.Choice, Default: "tanh", Choices: []string{"tanh", "sigmoid", "relu"}, Desc: run.Text{
		En: "the cell's activation: h_t = act(W_ih·x_t + b_ih + W_hh·h_{t−1} + b_hh)",
		Zh: "单元的激活函数：h_t = act(W_ih·x_t + b_ih + W_hh·h_{t−1} + b_hh)",
	}},
	{Name: "T", Kind: run.Int, Default: 30, Min: 5, Max: 100, Desc: run.Text{
		En: "the sequence length; the loss is read after the last step",
		Zh: "序列长度；损失在最后一步之后计算",
	}},
	{Name: "hidden", Kind: run.Int, Default: 16, Min: 2, Max: 64, Desc: run.Text{
		En: "the size of the hidden state h_t",
		Zh: "隐藏状态 h_t 的维数",
	}},
	{Name: "task", Kind: run.Choice, Default: taskRemember, Choices: []string{taskRemember, taskAdding}, Desc: run.Text{
		En: "remember-first: name the first of T tokens, one of the symbols 1…7 (the other tokens are noise from 0…7; cross-entropy); adding: the sum of the two marked numbers (MSE)",
		Zh: "记住第一个符号（remember-first）：说出 T 个词元中的第一个，它是符号 1…7 之一（其余词元是取自 0…7 的噪声；交叉熵）；加法问题（adding）：两个被标记的数之和（均方误差）",
	}},
	{Name: "lr", Kind: run.Number, Default: 0.1, Min: 0, Max: 1, Desc: run.Text{
		En: "the SGD learning rate (0: no training, every step a fresh batch on the same weights)",
		Zh: "SGD 学习率（0：不训练，每一步用同样的权重读一个新批次）",
	}},
	{Name: "seed", Kind: run.Int, Default: 1, Min: 0, Max: 9999, Desc: run.Text{
		En: "the random seed of the initial weights and the batches",
		Zh: "初始权重与各批次的随机种子",
	}},
}

// widget is the page's side: grad-flow.js and grad-flow.css.
//
//go:embed widget
var widget embed.FS

func init() {
	run.Register(run.Spec{
		Name:   name,
		Widget: run.Sub(widget, "widget"),
		Title:  run.Text{En: "Gradient flow through time", Zh: "梯度沿时间的流动"},
		Fields: fields,
		New:    func(v run.Values) (run.Experiment, error) { return newFlow(v) },
		Exports: []run.Export{
			{Format: "png", Write: writeFigure("png")},
			{Format: "svg", Write: writeFigure("svg")},
			{Format: "json", Write: writeJSON},
			{Format: "trace.json", Write: writeTrace},
		},
		// Measured by the conformance test at the costliest values
		// (hidden 64, T = 100): see docs/perf.md.
		Budget:    run.Budget{Step: 12 * time.Millisecond, Memory: 4 << 20, FrameBytes: 8 << 10, StaticBytes: 2 << 10},
		Costliest: map[string]any{"hidden": 64, "T": 100},
	})
}

// params are the parameters.
type params struct {
	Lambda1 float64 `json:"lambda1"`
	Act     string  `json:"act"`
	T       int     `json:"T"`
	Hidden  int     `json:"hidden"`
	Task    string  `json:"task"`
	LR      float64 `json:"lr"`
	Seed    int     `json:"seed"`
}

func paramsOf(v run.Values) params {
	return params{
		Lambda1: v.Float("lambda1"), Act: v.String("act"), T: v.Int("T"), Hidden: v.Int("hidden"),
		Task: v.String("task"), LR: v.Float("lr"), Seed: v.Int("seed"),
	}
}

// newModel returns the lesson's model for p, built by engine.NewSeqModel
// with the RNN cell p.Act: remember-first one_hot(8) → rnn(8 → H) →
// last_step → linear(H → 8) with cross-entropy; adding rnn(2 → H) →
// last_step → linear(H → 1) with MSE. Weights are drawn from
// NewRand(seed), the cell's then the output's, with PyTorch's init; then
// W_hh is rescaled to λ₁ = p.Lambda1.
func newModel(p params) (*engine.Model, *engine.RNN, error) {
	cfg := engine.SeqConfig{Cell: "rnn", Vocab: vocab, Hidden: p.Hidden, T: p.T, Nonlinearity: engine.Nonlinearity(p.Act)}
	if p.Task == taskAdding {
		cfg.Vocab, cfg.Features, cfg.Regression = 0, 2, true
	}
	m, err := engine.NewSeqModel(name, cfg, uint64(p.Seed))
	if err != nil {
		return nil, nil, fmt.Errorf("gradflow: %w", err)
	}
	var cell *engine.RNN
	for _, l := range m.Layers {
		if c, ok := l.(*engine.RNN); ok {
			cell = c
		}
	}
	lab.ScaleRecurrent(cell.WeightHH, p.Lambda1)
	return m, cell, nil
}

// batchAt returns batch k of p's task and seed.
func batchAt(p params, k int) (x, y *engine.Tensor) {
	rng := rand.New(rand.NewPCG(uint64(p.Seed)<<16+uint64(k), DataStream))
	if p.Task == taskAdding {
		return data.Adding(rng, batch, p.T)
	}
	return data.RememberFirst(rng, batch, p.T-1, vocab)
}

// flow is the experiment.
type flow struct {
	v     run.Values
	p     params
	model *engine.Model
	cell  *engine.RNN
	opt   *engine.SGD
	rev   int

	pos    int
	x, y   *engine.Tensor // batch pos
	lambda float64        // λ₁ of the W_hh of pass cur
	rho    float64        // its spectral radius ρ
	cur    lab.BPTTPass   // the pass on batch pos with the current weights
	// history, one entry per step 0…pos
	losses, lambdas, rhos, ratios []float64
}

func newFlow(v run.Values) (*flow, error) {
	f := &flow{}
	if err := f.load(v); err != nil {
		return nil, err
	}
	return f, nil
}

// load builds the model for v and measures batch 0. An error leaves f as
// it was.
func (f *flow) load(v run.Values) error {
	p := paramsOf(v)
	m, cell, err := newModel(p)
	if err != nil {
		return err
	}
	*f = flow{v: v, p: p, model: m, cell: cell, opt: engine.NewSGD(p.LR, 0), rev: f.rev + 1}
	return f.measure()
}

// measure runs the recorded pass of batch f.pos with the current weights.
func (f *flow) measure() error {
	f.x, f.y = batchAt(f.p, f.pos)
	whh := f.cell.WeightHH
	f.lambda = lab.LargestSingularValue(whh.Value.Data, f.p.Hidden, f.p.Hidden)
	f.rho = lab.SpectralRadius(whh.Value.Data, f.p.Hidden)
	pass, err := lab.MeasureBPTT(f.model, f.cell, whh, f.x, f.y)
	if err != nil {
		return err
	}
	f.cur = pass
	f.losses = append(f.losses, pass.Loss)
	f.lambdas = append(f.lambdas, f.lambda)
	f.rhos = append(f.rhos, f.rho)
	f.ratios = append(f.ratios, f.ratio())
	return nil
}

// ratio is the oldest contribution to dW_hh (step t = 2, the first one
// that is not 0, distance T − 2 from the loss) over the last step's (t = T),
// NaN when the pass has none to compare.
func (f *flow) ratio() float64 {
	c := f.cur.Contrib
	if f.cur.Diverged || len(c) < 2 || !(c[len(c)-1] > 0) {
		return math.NaN()
	}
	return c[1] / c[len(c)-1]
}

// Total is the number of SGD steps.
func (f *flow) Total() int { return total }

// Pos is the number of SGD steps taken.
func (f *flow) Pos() int { return f.pos }

// Advance applies the shown pass's gradient (SGD) and measures the next
// batch. A pass whose loss or gradient is not finite stops the run: its
// error wraps engine.ErrDiverged.
func (f *flow) Advance() error {
	if f.pos >= total {
		return nil
	}
	if f.cur.Diverged {
		return f.diverged()
	}
	f.opt.Step(f.model.Params())
	f.pos++
	if err := f.measure(); err != nil {
		return err
	}
	if f.cur.Diverged {
		return f.diverged()
	}
	return nil
}

func (f *flow) diverged() error {
	return run.DivergedError(run.NewError(run.CodeStepFailed,
		fmt.Sprintf("The gradient exploded at step %d: the loss or a gradient is no longer a finite number. Lower λ₁ or the learning rate, then Reset.", f.pos),
		fmt.Sprintf("梯度在第 %d 步爆炸：损失或某个梯度已不是有限数。请调低 λ₁ 或学习率，然后重置。", f.pos)))
}

// Restart goes back to step 0 with the same parameters.
func (f *flow) Restart() error { return f.load(f.v) }

// SetParams rebuilds the model: every parameter changes the run from its
// first step (a new λ₁, activation, length or size is a new
// initialisation; a new learning rate a new trajectory).
func (f *flow) SetParams(v run.Values) error {
	if v.Equal(f.v) {
		return nil
	}
	return f.load(v)
}

// staticPart changes only with the parameters.
type staticPart struct {
	Params params `json:"params"`
	// Gamma is γ, the largest slope of the activation; Bound is 1/γ, the
	// λ₁ below which vanishing is certain.
	Gamma float64 `json:"gamma"`
	Bound float64 `json:"bound"`
	Total int     `json:"total"`
	Batch int     `json:"batch"`
}

// dataPart changes with each step.
type dataPart struct {
	Step int `json:"step"`
	// Lambda is λ₁ of the W_hh this pass used, Rho its spectral radius ρ
	// (largest |eigenvalue|, ≤ λ₁).
	Lambda num `json:"lambda"`
	Rho    num `json:"rho"`
	Loss   num `json:"loss"`
	// Contrib[t−1] is ‖step t's contribution to dW_hh‖, t = 1…T (step 1's
	// is 0: h_0 = 0). HGrad[t−1] is ‖∂L/∂h_t‖; HBound[t−1] is
	// (γλ₁)^(T−t)·‖∂L/∂h_T‖, the most ‖∂L/∂h_t‖ can be.
	Contrib []num `json:"contrib"`
	HGrad   []num `json:"hgrad"`
	HBound  []num `json:"hbound"`
	// Ratio is Contrib[1] / Contrib[T−1]: the oldest contribution
	// (t = 2, T − 2 steps before the loss) over the last; null if none.
	Ratio    *num `json:"ratio"`
	Diverged bool `json:"diverged"`
	// History over steps 0…Step: the loss, λ₁, ρ and log₁₀ of Ratio.
	History history `json:"history"`
}

type history struct {
	Loss     viz.Quantized `json:"loss"`
	Lambda   viz.Quantized `json:"lambda"`
	Rho      viz.Quantized `json:"rho"`
	LogRatio viz.Quantized `json:"logRatio"`
}

// static returns the static part.
func (f *flow) static() staticPart {
	g := engine.Nonlinearity(f.p.Act).DerivativeBound()
	return staticPart{Params: f.p, Gamma: g, Bound: 1 / g, Total: total, Batch: batch}
}

// data returns the step's data, rounded to digits significant digits
// (digits ≤ 0: full precision).
func (f *flow) data(digits int) dataPart {
	r := func(v float64) num { return num(viz.Sig(v, digits)) }
	rs := func(vs []float64) []num {
		out := make([]num, len(vs))
		for i, v := range vs {
			out[i] = r(v)
		}
		return out
	}
	g := engine.Nonlinearity(f.p.Act).DerivativeBound()
	d := dataPart{
		Step: f.pos, Lambda: r(f.lambda), Rho: r(f.rho), Loss: r(f.cur.Loss), Diverged: f.cur.Diverged,
		Contrib: rs(f.cur.Contrib), HGrad: rs(f.cur.HiddenGrad), HBound: []num{},
	}
	if n := len(f.cur.HiddenGrad); n > 0 {
		last := f.cur.HiddenGrad[n-1]
		for t := range n {
			d.HBound = append(d.HBound, r(last*math.Pow(g*f.lambda, float64(n-1-t))))
		}
	}
	if q := f.ratios[f.pos]; !math.IsNaN(q) {
		v := r(q)
		d.Ratio = &v
	}
	logs := make([]float64, len(f.ratios))
	for i, q := range f.ratios {
		logs[i] = math.Log10(q) // NaN or -Inf (a zero ratio) leaves a gap
		if math.IsInf(logs[i], 0) {
			logs[i] = math.NaN()
		}
	}
	d.History = history{
		Loss:     viz.Quantize(finiteOrNaN(f.losses), len(f.losses)),
		Lambda:   viz.Quantize(finiteOrNaN(f.lambdas), len(f.lambdas)),
		Rho:      viz.Quantize(finiteOrNaN(f.rhos), len(f.rhos)),
		LogRatio: viz.Quantize(logs, len(logs)),
	}
	return d
}

// num is a number of the frame: JSON has no NaN or ±Inf, so a value that
// is not finite (an exploded gradient) is written as null.
type num float64

func (n num) MarshalJSON() ([]byte, error) {
	v := float64(n)
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return []byte("null"), nil
	}
	return strconv.AppendFloat(nil, v, 'g', -1, 64), nil
}

// finiteOrNaN copies vs with ±Inf made NaN (drawn as a gap).
func finiteOrNaN(vs []float64) []float64 {
	out := make([]float64, len(vs))
	for i, v := range vs {
		out[i] = v
		if math.IsInf(v, 0) {
			out[i] = math.NaN()
		}
	}
	return out
}

// liveDigits is the significant digits of the live frame's numbers: the
// widget shows 3.
const liveDigits = 4

// Frame returns the static part (its revision changes with the
// parameters) and the step's data.
func (f *flow) Frame() run.Frame {
	return run.Frame{StaticRev: f.rev, Static: f.static(), Data: f.data(liveDigits)}
}
