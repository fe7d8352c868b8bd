package lab

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/paramshare/paramshare/engine"
	"github.com/paramshare/paramshare/engine/data"
	"github.com/paramshare/paramshare/viz"
)

// The attention tasks: every token of the output is a token of the input,
// chosen by position (copy, reverse) or by rank (sort).
const (
	TaskCopy    = "copy"
	TaskReverse = "reverse"
	TaskSort    = "sort"
)

// AttnTasks lists the attention tasks; AttnPositions the positional
// encodings a model may have.
func AttnTasks() []string { return []string{TaskCopy, TaskReverse, TaskSort} }
func AttnPositions() []string {
	return []string{engine.PositionsSinusoidal, engine.PositionsLearned, engine.PositionsNone}
}

// Limits of an AttnTrainConfig.
const (
	MaxAttnLen    = 32 // longest sequence a model is built for (max_len)
	MaxAttnBlocks = 2
	MaxAttnHeads  = 4
	MaxAttnBatch  = 64
)

// AttnTrainConfig is one attention model trained on one task: an
// engine.NewTransformer (not causal, output tied to the embedding) of
// Blocks blocks of Heads heads, d = D, d_ff = 2D, built for sequences of up
// to MaxLen tokens (the positional encoding's max_len) and trained with
// Adam only on sequences of Len tokens from a vocabulary of Vocab.
type AttnTrainConfig struct {
	Task      string  `json:"task"`
	Positions string  `json:"positions"`
	Vocab     int     `json:"vocab"`
	Len       int     `json:"len"`    // training length
	MaxLen    int     `json:"maxLen"` // max_len of the model: the longest test length
	D         int     `json:"d"`
	Heads     int     `json:"heads"`
	Blocks    int     `json:"blocks"`
	Batch     int     `json:"batch"`
	LR        float64 `json:"lr"`
	Clip      float64 `json:"clip"` // gradient norm clipping (0: none)
	Seed      uint64  `json:"seed"`
}

// DefaultAttnTrainConfig is the lesson's model: vocabulary 10, d 24 (so
// that 1, 2, 3 and 4 heads all divide it), 1 block of 4 heads,
// sinusoidal positions, trained on length 8 and built for length 16,
// batch 32, Adam 3e-3, gradient norm clipped at 1, seed 1.
func DefaultAttnTrainConfig(task string) AttnTrainConfig {
	return AttnTrainConfig{
		Task: task, Positions: engine.PositionsSinusoidal, Vocab: 10, Len: 8, MaxLen: 16,
		D: 24, Heads: 4, Blocks: 1, Batch: 32, LR: 3e-3, Clip: 1, Seed: 1,
	}
}

// Validate returns an error naming the first field outside its range.
func (c AttnTrainConfig) Validate() error {
	switch {
	case !slices.Contains(AttnTasks(), c.Task):
		return fmt.Errorf("lab: task %q: want copy, reverse or sort", c.Task)
	case !slices.Contains(AttnPositions(), c.Positions):
		return fmt.Errorf("lab: positions %q: want sinusoidal, learned or none", c.Positions)
	case c.Vocab < 2 || c.Vocab > 64:
		return fmt.Errorf("lab: vocab %d: want 2…64", c.Vocab)
	case c.Len < 2 || c.Len > c.MaxLen:
		return fmt.Errorf("lab: len %d: want 2…maxLen (%d)", c.Len, c.MaxLen)
	case c.MaxLen > MaxAttnLen:
		return fmt.Errorf("lab: maxLen %d: want ≤ %d", c.MaxLen, MaxAttnLen)
	case c.Heads < 1 || c.Heads > MaxAttnHeads || c.D < c.Heads || c.D%c.Heads != 0 || c.D > 128:
		return fmt.Errorf("lab: d %d, heads %d: want 1…%d heads dividing d ≤ 128", c.D, c.Heads, MaxAttnHeads)
	case c.Blocks < 1 || c.Blocks > MaxAttnBlocks:
		return fmt.Errorf("lab: blocks %d: want 1…%d", c.Blocks, MaxAttnBlocks)
	case c.Batch < 1 || c.Batch > MaxAttnBatch:
		return fmt.Errorf("lab: batch %d: want 1…%d", c.Batch, MaxAttnBatch)
	case !(c.LR > 0 && c.LR <= MaxLR):
		return fmt.Errorf("lab: lr %g: want in (0, %g]", c.LR, MaxLR)
	case c.Clip < 0 || math.IsNaN(c.Clip):
		return fmt.Errorf("lab: clip %g: want ≥ 0", c.Clip)
	}
	return nil
}

