// Package bpttledger is the experiment of lesson 7, "Backprop through
// time": a small tanh RNN (engine.RNN, torch.nn.RNN) learns a sequence task
// from engine/data, one fresh batch per training step, and each backward
// pass is replayed one time step at a time, from the last step to the
// first. Step k of the replay adds time step t's contribution to the shared
// gradient — reported by the engine's Recorder (engine.UseStep, Index [t])
// — into a running Σ shown beside the engine's own dW; when all T are in,
// Σ equals dW (Pascanu, Mikolov & Bengio 2013, eq. 4: ∂E/∂θ = Σ_k
// ∂E/∂h_k · ∂⁺h_k/∂θ), the optimizer takes its step and the next training
// step's backward pass begins. Beside the ledger: ‖∂L/∂h_t‖ against t (the
// engine's InternalHiddenGrad), the contribution norms of every time step
// of every training step so far as a heat map, and the loss.
//
// # Steps
//
// A run of S training steps on sequences of T steps has S·T positions.
// Position 0 shows the first backward pass with nothing added; position
// k·T + j (1 ≤ j ≤ T) shows training step k's pass with its last j time
// steps added (T, T−1, …, T−j+1). Advance from a complete pass applies
// the optimizer to its gradient and computes the next pass. The running
// Σ is not state: a frame adds the first j contributions from zero, in the
// order the engine added them into Grad, so a frame reached by seeking is
// exactly one reached by stepping.
package bpttledger

import (
	"embed"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/paramshare/paramshare/engine"
	"github.com/paramshare/paramshare/engine/data"
	"github.com/paramshare/paramshare/run"
)

const name = "bptt-ledger"

// The tasks (engine/data).
const (
	// taskRemember is remember-the-first-symbol: read a symbol 1…vocab−1,
	// then T−1 noise tokens, and name the symbol after the last one.
	taskRemember = "remember-first"
	// taskAdding is the adding problem: T pairs (value, marker); output
	// the sum of the two marked values after the last one (mse).
	taskAdding = "adding"
)

// The parameters the ledger can show.
const (
	paramHH   = "weight_hh"
	paramIH   = "weight_ih"
	paramBias = "bias" // bias_ih and bias_hh side by side
)

const (
	// vocab is remember-first's vocabulary: tokens 0…4, the symbol one of
	// 1…4 (chance 1/4), so W_ih is H×5 and readable.
	vocab = 5
	// batch is the sequences per training step. Each contribution is
	// summed over the batch, as the engine's Grad is.
	batch = 16
	// window is the most rows of the heat map: the whole run so far, the
	// earlier training steps grouped to fit (see heat).
	window = 24
	// lossPoints is the most points the frame's loss curve carries.
	lossPoints = 100
	minT, maxT = 2, 40
	maxHidden  = 16
	maxSteps   = 500
	maxSeed    = 9999
	// dataStream is the PCG stream of the training batches (the model's
	// weights come from engine.NewRand(seed), another stream).
	dataStream = 0x62707474 // "bptt"
)

