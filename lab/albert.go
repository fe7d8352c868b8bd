package lab

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/paramshare/paramshare/engine"
	"github.com/paramshare/paramshare/engine/data"
)

// This file is the cross-layer sharing lesson's trainer (ALBERT, Lan et
// al. 2019): a stack of N transformer blocks (engine.NewTransformer) whose
// blocks hold one set of weights, or share only the attention part, only
// the feed-forward part, or nothing; trained on reversal with Adam, one
// freshly drawn batch per step; and a probe that measures, on a fixed
// batch, each block's part of every shared gradient (the engine's UseLayer
// contributions) and how far each block moves the hidden state (the L2
// distance and the angle between a block's input and output, ALBERT's
// Figure 1).

// The sharing modes, in the order tables list them: engine.BlockSharings.
func AlbertShares() []string {
	var out []string
	for _, s := range engine.BlockSharings() {
		out = append(out, string(s))
	}
	return out
}

// The tasks an AlbertConfig may name.
const (
	AlbertReverse = "reverse" // data.Reverse: output the sequence backwards
	AlbertCopy    = "copy"    // data.Copy: output it as it is
)

// AlbertTasks lists the tasks.
func AlbertTasks() []string { return []string{AlbertReverse, AlbertCopy} }

// Limits of an AlbertConfig.
const (
	MinAlbertBlocks = 2
	MaxAlbertBlocks = 6
	MaxAlbertD      = 64
	MaxAlbertT      = 16
	MaxAlbertBatch  = 64
)

// The PCG streams of an AlbertTrainer's data: training batches and the
// probe depend on the seed (the same for every mode, so a race's models
// see the same sequences); the evaluation set depends on nothing but the
// task's sizes.
const (
	albertTrainStream = 0x6c61622d616c6274 // "lab-albt"
	albertProbeStream = 0x6c61622d616c6270 // "lab-albp"
	albertEvalStream  = 0x6c61622d616c6265 // "lab-albe"
	albertEvalSeed    = 20260101
	// AlbertEvalSize is how many fixed sequences Evaluate scores.
	AlbertEvalSize = 256
)

// AlbertConfig is one training run of the cross-layer sharing lesson.
type AlbertConfig struct {
	Share  string  `json:"share"` // of AlbertShares()
	Task   string  `json:"task"`  // of AlbertTasks()
	Blocks int     `json:"blocks"`
	D      int     `json:"d"`     // d_model; heads of 8 features, d_ff = 2d
	T      int     `json:"T"`     // sequence length
	Vocab  int     `json:"vocab"` // tokens 0…Vocab−1
	Batch  int     `json:"batch"`
	LR     float64 `json:"lr"` // Adam's
	Seed   uint64  `json:"seed"`
}

// DefaultAlbertConfig is the lesson's starting point: 4 blocks of d = 32
// (4 heads, d_ff = 64) reversing 8 tokens of 10, batches of 16, Adam at
// 3e-3, seed 1.
func DefaultAlbertConfig(share string) AlbertConfig {
	return AlbertConfig{Share: share, Task: AlbertReverse, Blocks: 4, D: 32, T: 8, Vocab: 10, Batch: 16, LR: 3e-3, Seed: 1}
}