// Model returns the engine configuration of c's model.
func (c AttnTrainConfig) Model() engine.TransformerConfig {
	return engine.TransformerConfig{
		Vocab: c.Vocab, D: c.D, Heads: c.Heads, DFF: 2 * c.D, T: c.MaxLen, Blocks: c.Blocks,
		Positions: c.Positions, TiedOutput: true,
	}
}

// AttnBatch returns a batch of task: x [batch, length] of tokens drawn
// uniformly from 0…vocab−1 and the targets y [batch, length]: x itself
// (copy), x reversed (reverse) or x sorted ascending (sort). Copy and
// reverse are engine/data's.
func AttnBatch(task string, rng *rand.Rand, batch, length, vocab int) (x, y *engine.Tensor) {
	switch task {
	case TaskCopy:
		return data.Copy(rng, batch, length, vocab)
	case TaskReverse:
		return data.Reverse(rng, batch, length, vocab)
	case TaskSort:
		return SortBatch(rng, batch, length, vocab)
	}
	panic("lab: AttnBatch: unknown task " + task)
}

// SortBatch returns a batch of the sorting task: x [batch, length] of tokens
// drawn uniformly from 0…vocab−1 (as data.Copy draws them: the same rng
// gives the same x) and y with each row of x sorted ascending. It panics
// unless batch, length ≥ 1 and vocab ≥ 2.
func SortBatch(rng *rand.Rand, batch, length, vocab int) (x, y *engine.Tensor) {
	x, y = data.Copy(rng, batch, length, vocab)
	for b := range batch {
		slices.Sort(y.Data[b*length : (b+1)*length])
	}
	return x, y
}

// Streams of the random numbers of a run: the training batches, and the
// fixed evaluation and probe sequences (the same for every seed).
const (
	attnTrainStream = 0xa77e
	attnEvalSeed    = 0xe7a1
)

// AttnTrainRand returns the generator of a run's training batches: batch k
// is the k-th AttnBatch drawn from it.
func AttnTrainRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, attnTrainStream)) }

// AttnTrainer trains one attention model step by step.
type AttnTrainer struct {
	cfg      AttnTrainConfig
	model    *engine.Model
	opt      engine.Optimizer
	rng      *rand.Rand
	steps    int
	diverged error
	rec      *engine.Recorder
}

// AttnStep is one training step's result on its batch.
type AttnStep struct {
	Step     int
	Loss     float64
	Accuracy float64 // per-token accuracy of the batch (before the update)
}

// NewAttnTrainer returns a trainer at step 0 for a valid c.
func NewAttnTrainer(c AttnTrainConfig) (*AttnTrainer, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	t := &AttnTrainer{cfg: c, rec: engine.NewRecorder(engine.RecordFilter{Internals: []string{engine.InternalAttention}})}
	return t, t.Reset()
}

// Reset rebuilds the model from the seed and restarts the batches.
func (t *AttnTrainer) Reset() error {
	m, err := engine.NewTransformer("attention", t.cfg.Model(), t.cfg.Seed)
	if err != nil {
		return fmt.Errorf("lab: %w", err)
	}
	t.model, t.opt = m, engine.NewAdam(t.cfg.LR, 0.9, 0.999, 1e-8)
	t.rng = AttnTrainRand(t.cfg.Seed)
	t.steps, t.diverged = 0, nil
	return nil
}

// Config returns the trainer's configuration; Model its model; Steps the
// steps taken.
func (t *AttnTrainer) Config() AttnTrainConfig { return t.cfg }
func (t *AttnTrainer) Model() *engine.Model    { return t.model }
func (t *AttnTrainer) Steps() int              { return t.steps }