var fields = []run.Field{
	{Name: "task", Kind: run.Choice, Default: taskRemember, Choices: []string{taskRemember, taskAdding}, Desc: run.Text{
		En: "the sequence task: remember the first symbol, or add the two marked values",
		Zh: "序列任务：记住第一个符号，或把两个带标记的数相加",
	}},
	{Name: "T", Kind: run.Int, Default: 10, Min: minT, Max: maxT, Desc: run.Text{
		En: "the sequence length T: time steps in each forward and backward pass",
		Zh: "序列长度 T：每次前向和反向传播的时间步数",
	}},
	{Name: "hidden", Kind: run.Int, Default: 6, Min: 2, Max: maxHidden, Desc: run.Text{
		En: "the size of the hidden state h_t (W_hh is hidden × hidden)",
		Zh: "隐藏状态 h_t 的维数（W_hh 是 hidden × hidden）",
	}},
	{Name: "optimizer", Kind: run.Choice, Default: "adam", Choices: []string{"adam", "sgd"}, Desc: run.Text{
		En: "the optimizer that applies each summed gradient: Adam or plain SGD",
		Zh: "用求和后的梯度更新参数的优化器：Adam 或普通 SGD",
	}},
	{Name: "lr", Kind: run.Number, Default: 0.01, Min: 1e-4, Max: 1, Desc: run.Text{
		En: "the learning rate",
		Zh: "学习率",
	}},
	{Name: "steps", Kind: run.Int, Default: 200, Min: 1, Max: maxSteps, Desc: run.Text{
		En: "training steps in the run (each replayed over its T time steps)",
		Zh: "本次运行的训练步数（每一步都逐个时间步回放）",
	}},
	{Name: "seed", Kind: run.Int, Default: 1, Min: 0, Max: maxSeed, Desc: run.Text{
		En: "the random seed of the initial weights and of the training sequences",
		Zh: "初始权重与训练序列的随机种子",
	}},
	{Name: "param", Kind: run.Choice, Default: paramHH, Choices: []string{paramHH, paramIH, paramBias}, Desc: run.Text{
		En: "the shared parameter the ledger adds up: W_hh, W_ih, or the biases b_ih and b_hh",
		Zh: "账本累加的共享参数：W_hh、W_ih，或偏置 b_ih 与 b_hh",
	}},
	{Name: "inspect", Kind: run.Int, Default: 0, Min: 0, Max: maxT, Desc: run.Text{
		En: "the time step whose contribution matrix is shown (1…T; 0: the one added last)",
		Zh: "显示其贡献矩阵的时间步（1…T；0 表示最近加入的那一步）",
	}},
}

// check refuses a time step to inspect beyond the sequence.
func check(v run.Values) error {
	if i, T := v.Int("inspect"), v.Int("T"); i > T {
		return run.CheckError("inspect", i,
			fmt.Sprintf("the sequence has %d time steps; inspect one of 1…%d, or 0 for the one added last", T, T),
			fmt.Sprintf("序列只有 %d 个时间步；请查看 1…%d 中的一步，或用 0 表示最近加入的那一步", T, T))
	}
	return nil
}

// widget is the page's side: bptt-ledger.js and bptt-ledger.css.
//
//go:embed widget
var widget embed.FS

func init() {
	run.Register(run.Spec{
		Name:   name,
		Widget: run.Sub(widget, "widget"),
		Title:  run.Text{En: "Backprop through time", Zh: "沿时间反向传播"},
		Fields: fields,
		Check:  check,
		New:    func(v run.Values) (run.Experiment, error) { return newLedger(v) },
		Exports: []run.Export{
			{Format: "png", Write: writeFigure("png")},
			{Format: "svg", Write: writeFigure("svg")},
			{Format: "json", Write: writeJSON},
			{Format: "trace.json", Write: writeTrace},
		},
		// Measured at the costliest values (T 40, hidden 16, W_hh, Adam,
		// 500 steps; docs/perf.md): a position that only moves the ledger
		// costs < 1 µs (its frame ~0.1 ms), one that trains and records the
		// next pass 0.4–0.5 ms; a run that has trained all 500 steps holds
		// 1.5 MB (the curves and heat-map rows of every step; TestBudget
		// measures 0.7 MB after 12 positions); the largest data part is
		// 7.6 kB, the static part 0.2 kB.
		Budget:    run.Budget{Step: 2 * time.Millisecond, Memory: 3 << 20, FrameBytes: 12 << 10, StaticBytes: 1 << 10},
		Costliest: map[string]any{"T": maxT, "hidden": maxHidden, "steps": maxSteps, "param": paramHH, "optimizer": "adam"},
	})
}

// params are the parameters as the frame's static part shows them.
type params struct {
	Task      string  `json:"task"`
	T         int     `json:"T"`
	Hidden    int     `json:"hidden"`
	Optimizer string  `json:"optimizer"`
	LR        float64 `json:"lr"`
	Steps     int     `json:"steps"`
	Seed      int     `json:"seed"`
	Param     string  `json:"param"`
	Inspect   int     `json:"inspect"`
}