// Validate returns an error naming the first field outside its range, or
// nil.
func (c AlbertConfig) Validate() error {
	switch {
	case !slices.Contains(AlbertShares(), c.Share):
		return fmt.Errorf("lab: share %q: want one of %s", c.Share, strings.Join(AlbertShares(), ", "))
	case !slices.Contains(AlbertTasks(), c.Task):
		return fmt.Errorf("lab: task %q: want one of %s", c.Task, strings.Join(AlbertTasks(), ", "))
	case c.Blocks < MinAlbertBlocks || c.Blocks > MaxAlbertBlocks:
		return fmt.Errorf("lab: blocks %d: want %d…%d", c.Blocks, MinAlbertBlocks, MaxAlbertBlocks)
	case c.D < 8 || c.D > MaxAlbertD || c.D%8 != 0:
		return fmt.Errorf("lab: d %d: want a multiple of 8 in 8…%d", c.D, MaxAlbertD)
	case c.T < 2 || c.T > MaxAlbertT:
		return fmt.Errorf("lab: T %d: want 2…%d", c.T, MaxAlbertT)
	case c.Vocab < 2 || c.Vocab > 100:
		return fmt.Errorf("lab: vocab %d: want 2…100", c.Vocab)
	case c.Batch < 1 || c.Batch > MaxAlbertBatch:
		return fmt.Errorf("lab: batch %d: want 1…%d", c.Batch, MaxAlbertBatch)
	case !(c.LR > 0 && c.LR <= MaxLR):
		return fmt.Errorf("lab: lr %v: want 0 < lr ≤ %v", c.LR, MaxLR)
	}
	return nil
}

// Model is c's engine configuration: sinusoidal positions, not causal, an
// output layer of its own (untied, so that the modes differ only in the
// blocks, as engine's "albert" and "deep").
func (c AlbertConfig) Model() engine.TransformerConfig {
	return engine.TransformerConfig{
		Vocab: c.Vocab, D: c.D, Heads: c.D / 8, DFF: 2 * c.D, T: c.T, Blocks: c.Blocks,
		Share: engine.BlockSharing(c.Share), Positions: engine.PositionsSinusoidal,
	}
}

func (c AlbertConfig) batch(rng *rand.Rand, n int) (x, y *engine.Tensor) {
	if c.Task == AlbertCopy {
		return data.Copy(rng, n, c.T, c.Vocab)
	}
	return data.Reverse(rng, n, c.T, c.Vocab)
}

// AlbertPartParams returns, by hand, the parameters of one block's
// attention part (ln1: 2d; W_Q, W_K, W_V, W_O with biases: 4(d² + d)) and
// feed-forward part (ln2: 2d; ff1: d·d_ff + d_ff; ff2: d_ff·d + d).
func AlbertPartParams(d, dff int) (attn, ffn int) {
	return 2*d + 4*(d*d+d), 2*d + d*dff + dff + dff*d + d
}

// AlbertParams returns, by hand, the parameters of c's model: the
// embedding (V·d), the sinusoidal positions (none), the blocks — each
// part counted once when shared, N times when not — and the output layer
// (d·V + V).
func AlbertParams(c AlbertConfig) int {
	attn, ffn := AlbertPartParams(c.D, 2*c.D)
	n := c.Blocks
	switch engine.BlockSharing(c.Share) {
	case engine.ShareAll:
	case engine.ShareAttention:
		ffn *= n
	case engine.ShareFFN:
		attn *= n
	default:
		attn, ffn = attn*n, ffn*n
	}
	return c.Vocab*c.D + attn + ffn + c.D*c.Vocab + c.Vocab
}

// AlbertStep is what one training step did.
type AlbertStep struct {
	Step int     `json:"step"` // steps taken, this one included
	Loss float64 `json:"loss"` // the batch's loss before the update
	Acc  float64 `json:"acc"`  // the batch's token accuracy before the update
}

// AlbertTrainer trains one model of the lesson on fresh batches drawn from
// the seed: configs that differ only in Share see the same sequences. It is
// not safe for concurrent use.
type AlbertTrainer struct {
	cfg      AlbertConfig
	model    *engine.Model
	blocks   []int // indices of the blocks in model.Layers
	opt      engine.Optimizer
	rng      *rand.Rand
	steps    int
	diverged error
	probeX   *engine.Tensor
	probeY   *engine.Tensor
	evalX    *engine.Tensor
	evalY    *engine.Tensor
}