// Step trains on the next batch of length Len: forward, loss, backward,
// the gradient norm clipped to Clip, one Adam update. When the loss or a
// gradient is not finite it makes no update and returns an error wrapping
// engine.ErrDiverged, and so does every later Step until Reset.
func (t *AttnTrainer) Step() (AttnStep, error) {
	if t.diverged != nil {
		return AttnStep{}, t.diverged
	}
	x, y := AttnBatch(t.cfg.Task, t.rng, t.cfg.Batch, t.cfg.Len, t.cfg.Vocab)
	t.steps++
	m := t.model
	m.ZeroGrad()
	out := m.Forward(x, nil)
	res := AttnStep{Step: t.steps, Loss: m.Loss.Forward(out, y), Accuracy: engine.Accuracy(out, y)}
	if math.IsNaN(res.Loss) || math.IsInf(res.Loss, 0) {
		t.diverged = fmt.Errorf("lab: attention at step %d: loss %v: %w", t.steps, res.Loss, engine.ErrDiverged)
		return res, t.diverged
	}
	m.Backward(m.Loss.Backward(), nil)
	var n float64
	if t.cfg.Clip > 0 {
		n = engine.ClipGradNorm(m.Params(), t.cfg.Clip)
	} else {
		n = engine.GradNorm(m.Params())
	}
	if math.IsNaN(n) || math.IsInf(n, 0) {
		t.diverged = fmt.Errorf("lab: attention at step %d: gradient norm %v: %w", t.steps, n, engine.ErrDiverged)
		return res, t.diverged
	}
	t.opt.Step(m.Params())
	return res, nil
}

// AttnEvalSet returns n fixed sequences of task at length, the same for
// every seed and model (so two runs are scored on the same sequences).
func AttnEvalSet(task string, n, length, vocab int) (x, y *engine.Tensor) {
	return AttnBatch(task, rand.New(rand.NewPCG(attnEvalSeed, uint64(length))), n, length, vocab)
}

// Evaluate returns the loss and per-token accuracy of the model on x, y.
// It panics (a ShapeError) when x is longer than MaxLen.
func (t *AttnTrainer) Evaluate(x, y *engine.Tensor) (loss, acc float64) {
	out := t.model.Forward(x, nil)
	return t.model.Loss.Forward(out, y), engine.Accuracy(out, y)
}

// Maps runs the model on one sequence x [1, L] and returns its attention
// maps, [block][head] each L×L row-major (row i: how token i weighs every
// token; rows sum to 1), through the engine's Recorder, and the model's
// predicted token at every position.
func (t *AttnTrainer) Maps(x *engine.Tensor) (maps [][][]float64, pred []int) {
	if len(x.Shape) != 2 || x.Shape[0] != 1 {
		panic(fmt.Sprintf("lab: Maps: x %v, want [1 L]", x.Shape))
	}
	t.rec.Reset()
	out := t.model.Forward(x, t.rec)
	maps = make([][][]float64, t.cfg.Blocks)
	for b := range t.cfg.Blocks {
		maps[b] = make([][]float64, t.cfg.Heads)
	}
	block := map[string]int{}
	for b := range t.cfg.Blocks {
		block[fmt.Sprintf("block%d", b+1)] = b
	}
	for _, iv := range t.rec.Internals() {
		b, ok := block[iv.Layer.Spec().Name]
		if !ok {
			panic("lab: Maps: attention of an unknown layer " + iv.Layer.Spec().Name)
		}
		maps[b][iv.Index] = slices.Clone(iv.Value.Data)
	}
	v := out.Shape[2]
	for i := range x.Shape[1] {
		row := out.Data[i*v : (i+1)*v]
		pred = append(pred, argmax(row))
	}
	return maps, pred
}

func argmax(v []float64) int {
	k := 0
	for i, x := range v {
		if x > v[k] {
			k = i
		}
	}
	return k
}

// Target returns, for every output position i of a sequence of length L,
// the input position the task's answer comes from: i (copy), L−1−i
// (reverse), or, for sort, the position of the i-th smallest token (ties
// in order of position, a stable sort).
func Target(task string, x []float64) []int {
	L := len(x)
	idx := make([]int, L)
	for i := range idx {
		idx[i] = i
	}
	switch task {
	case TaskReverse:
		slices.Reverse(idx)
	case TaskSort:
		slices.SortStableFunc(idx, func(a, b int) int {
			switch {
			case x[a] < x[b]:
				return -1
			case x[a] > x[b]:
				return 1
			}
			return 0
		})
	case TaskCopy:
	default:
		panic("lab: Target: unknown task " + task)
	}
	return idx
}