func paramsOf(v run.Values) params {
	return params{
		Task: v.String("task"), T: v.Int("T"), Hidden: v.Int("hidden"), Optimizer: v.String("optimizer"),
		LR: v.Float("lr"), Steps: v.Int("steps"), Seed: v.Int("seed"), Param: v.String("param"), Inspect: v.Int("inspect"),
	}
}

// shown lists the parameter choices in the order a pass keeps them.
var shown = []string{paramHH, paramIH, paramBias}

func shownIndex(param string) int { return slices.Index(shown, param) }

// pass is one training step's backward pass, as the engine reported it:
// for each choice of shown (W_hh, W_ih, biases), the contribution of every
// time step (index t−1, row-major matrices), their norms and the engine's
// dW; and ‖∂L/∂h_t‖ for t = 1…T.
type pass struct {
	k       int       // training step, 0-based
	loss    float64   // the batch's loss before this step's update
	acc     float64   // the batch's accuracy (remember-first), NaN for adding
	input   []float64 // sequence 0's input, [T] tokens or [T, 2] (value, marker)
	target  float64   // sequence 0's target
	contrib [3][][]float64
	norms   [3][]float64
	grad    [3][]float64
	hgrad   []float64
}

// ledger is the experiment.
type ledger struct {
	v     run.Values
	p     params
	rev   int
	model *engine.Model
	cell  *engine.RNN
	opt   engine.Optimizer
	rng   *rand.Rand // the training batches
	rec   *engine.Recorder
	x, y  *engine.Tensor // the current pass's batch, kept for the trace

	cur *pass // the pass on screen
	j   int   // its contributions added, from t = T down
	// next is the pass the model has already computed when the run went
	// back one training step (Rewind): the weights are then one update
	// ahead of cur, and the next Advance past cur shows next again
	// instead of training.
	next         *pass
	nextX, nextY *engine.Tensor
	// prev is the pass before cur (nil at the first, or once gone back
	// to): going back one training step needs no replay.
	prev         *pass
	prevX, prevY *engine.Tensor
	losses       []float64      // loss of passes 0…, as computed
	accs         []float64      // accuracy of passes 0…
	norms        [][3][]float64 // contribution norms of passes 0…
	hgradNorms   [][]float64    // ‖∂L/∂h_t‖ of passes 0…
}

var (
	_ run.Experiment = (*ledger)(nil)
	_ run.Rewinder   = (*ledger)(nil)
)

func newLedger(v run.Values) (*ledger, error) {
	l := &ledger{}
	if err := l.load(v, true); err != nil {
		return nil, err
	}
	return l, nil
}

// newModel returns the lesson's model for p, built by engine.NewSeqModel:
// the tanh RNN between the task's input (one-hot tokens, or the adding
// problem's two features) and a linear read-out of the last hidden state
// (classes with cross-entropy, or one number with MSE), seeded with
// PyTorch's init, the cell's weights drawn first.
func newModel(p params) (*engine.Model, *engine.RNN, error) {
	cfg := engine.SeqConfig{Cell: "rnn", Vocab: vocab, Hidden: p.Hidden, T: p.T}
	if p.Task == taskAdding {
		cfg.Vocab, cfg.Features, cfg.Regression = 0, 2, true
	}
	m, err := engine.NewSeqModel(name, cfg, uint64(p.Seed))
	if err != nil {
		return nil, nil, fmt.Errorf("bpttledger: %w", err)
	}
	for _, layer := range m.Layers {
		if cell, ok := layer.(*engine.RNN); ok {
			return m, cell, nil
		}
	}
	return nil, nil, fmt.Errorf("bpttledger: model %s has no RNN cell", name)
}

func newOptimizer(p params) engine.Optimizer {
	if p.Optimizer == "sgd" {
		return engine.NewSGD(p.LR, 0)
	}
	return engine.NewAdam(p.LR, 0.9, 0.999, 1e-8)
}