// NewAlbertTrainer returns a trainer for c with a fresh model, or
// c.Validate's error.
func NewAlbertTrainer(c AlbertConfig) (*AlbertTrainer, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	t := &AlbertTrainer{cfg: c}
	if err := t.Reset(); err != nil {
		return nil, err
	}
	t.probeX, t.probeY = c.batch(rand.New(rand.NewPCG(c.Seed, albertProbeStream)), c.Batch)
	t.evalX, t.evalY = c.batch(rand.New(rand.NewPCG(albertEvalSeed, albertEvalStream)), AlbertEvalSize)
	return t, nil
}

// Reset rebuilds the model from the seed, a new optimizer and the first
// batch again.
func (t *AlbertTrainer) Reset() error {
	m, err := engine.NewTransformer("albert-"+t.cfg.Share, t.cfg.Model(), t.cfg.Seed)
	if err != nil {
		return err
	}
	t.model, t.blocks = m, nil
	for i, l := range m.Layers {
		if _, ok := l.(*engine.TransformerBlock); ok {
			t.blocks = append(t.blocks, i)
		}
	}
	t.opt = engine.NewAdam(t.cfg.LR, 0.9, 0.999, 1e-8)
	t.rng = rand.New(rand.NewPCG(t.cfg.Seed, albertTrainStream))
	t.steps, t.diverged = 0, nil
	return nil
}

// Config returns the trainer's configuration.
func (t *AlbertTrainer) Config() AlbertConfig { return t.cfg }

// Model returns the model being trained (read it; do not step it).
func (t *AlbertTrainer) Model() *engine.Model { return t.model }

// Steps returns the steps taken since the last Reset.
func (t *AlbertTrainer) Steps() int { return t.steps }

// ProbeBatch returns the fixed probe batch Measure uses (read it only).
func (t *AlbertTrainer) ProbeBatch() (x, y *engine.Tensor) { return t.probeX, t.probeY }

// Step trains on the next batch: forward, loss, backward, one Adam update
// (no tap: the four modes do the same arithmetic but for the update of
// their unique parameters). When the loss or a gradient is not finite it
// makes no update and returns an error wrapping engine.ErrDiverged, and so
// does every later Step until Reset.
func (t *AlbertTrainer) Step() (AlbertStep, error) {
	if t.diverged != nil {
		return AlbertStep{}, t.diverged
	}
	x, y := t.cfg.batch(t.rng, t.cfg.Batch)
	t.steps++
	m := t.model
	m.ZeroGrad()
	out := m.Forward(x, nil)
	res := AlbertStep{Step: t.steps, Loss: m.Loss.Forward(out, y), Acc: engine.Accuracy(out, y)}
	if math.IsNaN(res.Loss) || math.IsInf(res.Loss, 0) {
		t.diverged = fmt.Errorf("lab: %s at step %d: loss %v: %w", t.cfg.Share, t.steps, res.Loss, engine.ErrDiverged)
		return res, t.diverged
	}
	m.Backward(m.Loss.Backward(), nil)
	if n := engine.GradNorm(m.Params()); math.IsNaN(n) || math.IsInf(n, 0) {
		t.diverged = fmt.Errorf("lab: %s at step %d: gradient norm %v: %w", t.cfg.Share, t.steps, n, engine.ErrDiverged)
		return res, t.diverged
	}
	t.opt.Step(m.Params())
	return res, nil
}

// Evaluate returns the mean loss and token accuracy on the AlbertEvalSize
// fixed sequences (the same for every seed and mode), in passes of Batch.
// It changes neither the weights nor the gradients.
func (t *AlbertTrainer) Evaluate() (loss, acc float64) {
	n := AlbertEvalSize
	w := t.cfg.T
	for lo := 0; lo < n; lo += t.cfg.Batch {
		k := min(t.cfg.Batch, n-lo)
		x := engine.TensorFrom(t.evalX.Data[lo*w:(lo+k)*w], k, w)
		y := engine.TensorFrom(t.evalY.Data[lo*w:(lo+k)*w], k, w)
		out := t.model.Forward(x, nil)
		loss += t.model.Loss.Forward(out, y) * float64(k)
		acc += engine.Accuracy(out, y) * float64(k)
	}
	return loss / float64(n), acc / float64(n)
}