// PatternMass returns the mean over rows of the attention an L×L map m
// puts on the task's source position of that row (Target): 1 when every
// row looks only at where its answer is, 1/L for a uniform map. For sort
// a row may also look at any other position holding the same token (a
// tie); that mass counts too.
func PatternMass(task string, x []float64, m []float64) float64 {
	L := len(x)
	if len(m) != L*L {
		panic(fmt.Sprintf("lab: PatternMass: map of %d values for length %d", len(m), L))
	}
	src := Target(task, x)
	var s float64
	for i := range L {
		want := x[src[i]]
		for j := range L {
			if j == src[i] || (task == TaskSort && x[j] == want) {
				s += m[i*L+j]
			}
		}
	}
	return s / float64(L)
}

// AttnTasksConfig is the budget of the attention-tasks experiment: a model
// of every positional encoding trained on every task from seeds
// 1…Seeds, on sequences of length Len, then scored on Eval fixed sequences
// at every length of Lengths (the model is built for the longest).
type AttnTasksConfig struct {
	Tasks     []string `json:"tasks"`
	Positions []string `json:"positions"`
	Seeds     int      `json:"seeds"`
	Steps     int      `json:"steps"`
	Len       int      `json:"len"`     // training length
	Lengths   []int    `json:"lengths"` // test lengths, ascending, the first = Len
	Eval      int      `json:"eval"`    // fixed sequences per length
	Heads     int      `json:"heads"`
	Blocks    int      `json:"blocks"`
	LR        float64  `json:"lr"`
}

// MaxAttnSteps bounds an AttnTasksConfig's steps per run.
const MaxAttnSteps = 20000

// DefaultAttnTasksConfig is what `lab attention-tasks` runs by default:
// the three tasks, the three encodings, 3 seeds, 400 steps on length 8,
// scored on 256 fixed sequences of lengths 8, 12 and 16, the model of
// DefaultAttnTrainConfig.
func DefaultAttnTasksConfig() AttnTasksConfig {
	d := DefaultAttnTrainConfig(TaskReverse)
	return AttnTasksConfig{
		Tasks: AttnTasks(), Positions: AttnPositions(), Seeds: 3, Steps: 400, Len: d.Len,
		Lengths: []int{8, 12, 16}, Eval: 256, Heads: d.Heads, Blocks: d.Blocks, LR: d.LR,
	}
}

// trainConfig is the AttnTrainConfig of one run under c.
func (c AttnTasksConfig) trainConfig(task, pos string, seed uint64) AttnTrainConfig {
	t := DefaultAttnTrainConfig(task)
	t.Positions, t.Seed, t.Len, t.MaxLen = pos, seed, c.Len, c.Lengths[len(c.Lengths)-1]
	t.Heads, t.Blocks, t.LR = c.Heads, c.Blocks, c.LR
	return t
}

// Validate returns an error naming the first field outside its range.
func (c AttnTasksConfig) Validate() error {
	switch {
	case len(c.Tasks) == 0:
		return errors.New("lab: tasks: want at least one of copy, reverse, sort")
	case len(c.Positions) == 0:
		return errors.New("lab: positions: want at least one of sinusoidal, learned, none")
	case c.Seeds < 1 || c.Seeds > MaxSeeds:
		return fmt.Errorf("lab: seeds %d: want 1…%d", c.Seeds, MaxSeeds)
	case c.Steps < 1 || c.Steps > MaxAttnSteps:
		return fmt.Errorf("lab: steps %d: want 1…%d", c.Steps, MaxAttnSteps)
	case len(c.Lengths) == 0 || c.Lengths[0] != c.Len:
		return fmt.Errorf("lab: lengths %v: want the training length %d first", c.Lengths, c.Len)
	case c.Eval < 1 || c.Eval > 10000:
		return fmt.Errorf("lab: eval %d: want 1…10000", c.Eval)
	}
	for i := 1; i < len(c.Lengths); i++ {
		if c.Lengths[i] <= c.Lengths[i-1] {
			return fmt.Errorf("lab: lengths %v: want ascending", c.Lengths)
		}
	}
	for _, list := range [][]string{c.Tasks, c.Positions} {
		for i, s := range list {
			if slices.Contains(list[:i], s) {
				return fmt.Errorf("lab: %q listed twice", s)
			}
		}
	}
	for _, task := range c.Tasks {
		for _, pos := range c.Positions {
			if err := c.trainConfig(task, pos, 1).Validate(); err != nil {
				return err
			}
		}
	}
	return nil
}