// batchFor draws the next training batch of p's task from rng.
func batchFor(p params, rng *rand.Rand) (x, y *engine.Tensor) {
	if p.Task == taskRemember {
		return data.RememberFirst(rng, batch, p.T-1, vocab)
	}
	return data.Adding(rng, batch, p.T)
}

// load builds the model for v and computes the first pass; only then does
// it replace l's state, so an error leaves l as it was. newStatic bumps the
// static part's revision (new parameters; a restart keeps it).
func (l *ledger) load(v run.Values, newStatic bool) error {
	p := paramsOf(v)
	model, cell, err := newModel(p)
	if err != nil {
		return err
	}
	n := &ledger{
		v: v, p: p, rev: l.rev, model: model, cell: cell, opt: newOptimizer(p),
		rng: rand.New(rand.NewPCG(uint64(p.Seed), dataStream)),
		rec: engine.NewRecorder(engine.RecordFilter{
			Params:    []*engine.Param{cell.WeightHH, cell.WeightIH, cell.BiasIH, cell.BiasHH},
			Kinds:     []engine.UseKind{engine.UseStep},
			Internals: []string{engine.InternalHiddenGrad},
		}),
	}
	x, y := batchFor(p, n.rng)
	cur, err := n.backward(0, x, y)
	if err != nil {
		return err
	}
	n.cur, n.x, n.y = cur, x, y
	n.keep(cur)
	if newStatic {
		n.rev++
	}
	*l = *n
	return nil
}

// backward runs the engine's forward and backward pass of training step k
// on the batch (x, y) with the Recorder and returns what it reported. The
// gradients stay in the model's Grads for the optimizer.
func (l *ledger) backward(k int, x, y *engine.Tensor) (*pass, error) {
	l.rec.Reset()
	loss, err := l.model.ComputeGrad(x, y, l.rec)
	if err != nil {
		return nil, fmt.Errorf("bpttledger: training step %d: %w", k+1, err)
	}
	T, c := l.p.T, l.cell
	ps := &pass{k: k, loss: loss, acc: math.NaN(), target: y.Data[0]}
	in := x.Size() / (batch * T) // 1 token or 2 numbers per step
	ps.input = slices.Clone(x.Data[:T*in])
	uses := func(p *engine.Param) []engine.Contribution {
		u := l.rec.Uses(p, engine.UseStep)
		if len(u) != T {
			err = fmt.Errorf("bpttledger: the engine reported %d contributions to %s for %d steps", len(u), p.Name, T)
		}
		return u
	}
	hh, ih, bih, bhh := uses(c.WeightHH), uses(c.WeightIH), uses(c.BiasIH), uses(c.BiasHH)
	if err != nil {
		return nil, err
	}
	for i := range shown {
		ps.contrib[i] = make([][]float64, T)
		ps.norms[i] = make([]float64, T)
	}
	for t := range T {
		ps.contrib[0][t] = slices.Clone(hh[t].Grad.Data)
		ps.contrib[1][t] = slices.Clone(ih[t].Grad.Data)
		ps.contrib[2][t] = interleave(bih[t].Grad.Data, bhh[t].Grad.Data)
		for i := range shown {
			ps.norms[i][t] = norm(ps.contrib[i][t])
		}
	}
	ps.grad[0] = slices.Clone(c.WeightHH.Grad.Data)
	ps.grad[1] = slices.Clone(c.WeightIH.Grad.Data)
	ps.grad[2] = interleave(c.BiasIH.Grad.Data, c.BiasHH.Grad.Data)
	ps.hgrad = l.rec.ValueNorms(c, engine.InternalHiddenGrad)
	if len(ps.hgrad) != T {
		return nil, fmt.Errorf("bpttledger: the engine showed %d hidden gradients for %d steps", len(ps.hgrad), T)
	}
	if l.p.Task == taskRemember {
		probs := l.model.Loss.(*engine.CrossEntropy).Probabilities().Data
		hits := 0
		for b := range batch {
			row := probs[b*vocab : (b+1)*vocab]
			if argmax(row) == int(y.Data[b]) {
				hits++
			}
		}
		ps.acc = float64(hits) / batch
	}
	return ps, nil
}