// AlbertParts names the two parts of a block, in the order AlbertProbe
// lists them.
func AlbertParts() []string { return []string{"attention", "ffn"} }

// partOf says which part a block's local parameter name belongs to.
func partOf(local string) int {
	if strings.HasPrefix(local, "ln1.") || strings.HasPrefix(local, "attn.") {
		return 0
	}
	return 1
}

// AlbertProbe is one probe pass of a model on the fixed probe batch.
type AlbertProbe struct {
	Loss float64 `json:"loss"`
	// Shared[p] says whether part p (AlbertParts order) is held by every
	// block.
	Shared []bool `json:"shared"`
	// Parts[p][l] is the norm of block l's part of the gradient of part
	// p's parameters (all of them as one vector): for a shared part, the
	// engine's UseLayer contribution; for a part of its own, the block's
	// own gradient.
	Parts [][]float64 `json:"parts"`
	// Total[p] is the norm of the gradient of part p's parameters summed
	// over the blocks that hold them: for a shared part the norm of its
	// one gradient dW = Σ_l contribution_l; for parts of their own, the
	// norm of all blocks' gradients together.
	Total []float64 `json:"total"`
	// SumErr is the largest |Σ_l contribution_l − dW| over every element
	// of every shared parameter (0 when nothing is shared).
	SumErr float64 `json:"sumErr"`
	// L2[l] is the mean over the batch's tokens of ‖y − x‖ for block l's
	// input x and output y; Angle[l] the mean angle between them in
	// degrees, arccos(x·y / ‖x‖‖y‖) (ALBERT's Figure 1).
	L2    []float64 `json:"l2"`
	Angle []float64 `json:"angle"`
	// Ledger is one small parameter's gradient block by block.
	Ledger AlbertLedger `json:"ledger"`
}

// AlbertLedger is the ledger of one bias vector (d numbers, small enough
// to show whole): ff2.bias when the feed-forward part is shared or nothing
// is, attn.b_o when only the attention is.
type AlbertLedger struct {
	Param  string `json:"param"`  // local name
	Shared bool   `json:"shared"` // held by every block
	// Rows[l] is block l's UseLayer contribution (shared) or its own
	// Param's gradient (not shared).
	Rows [][]float64 `json:"rows"`
	// Sum is Σ_l Rows[l]; Grad, for a shared Param, the engine's dW (the
	// one Param.Grad), which Sum equals.
	Sum  []float64 `json:"sum"`
	Grad []float64 `json:"grad,omitempty"`
}

// LedgerParam names the parameter share's ledger shows.
func LedgerParam(share string) string {
	if share == string(engine.ShareAttention) {
		return "attn.b_o"
	}
	return "ff2.bias"
}

// hiddenTap records the blocks' input-to-output distances and keeps every
// UseLayer contribution (an engine.Recorder with an Output method).
type hiddenTap struct {
	*engine.Recorder
	l2, angle []float64
}

func (h *hiddenTap) Output(l engine.Layer, x, y *engine.Tensor) {
	if _, ok := l.(*engine.TransformerBlock); !ok {
		return
	}
	d := x.Shape[len(x.Shape)-1]
	n := x.Size() / d
	var dist, ang float64
	for i := range n {
		xs, ys := x.Data[i*d:(i+1)*d], y.Data[i*d:(i+1)*d]
		var dd, xy, xx, yy float64
		for j, a := range xs {
			b := ys[j]
			dd += (b - a) * (b - a)
			xy += a * b
			xx += a * a
			yy += b * b
		}
		dist += math.Sqrt(dd)
		cos := xy / math.Sqrt(xx*yy)
		ang += math.Acos(max(-1, min(1, cos))) * 180 / math.Pi
	}
	h.l2 = append(h.l2, dist/float64(n))
	h.angle = append(h.angle, ang/float64(n))
}