// AttnRun is one model trained from one seed.
type AttnRun struct {
	Seed     uint64    `json:"seed"`
	Diverged bool      `json:"diverged"` // stopped at a non-finite loss or gradient
	Loss     float64   `json:"loss"`     // on the fixed sequences of the training length
	Accuracy []float64 `json:"accuracy"` // per-token, per test length
	// Pattern is the mean, over the first patternProbes fixed sequences of
	// the training length, of the largest PatternMass of any head of any
	// block: how much attention the best head puts where the answer is.
	Pattern float64 `json:"pattern"`
	// NoAttention is the per-token accuracy on the fixed sequences of the
	// training length once every attention's output projection (w_o and
	// b_o) is zeroed: what the model does with attention taken out.
	NoAttention float64 `json:"noAttention"`
	Seconds     float64 `json:"seconds"`
}

// AttnRow is one task and positional encoding over every seed.
type AttnRow struct {
	Task      string    `json:"task"`
	Positions string    `json:"positions"`
	Params    int       `json:"params"`
	Runs      []AttnRun `json:"runs"`
	Loss      Stat      `json:"loss"`
	Accuracy  []Stat    `json:"accuracy"` // per test length
	Pattern   Stat      `json:"pattern"`
}

// AttnTasksResult is the attention-tasks table.
type AttnTasksResult struct {
	Config  AttnTasksConfig `json:"config"`
	Rows    []AttnRow       `json:"rows"`
	Seconds float64         `json:"seconds"`
}

// Row returns the row of task and pos, or nil.
func (r *AttnTasksResult) Row(task, pos string) *AttnRow {
	for i := range r.Rows {
		if r.Rows[i].Task == task && r.Rows[i].Positions == pos {
			return &r.Rows[i]
		}
	}
	return nil
}

// patternProbes is how many fixed sequences Pattern averages over.
const patternProbes = 32

// AttentionTasks trains a model of every positional encoding on every task
// of cfg from seeds 1…cfg.Seeds and scores each on the fixed sequences of
// every test length, with mean and standard deviation over seeds.
// progress (may be nil) is called after every step and before each
// measurement, from the calling goroutine (Progress.Model is
// "task/positions"). It returns cfg.Validate's error for a bad budget, and
// ctx's error when ctx is cancelled (checked between steps).
func AttentionTasks(ctx context.Context, cfg AttnTasksConfig, progress func(Progress)) (*AttnTasksResult, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	start := time.Now()
	res := &AttnTasksResult{Config: cfg}
	runs := len(cfg.Tasks) * len(cfg.Positions) * cfg.Seeds
	n := 0
	for _, task := range cfg.Tasks {
		for _, pos := range cfg.Positions {
			row := AttnRow{Task: task, Positions: pos}
			for seed := uint64(1); seed <= uint64(cfg.Seeds); seed++ {
				n++
				tc := cfg.trainConfig(task, pos, seed)
				report := func(step int, phase string) {
					if progress != nil {
						progress(Progress{Model: task + "/" + pos, Seed: seed, Run: n, Runs: runs, Step: step, Steps: cfg.Steps, Phase: phase, Elapsed: time.Since(start)})
					}
				}
				ar, params, err := attnRun(ctx, cfg, tc, report)
				if err != nil {
					return nil, err
				}
				row.Params = params
				row.Runs = append(row.Runs, ar)
			}
			row.Loss = attnStat(row.Runs, func(r AttnRun) float64 { return r.Loss })
			row.Pattern = attnStat(row.Runs, func(r AttnRun) float64 { return r.Pattern })
			for i := range cfg.Lengths {
				row.Accuracy = append(row.Accuracy, attnStat(row.Runs, func(r AttnRun) float64 { return r.Accuracy[i] }))
			}
			res.Rows = append(res.Rows, row)
		}
	}
	res.Seconds = time.Since(start).Seconds()
	return res, nil
}

func attnStat(runs []AttnRun, f func(AttnRun) float64) Stat {
	xs := make([]float64, len(runs))
	for i, r := range runs {
		xs[i] = f(r)
	}
	return newStat(xs)
}