// keep appends a new pass's curves to the run's history.
func (l *ledger) keep(ps *pass) {
	l.losses = append(l.losses[:ps.k], ps.loss)
	l.accs = append(l.accs[:ps.k], ps.acc)
	l.norms = append(l.norms[:ps.k], ps.norms)
	l.hgradNorms = append(l.hgradNorms[:ps.k], ps.hgrad)
}

// interleave returns the [H, 2] matrix with columns a and b.
func interleave(a, b []float64) []float64 {
	out := make([]float64, 0, 2*len(a))
	for i := range a {
		out = append(out, a[i], b[i])
	}
	return out
}

func argmax(v []float64) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}

func norm(v []float64) float64 {
	var s float64
	for _, x := range v {
		s += x * x
	}
	return math.Sqrt(s)
}

// Total is S·T: every training step's T time steps.
func (l *ledger) Total() int { return l.p.Steps * l.p.T }

// Pos is the number of contributions added over the run.
func (l *ledger) Pos() int { return l.cur.k*l.p.T + l.j }

// Advance adds the next time step's contribution. From a complete pass it
// first applies the optimizer to that pass's gradient (the engine's Grad,
// which the ledger has just shown to be Σ of the contributions) and runs
// the next training step's forward and backward pass.
func (l *ledger) Advance() error {
	if l.Pos() >= l.Total() {
		return errors.New("bpttledger: no steps left")
	}
	if l.j == l.p.T {
		if l.next != nil {
			// The model already holds this pass (see Rewind).
			l.prev, l.prevX, l.prevY = l.cur, l.x, l.y
			l.cur, l.x, l.y, l.next, l.nextX, l.nextY = l.next, l.nextX, l.nextY, nil, nil, nil
		} else {
			l.opt.Step(l.model.Params())
			x, y := batchFor(l.p, l.rng)
			ps, err := l.backward(l.cur.k+1, x, y)
			if err != nil {
				return err
			}
			l.prev, l.prevX, l.prevY = l.cur, l.x, l.y
			l.cur, l.x, l.y = ps, x, y
			l.keep(ps)
		}
		l.j = 0
	}
	l.j++
	return nil
}

// Rewind goes back to position k. Within the pass on screen, or into the
// one before it when the model has not moved further, only the ledger's
// position changes; further back the run restarts from the seed and
// returns at position 0, and the run replays to k by Advance (each step
// bounded), training the same steps on the same batches again.
func (l *ledger) Rewind(k int) error {
	switch T := l.p.T; {
	case k >= firstPos(l.cur.k, T):
		l.j = k - l.cur.k*T
		return nil
	case l.prev != nil && l.next == nil && k >= firstPos(l.prev.k, T):
		l.next, l.nextX, l.nextY = l.cur, l.x, l.y
		l.cur, l.x, l.y = l.prev, l.prevX, l.prevY
		l.prev, l.prevX, l.prevY = nil, nil, nil
		l.j = k - l.cur.k*T
		return nil
	}
	return l.load(l.v, false)
}

// firstPos is the first position that shows training step k's pass.
func firstPos(k, T int) int {
	if k == 0 {
		return 0
	}
	return k*T + 1
}

// Restart goes back to position 0: the seeded weights, the first batch.
func (l *ledger) Restart() error { return l.load(l.v, false) }

// SetParams takes new values. A new parameter to show, time step to
// inspect or run length (when the run is not past it) is a new view of the
// same training; anything else trains anew from position 0.
func (l *ledger) SetParams(v run.Values) error {
	if v.Equal(l.v) {
		return nil
	}
	p := paramsOf(v)
	same := l.v.With("param", "").With("inspect", 0).With("steps", 0).Equal(v.With("param", "").With("inspect", 0).With("steps", 0))
	if same && l.Pos() <= p.Steps*p.T {
		l.v, l.p = v, p
		l.rev++
		return nil
	}
	return l.load(v, true)
}