// Measure runs the probe batch forward and backward with a tap and returns
// the per-block gradient parts and hidden-state distances. It leaves the
// gradients zeroed; call it between Steps.
func (t *AlbertTrainer) Measure() (AlbertProbe, error) {
	m := t.model
	tap := &hiddenTap{Recorder: engine.NewRecorder(engine.RecordFilter{Kinds: []engine.UseKind{engine.UseLayer}})}
	loss, err := m.ComputeGrad(t.probeX, t.probeY, tap)
	if err != nil {
		m.ZeroGrad()
		return AlbertProbe{}, fmt.Errorf("lab: %s probe: %w", t.cfg.Share, err)
	}
	nb := len(t.blocks)
	pr := AlbertProbe{Loss: loss, L2: tap.l2, Angle: tap.angle, Shared: make([]bool, 2), Total: make([]float64, 2)}
	sq := make([][]float64, 2) // squared norms [part][block]
	for p := range sq {
		sq[p] = make([]float64, nb)
	}
	first := m.Layers[t.blocks[0]]
	for _, np := range first.Params() {
		p := np.Param
		part := partOf(np.Local)
		if len(m.Holders(p)) > 1 {
			pr.Shared[part] = true
			uses := tap.Uses(p, engine.UseLayer)
			if len(uses) != nb {
				m.ZeroGrad()
				return AlbertProbe{}, fmt.Errorf("lab: %s probe: %d UseLayer contributions to %s, want %d", t.cfg.Share, len(uses), p.Name, nb)
			}
			sum := make([]float64, p.Size())
			for l, c := range uses {
				for i, g := range c.Grad.Data {
					sq[part][l] += g * g
					sum[i] += g
				}
			}
			for i, g := range p.Grad.Data {
				pr.SumErr = max(pr.SumErr, math.Abs(sum[i]-g))
				pr.Total[part] += g * g
			}
		}
	}
	// Parts of their own: each block's Params of that part.
	for l, bi := range t.blocks {
		for _, np := range m.Layers[bi].Params() {
			if len(m.Holders(np.Param)) > 1 {
				continue
			}
			part := partOf(np.Local)
			for _, g := range np.Param.Grad.Data {
				sq[part][l] += g * g
				pr.Total[part] += g * g
			}
		}
	}
	for p := range sq {
		for l := range sq[p] {
			sq[p][l] = math.Sqrt(sq[p][l])
		}
		pr.Total[p] = math.Sqrt(pr.Total[p])
	}
	pr.Parts = sq
	pr.Ledger = t.ledger(tap)
	m.ZeroGrad()
	return pr, nil
}

// ledger reads LedgerParam's rows from the blocks after a probe pass.
func (t *AlbertTrainer) ledger(tap *hiddenTap) AlbertLedger {
	m := t.model
	lg := AlbertLedger{Param: LedgerParam(t.cfg.Share)}
	for l, bi := range t.blocks {
		for _, np := range m.Layers[bi].Params() {
			if np.Local != lg.Param {
				continue
			}
			if len(m.Holders(np.Param)) > 1 {
				lg.Shared = true
				lg.Rows = append(lg.Rows, slices.Clone(tap.Uses(np.Param, engine.UseLayer)[l].Grad.Data))
				if l == 0 {
					lg.Grad = slices.Clone(np.Param.Grad.Data)
				}
			} else {
				lg.Rows = append(lg.Rows, slices.Clone(np.Param.Grad.Data))
			}
		}
	}
	lg.Sum = make([]float64, len(lg.Rows[0]))
	for _, r := range lg.Rows {
		for i, g := range r {
			lg.Sum[i] += g
		}
	}
	return lg
}