// attnRun trains one model for cfg.Steps steps and scores it.
func attnRun(ctx context.Context, cfg AttnTasksConfig, tc AttnTrainConfig, report func(step int, phase string)) (AttnRun, int, error) {
	start := time.Now()
	t, err := NewAttnTrainer(tc)
	if err != nil {
		return AttnRun{}, 0, err
	}
	ar := AttnRun{Seed: tc.Seed}
	for i := range cfg.Steps {
		if err := ctx.Err(); err != nil {
			return AttnRun{}, 0, err
		}
		if _, err := t.Step(); errors.Is(err, engine.ErrDiverged) {
			ar.Diverged = true
			break
		} else if err != nil {
			return AttnRun{}, 0, err
		}
		report(i+1, "train")
	}
	report(t.Steps(), "measure")
	for i, L := range cfg.Lengths {
		x, y := AttnEvalSet(tc.Task, cfg.Eval, L, tc.Vocab)
		loss, acc := t.Evaluate(x, y)
		if i == 0 {
			ar.Loss = loss
		}
		ar.Accuracy = append(ar.Accuracy, acc)
	}
	ar.Pattern = t.PatternScore(patternProbes)
	// Last, since it changes the model.
	t.AblateAttention()
	x, y := AttnEvalSet(tc.Task, cfg.Eval, cfg.Len, tc.Vocab)
	_, ar.NoAttention = t.Evaluate(x, y)
	ar.Seconds = time.Since(start).Seconds()
	return ar, t.Model().Count().Params, nil
}

// AblateAttention zeroes the output projection (w_o and b_o) of every
// attention of the model, so that attention adds nothing to the residual
// stream, and returns how many parameters it zeroed. Training after it is
// not meaningful; it is for measuring what the model does without
// attention.
func (t *AttnTrainer) AblateAttention() int {
	n := 0
	for _, p := range t.model.Params() {
		if strings.HasSuffix(p.Name, ".w_o") || strings.HasSuffix(p.Name, ".b_o") {
			clear(p.Value.Data)
			n++
		}
	}
	return n
}

// PatternScore is the mean over the first n fixed sequences of the
// training length of the largest PatternMass of any head of any block.
func (t *AttnTrainer) PatternScore(n int) float64 {
	x, _ := AttnEvalSet(t.cfg.Task, n, t.cfg.Len, t.cfg.Vocab)
	L := t.cfg.Len
	var s float64
	for b := range n {
		seq := x.Data[b*L : (b+1)*L]
		maps, _ := t.Maps(engine.TensorFrom(slices.Clone(seq), 1, L))
		best := 0.0
		for _, bm := range maps {
			for _, m := range bm {
				best = max(best, PatternMass(t.cfg.Task, seq, m))
			}
		}
		s += best
	}
	return s / float64(n)
}

// AttnCharts returns the attention-tasks figures: per-token accuracy at
// the training length per task (one bar per positional encoding, mean over
// seeds), and per task the accuracy against the test length.
func AttnCharts(res *AttnTasksResult) []Chart {
	c := res.Config
	seeds := fmt.Sprintf("mean of %d seeds", c.Seeds)
	if c.Seeds == 1 {
		seeds = "1 seed"
	}
	var groups []viz.BarGroup
	for _, pos := range c.Positions {
		g := viz.BarGroup{Label: pos}
		for _, task := range c.Tasks {
			g.Values = append(g.Values, 100*res.Row(task, pos).Accuracy[0].Mean)
		}
		groups = append(groups, g)
	}
	charts := []Chart{{Name: "attention-accuracy", Write: func(w io.Writer, format string) error {
		return viz.WriteBars(w, format, fmt.Sprintf("Per-token accuracy at length %d after %d steps (%s)", c.Len, c.Steps, seeds), "accuracy (%)", c.Tasks, false, groups...)
	}}}
	for _, task := range c.Tasks {
		var series []viz.Series
		for _, pos := range c.Positions {
			s := viz.Series{Name: pos}
			for i, L := range c.Lengths {
				s.X, s.Y = append(s.X, float64(L)), append(s.Y, 100*res.Row(task, pos).Accuracy[i].Mean)
			}
			series = append(series, s)
		}
		charts = append(charts, Chart{Name: "attention-lengths-" + task, Write: func(w io.Writer, format string) error {
			return viz.WriteLines(w, format, fmt.Sprintf("%s: trained on length %d, tested longer (%s)", task, c.Len, seeds), "test length", "accuracy (%)", false, series...)
		}})
	}
	return charts
}
