package lab

import (
	"context"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"time"

	"github.com/paramshare/paramshare/engine"
	"github.com/paramshare/paramshare/engine/data"
	"github.com/paramshare/paramshare/viz"
)

// Lesson 15, "Twins and tasks": two kinds of sharing between whole
// networks, each raced against its unshared control on the embedded MNIST
// digits.
//
//   - TwinsTrainer: a siamese encoder (engine.NewSiameseCNN, one set of
//     weights used by both sides of a pair, contrastive loss) against two
//     towers, the same encoder twice with weights of their own (twice the
//     parameters). The towers start as two copies of the twins' encoder, so
//     at step 0 tower k's gradient is exactly side k's contribution to the
//     twins' gradient: sharing adds the two, the towers keep them apart.
//   - TasksTrainer: a multi-task trunk (engine.NewMultitaskCNN: which digit,
//     and odd or even) against two separate CNNs, one per task, whose trunks
//     and heads start as copies of the shared model's. Every step measures
//     each task's gradient on the shared trunk by a backward pass per head.

// Limits shared by both trainers.
const (
	MaxTwinsBatch = 32
	// TwinsEvalPairs is how many fixed test pairs (half same digit, half
	// not) the verification accuracy is measured on; TasksEvalSize how many
	// test digits the task accuracies are.
	TwinsEvalPairs = 200
	TasksEvalSize  = 500
	// evalSeed draws the fixed test pairs: the same for every run.
	evalSeed = 15
)

// TwinsConfig is one twins-vs-towers (or trunk-vs-separate) run: Adam at
// LR on Batch pairs (digits) a step drawn from the first TrainSize
// training digits, initial weights and sampling from Seed.
type TwinsConfig struct {
	Batch     int     `json:"batch"`
	TrainSize int     `json:"trainSize"`
	LR        float64 `json:"lr"`
	Seed      uint64  `json:"seed"`
}

// DefaultTwinsConfig is the lesson's run: 16 pairs (digits) a step from
// 1,000 training digits, Adam 3e-3, seed 1.
func DefaultTwinsConfig() TwinsConfig {
	return TwinsConfig{Batch: 16, TrainSize: 1000, LR: 3e-3, Seed: 1}
}

// Validate names the first value out of range.
func (c TwinsConfig) Validate() error {
	switch {
	case c.Batch < 2 || c.Batch > MaxTwinsBatch:
		return fmt.Errorf("lab: batch %d: want 2…%d", c.Batch, MaxTwinsBatch)
	case c.TrainSize < 100 || c.TrainSize > MaxTrainSize:
		return fmt.Errorf("lab: train size %d: want 100…%d", c.TrainSize, MaxTrainSize)
	case !(c.LR > 0 && c.LR <= MaxLR):
		return fmt.Errorf("lab: lr %v: want 0 < lr ≤ %v", c.LR, MaxLR)
	}
	return nil
}

// ---- Twins and towers ----

// TwinsStep is one step of both models.
type TwinsStep struct {
	Step   int
	Loss   [2]float64 // twins, towers: contrastive loss of the batch
	Margin float64
}

// TwinsTrainer trains the siamese twins and the two towers side by side on
// the same pairs.
type TwinsTrainer struct {
	cfg    TwinsConfig
	sc     engine.SiameseConfig
	twins  *engine.Model
	towers [2]*engine.Model // encoders only: distance and loss are computed here
	loss   *engine.Contrastive
	rec    *engine.Recorder
	opt    [2]engine.Optimizer
	rng    *rand.Rand
	byDig  [10][]int // training digits by class, indices into TrainSet
	steps  int

	x, y, x0, x1 *engine.Tensor
	test, train  pairs // fixed pairs of test digits, and of the training digits
	diff         []float64
	// noRecord makes Step train the twins without the recorder (SetRecord).
	noRecord bool
	// spent is each model's time (twins, towers) in Step and the
	// evaluations since the last Reset: they train in lockstep.
	spent [2]time.Duration
}

// pairs is a fixed set of digit pairs: indices into a set and 1 for the
// same digit, 0 for two different ones.
type pairs struct {
	a, b []int
	same []float64
}

// NewTwinsTrainer builds both models at step 0.
func NewTwinsTrainer(cfg TwinsConfig) (*TwinsTrainer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	t := &TwinsTrainer{cfg: cfg, sc: engine.DefaultSiameseConfig()}
	train := TrainSet()
	for i := range cfg.TrainSize {
		d := train.Labels[i]
		t.byDig[d] = append(t.byDig[d], i)
	}
	t.test = testPairs(TestSet(), TwinsEvalPairs)
	t.train = trainPairs(&t.byDig, TwinsEvalPairs)
	s := t.sc.Size
	t.x, t.y = engine.NewTensor(cfg.Batch, 2, 1, s, s), engine.NewTensor(cfg.Batch)
	t.x0, t.x1 = engine.NewTensor(cfg.Batch, 1, s, s), engine.NewTensor(cfg.Batch, 1, s, s)
	return t, t.Reset()
}

// Reset puts both models back at step 0.
func (t *TwinsTrainer) Reset() error {
	twins, err := engine.NewSiameseCNN("twins", t.sc, t.cfg.Seed)
	if err != nil {
		return err
	}
	t.twins = twins
	for k := range t.towers {
		if t.towers[k], err = NewTower(fmt.Sprintf("tower%d", k), t.sc, twins.Params()); err != nil {
			return err
		}
	}
	t.loss = engine.NewContrastive(t.sc.Margin)
	t.rec = engine.NewRecorder(engine.RecordFilter{Kinds: []engine.UseKind{engine.UseBranch}})
	for k := range t.opt {
		t.opt[k] = engine.NewAdam(t.cfg.LR, 0.9, 0.999, 1e-8)
	}
	t.rng = engine.NewRand(t.cfg.Seed ^ 0x7a11)
	t.steps, t.spent = 0, [2]time.Duration{}
	return nil
}

// SetRecord turns the recorder on (the default) or off. Off, Step trains
// the twins without the per-use bookkeeping, so their time is the
// training's alone; Recorder then keeps nothing.
func (t *TwinsTrainer) SetRecord(on bool) { t.noRecord = !on }

// Spent returns each model's time (twins, towers) in Step, Evaluate and
// EvaluateTrain since the last Reset.
func (t *TwinsTrainer) Spent() [2]time.Duration { return t.spent }

// NewTower returns one tower: the siamese branch's layers (conv1 … embed)
// as a model of its own on [1, S, S] digits, its weights copied from from
// (the twins' Params, in their order), and no loss.
func NewTower(name string, sc engine.SiameseConfig, from []*engine.Param) (*engine.Model, error) {
	rng := engine.NewRand(0) // every weight is overwritten below
	conv := func(n string, in, out int) (engine.Layer, error) {
		return engine.NewConv2d(n, engine.Conv2dConfig{InChannels: in, OutChannels: out, KernelSize: 3, Stride: 1, Padding: 1}, rng)
	}
	c1, err := conv("conv1", 1, sc.Channels1)
	if err != nil {
		return nil, err
	}
	c2, err := conv("conv2", sc.Channels1, sc.Channels2)
	if err != nil {
		return nil, err
	}
	p1, _ := engine.NewMaxPool2d("pool1", 2, 2)
	p2, _ := engine.NewMaxPool2d("pool2", 2, 2)
	q := sc.Size / 4
	fc, err := engine.NewLinear("embed", sc.Channels2*q*q, sc.Embed, rng)
	if err != nil {
		return nil, err
	}
	m, err := engine.NewModel(name, []int{1, sc.Size, sc.Size}, nil,
		c1, engine.NewReLU("relu1"), p1, c2, engine.NewReLU("relu2"), p2, engine.NewFlatten("flatten"), fc)
	if err != nil {
		return nil, err
	}
	ps := m.Params()
	if len(ps) != len(from) {
		return nil, fmt.Errorf("lab: tower has %d params, the twins %d", len(ps), len(from))
	}
	for i, p := range ps {
		if len(p.Value.Data) != len(from[i].Value.Data) {
			return nil, fmt.Errorf("lab: tower param %s has %d values, the twins' %s %d", p.Name, len(p.Value.Data), from[i].Name, len(from[i].Value.Data))
		}
		copy(p.Value.Data, from[i].Value.Data)
	}
	return m, nil
}

// testPairs draws n fixed pairs from im, alternating same and different
// digits.
func testPairs(im *data.Images, n int) pairs {
	var by [10][]int
	for i := range im.N {
		by[im.Labels[i]] = append(by[im.Labels[i]], i)
	}
	rng := engine.NewRand(evalSeed)
	var p pairs
	for k := range n {
		a, b := drawPair(rng, &by, k%2 == 0)
		p.a, p.b = append(p.a, a), append(p.b, b)
		p.same = append(p.same, float64(1-k%2))
	}
	return p
}

// trainPairs draws n fixed pairs of the training digits by (the first
// TrainSize), as testPairs draws the test pairs: the pairs the training
// measure is taken on (training steps draw fresh pairs of the same digits).
func trainPairs(by *[10][]int, n int) pairs {
	rng := engine.NewRand(evalSeed)
	var p pairs
	for k := range n {
		a, b := drawPair(rng, by, k%2 == 0)
		p.a, p.b = append(p.a, a), append(p.b, b)
		p.same = append(p.same, float64(1-k%2))
	}
	return p
}

// drawPair draws two different digits of one class (same) or of two
// different classes.
func drawPair(rng *rand.Rand, by *[10][]int, same bool) (int, int) {
	c := rng.IntN(10)
	a := by[c][rng.IntN(len(by[c]))]
	if same {
		for {
			if b := by[c][rng.IntN(len(by[c]))]; b != a || len(by[c]) == 1 {
				return a, b
			}
		}
	}
	d := (c + 1 + rng.IntN(9)) % 10
	return a, by[d][rng.IntN(len(by[d]))]
}

// fillPairs writes pairs idx of p from im into x [n, 2, 1, S, S] and the
// targets into y.
func fillPairs(im *data.Images, p pairs, lo int, x, y *engine.Tensor) {
	size := im.H * im.W
	for b := range y.Shape[0] {
		for side, i := range []int{p.a[lo+b], p.b[lo+b]} {
			dst := x.Data[(2*b+side)*size:][:size]
			for k, v := range im.Pixels[i*size : (i+1)*size] {
				dst[k] = float64(v) / 255
			}
		}
		y.Data[b] = p.same[lo+b]
	}
}

// split copies the two sides of x [B, 2, ...] into x0 and x1 [B, ...].
func split(x, x0, x1 *engine.Tensor) {
	per := x0.Size() / x0.Shape[0]
	for b := range x0.Shape[0] {
		copy(x0.Data[b*per:][:per], x.Data[(2*b)*per:][:per])
		copy(x1.Data[b*per:][:per], x.Data[(2*b+1)*per:][:per])
	}
}

// PairDistance returns d[b] = ‖a[b] − c[b] + eps‖₂ (eps = 1e-6, as
// torch.nn.functional.pairwise_distance and the engine's siamese layer)
// for a and c [B, F], writing a − c + eps into diff.
func PairDistance(a, c *engine.Tensor, diff []float64) *engine.Tensor {
	bsz := a.Shape[0]
	f := a.Size() / bsz
	d := engine.NewTensor(bsz)
	for b := range bsz {
		var s float64
		for i := b * f; i < (b+1)*f; i++ {
			diff[i] = a.Data[i] - c.Data[i] + 1e-6
			s += diff[i] * diff[i]
		}
		d.Data[b] = math.Sqrt(s)
	}
	return d
}

// PairDistanceBackward returns dL/da = dd·diff/d and dL/dc = −dL/da.
func PairDistanceBackward(dd, d *engine.Tensor, diff []float64, shape []int) (da, dc *engine.Tensor) {
	da, dc = engine.NewTensor(shape...), engine.NewTensor(shape...)
	f := len(diff) / d.Shape[0]
	for b := range d.Shape[0] {
		s := 0.0
		if d.Data[b] > 0 {
			s = dd.Data[b] / d.Data[b]
		}
		for i := b * f; i < (b+1)*f; i++ {
			da.Data[i] = s * diff[i]
			dc.Data[i] = -s * diff[i]
		}
	}
	return da, dc
}

// Step trains both models on one batch of fresh pairs (half the same
// digit). The twins' backward pass is recorded: Recorder() holds each
// side's contribution to every encoder weight.
func (t *TwinsTrainer) Step() (TwinsStep, error) {
	var p pairs
	for k := range t.cfg.Batch {
		a, b := drawPair(t.rng, &t.byDig, k%2 == 0)
		p.a, p.b, p.same = append(p.a, a), append(p.b, b), append(p.same, float64(1-k%2))
	}
	fillPairs(TrainSet(), p, 0, t.x, t.y)
	t.steps++
	res := TwinsStep{Step: t.steps, Margin: t.sc.Margin}
	t.rec.Reset()
	var rec engine.Tap = t.rec
	if t.noRecord {
		rec = nil
	}
	t0 := time.Now()
	l, err := t.twins.ComputeGrad(t.x, t.y, rec)
	res.Loss[0] = l
	if err != nil {
		return res, err
	}
	t1 := time.Now()
	if res.Loss[1], err = t.TowersGrad(t.x, t.y); err != nil {
		return res, err
	}
	t2 := time.Now()
	t.opt[0].Step(t.twins.Params())
	t3 := time.Now()
	t.opt[1].Step(append(t.towers[0].Params(), t.towers[1].Params()...))
	t.spent[0] += t1.Sub(t0) + t3.Sub(t2)
	t.spent[1] += t2.Sub(t1) + time.Since(t3)
	return res, nil
}

// TowersGrad computes the towers' loss on pairs x [B, 2, 1, S, S] and
// leaves its gradient in their Params.
func (t *TwinsTrainer) TowersGrad(x, y *engine.Tensor) (float64, error) {
	split(x, t.x0, t.x1)
	for _, m := range t.towers {
		m.ZeroGrad()
	}
	a := t.towers[0].Forward(t.x0, nil)
	c := t.towers[1].Forward(t.x1, nil)
	if len(t.diff) != a.Size() {
		t.diff = make([]float64, a.Size())
	}
	d := PairDistance(a, c, t.diff)
	l := t.loss.Forward(d, y)
	if math.IsNaN(l) || math.IsInf(l, 0) {
		return l, engine.ErrDiverged
	}
	da, dc := PairDistanceBackward(t.loss.Backward(), d, t.diff, a.Shape)
	t.towers[0].Backward(da, nil)
	t.towers[1].Backward(dc, nil)
	for _, m := range t.towers {
		if n := engine.GradNorm(m.Params()); math.IsNaN(n) || math.IsInf(n, 0) {
			return l, engine.ErrDiverged
		}
	}
	return l, nil
}

// Evaluate returns the verification accuracy of the twins and the towers
// on the fixed test pairs: a pair is called "same digit" when its distance
// is below half the margin.
func (t *TwinsTrainer) Evaluate() [2]float64 { return t.evaluate(TestSet(), t.test) }

// EvaluateTrain returns the verification accuracy of the twins and the
// towers on TwinsEvalPairs fixed pairs of the training digits, measured as
// Evaluate measures the test pairs: the training side of the gap.
func (t *TwinsTrainer) EvaluateTrain() [2]float64 { return t.evaluate(TrainSet(), t.train) }

func (t *TwinsTrainer) evaluate(im *data.Images, p pairs) [2]float64 {
	// Chunks of a step's batch: the layers' buffers stay the size training
	// makes them.
	var hits [2]int
	n := len(p.same)
	for lo := 0; lo < n; lo += t.cfg.Batch {
		m := min(t.cfg.Batch, n-lo)
		x, y := t.x, t.y
		x0, x1 := t.x0, t.x1
		if m < t.cfg.Batch {
			s := t.sc.Size
			x, y = engine.NewTensor(m, 2, 1, s, s), engine.NewTensor(m)
			x0, x1 = engine.NewTensor(m, 1, s, s), engine.NewTensor(m, 1, s, s)
		}
		fillPairs(im, p, lo, x, y)
		t0 := time.Now()
		d0 := t.twins.Forward(x, nil)
		t1 := time.Now()
		split(x, x0, x1)
		a := t.towers[0].Forward(x0, nil).Clone()
		c := t.towers[1].Forward(x1, nil)
		d1 := PairDistance(a, c, make([]float64, a.Size()))
		t.spent[0] += t1.Sub(t0)
		t.spent[1] += time.Since(t1)
		for b := range m {
			for k, d := range []float64{d0.Data[b], d1.Data[b]} {
				if (d < t.sc.Margin/2) == (y.Data[b] == 1) {
					hits[k]++
				}
			}
		}
	}
	return [2]float64{float64(hits[0]) / float64(n), float64(hits[1]) / float64(n)}
}

// Twins is the siamese model; Towers the two tower encoders.
func (t *TwinsTrainer) Twins() *engine.Model       { return t.twins }
func (t *TwinsTrainer) Towers() [2]*engine.Model   { return t.towers }
func (t *TwinsTrainer) Recorder() *engine.Recorder { return t.rec }
func (t *TwinsTrainer) Config() TwinsConfig        { return t.cfg }
func (t *TwinsTrainer) Steps() int                 { return t.steps }

// Batch returns the last step's pairs [B, 2, 1, S, S] and targets [B]
// (owned by the trainer).
func (t *TwinsTrainer) Batch() (x, y *engine.Tensor) { return t.x, t.y }

// ---- A multi-task trunk and two separate networks ----

// Tasks are the two tasks, in head order: which digit, odd or even.
func Tasks() []string { return []string{"digit", "parity"} }

// TasksStep is one step of both set-ups.
type TasksStep struct {
	Step int
	// Loss is the batch cross-entropy of each task: [shared digit, shared
	// parity, separate digit, separate parity].
	Loss [4]float64
	// Trunk is each task's gradient on every trunk Param of the shared
	// model, [task][param], and Cos their cosine over the whole trunk.
	Trunk [2][]*engine.Tensor
	Cos   float64
}

// TasksTrainer trains the multi-task model and two separate CNNs on the
// same digits.
type TasksTrainer struct {
	cfg    TwinsConfig
	mc     engine.MultitaskConfig
	shared *engine.Model
	trunk  []*engine.Param // the shared model's trunk Params
	sep    [2]*engine.Model
	opt    [3]engine.Optimizer
	rng    *rand.Rand
	order  []int
	next   int
	steps  int
	ce     [2]*engine.CrossEntropy

	x, yt, y0, y1, dy *engine.Tensor
	lg                [2]*engine.Tensor
}

// NewTasksTrainer builds both set-ups at step 0.
func NewTasksTrainer(cfg TwinsConfig) (*TasksTrainer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	t := &TasksTrainer{cfg: cfg, mc: engine.DefaultMultitaskConfig()}
	s := t.mc.Size
	t.x = engine.NewTensor(cfg.Batch, 1, s, s)
	t.yt, t.y0, t.y1 = engine.NewTensor(cfg.Batch, 2), engine.NewTensor(cfg.Batch), engine.NewTensor(cfg.Batch)
	return t, t.Reset()
}

// Reset puts both set-ups back at step 0: the separate networks start as
// copies of the shared trunk, each with its task's head.
func (t *TasksTrainer) Reset() error {
	m, err := engine.NewMultitaskCNN("multitask", t.mc, t.cfg.Seed)
	if err != nil {
		return err
	}
	t.shared = m
	t.trunk = nil
	var heads *engine.MultitaskHeads
	for _, l := range m.Layers {
		if h, ok := l.(*engine.MultitaskHeads); ok {
			heads = h
			continue
		}
		for _, np := range l.Params() {
			t.trunk = append(t.trunk, np.Param)
		}
	}
	for k, n := range t.mc.Heads {
		cc := engine.CNNConfig{Size: t.mc.Size, Channels1: t.mc.Channels1, Channels2: t.mc.Channels2, Classes: n}
		sm, err := engine.NewCNN(Tasks()[k], cc, t.cfg.Seed)
		if err != nil {
			return err
		}
		from := append(append([]*engine.Param{}, t.trunk...), heads.Weights[k], heads.Biases[k])
		for i, p := range sm.Params() {
			copy(p.Value.Data, from[i].Value.Data)
		}
		t.sep[k] = sm
	}
	for k := range t.opt {
		t.opt[k] = engine.NewAdam(t.cfg.LR, 0.9, 0.999, 1e-8)
	}
	t.rng = engine.NewRand(t.cfg.Seed ^ 0x7a5c)
	t.order = t.rng.Perm(t.cfg.TrainSize)
	t.next, t.steps = 0, 0
	t.ce = [2]*engine.CrossEntropy{engine.NewCrossEntropy(), engine.NewCrossEntropy()}
	return nil
}

// fill writes digits idx of im into x and the targets: yt [B, 2] (digit,
// parity) for the shared model, y0 and y1 [B] for the separate ones.
func fillTasks(im *data.Images, idx []int, x, yt, y0, y1 *engine.Tensor) {
	fillBatch(im, idx, x.Data, y0.Data)
	for b, d := range y0.Data[:len(idx)] {
		y1.Data[b] = float64(int(d) % 2)
		yt.Data[2*b], yt.Data[2*b+1] = d, y1.Data[b]
	}
}

// Step trains the shared model and the two separate ones on the next
// batch of digits.
func (t *TasksTrainer) Step() (TasksStep, error) {
	if t.next+t.cfg.Batch > len(t.order) {
		t.rng.Shuffle(len(t.order), func(i, j int) { t.order[i], t.order[j] = t.order[j], t.order[i] })
		t.next = 0
	}
	idx := t.order[t.next : t.next+t.cfg.Batch]
	t.next += t.cfg.Batch
	fillTasks(TrainSet(), idx, t.x, t.yt, t.y0, t.y1)
	t.steps++
	res := TasksStep{Step: t.steps}
	trunk, losses, err := t.TaskGrads(t.x, t.yt)
	if err != nil {
		return res, err
	}
	res.Trunk, res.Loss[0], res.Loss[1] = trunk, losses[0], losses[1]
	res.Cos = Cosine(trunk[0], trunk[1])
	for k, m := range t.sep {
		y := []*engine.Tensor{t.y0, t.y1}[k]
		if res.Loss[2+k], err = m.ComputeGrad(t.x, y, nil); err != nil {
			return res, err
		}
	}
	t.opt[0].Step(t.shared.Params())
	t.opt[1].Step(t.sep[0].Params())
	t.opt[2].Step(t.sep[1].Params())
	return res, nil
}

// TaskGrads computes the shared model's gradient on x, target [B, 2] and
// leaves it in its Params, returning each task's part of every trunk
// Param's gradient and each task's loss. It runs backward once per head,
// with the other head's part of dL/dy zero (re-running forward in between,
// so that every layer differentiates the activations it just computed);
// gradients accumulate, so the Params end with the joint loss's gradient,
// the sum of the two parts.
func (t *TasksTrainer) TaskGrads(x, target *engine.Tensor) ([2][]*engine.Tensor, [2]float64, error) {
	var parts [2][]*engine.Tensor
	var losses [2]float64
	m := t.shared
	m.ZeroGrad()
	y := m.Forward(x, nil)
	joint := m.Loss.Forward(y, target)
	if math.IsNaN(joint) || math.IsInf(joint, 0) {
		return parts, losses, engine.ErrDiverged
	}
	g := m.Loss.Backward().Clone()
	bsz, tot := y.Shape[0], y.Shape[1]
	// Each task's loss, from its slice of the logits.
	off := 0
	for k, n := range t.mc.Heads {
		t.lg[k] = engine.NewTensor(bsz, n)
		tg := engine.NewTensor(bsz)
		for b := range bsz {
			copy(t.lg[k].Data[b*n:][:n], y.Data[b*tot+off:][:n])
			tg.Data[b] = target.Data[b*2+k]
		}
		losses[k] = t.ce[k].Forward(t.lg[k], tg)
		off += n
	}
	before := make([][]float64, len(t.trunk))
	for i, p := range t.trunk {
		before[i] = make([]float64, len(p.Grad.Data))
	}
	off = 0
	for k, n := range t.mc.Heads {
		if k > 0 {
			m.Forward(x, nil)
		}
		t.dy = engine.NewTensor(bsz, tot)
		for b := range bsz {
			copy(t.dy.Data[b*tot+off:][:n], g.Data[b*tot+off:][:n])
		}
		m.Backward(t.dy, nil)
		parts[k] = make([]*engine.Tensor, len(t.trunk))
		for i, p := range t.trunk {
			part := engine.NewTensor(p.Grad.Shape...)
			for j, v := range p.Grad.Data {
				part.Data[j] = v - before[i][j]
			}
			copy(before[i], p.Grad.Data)
			parts[k][i] = part
		}
		off += n
	}
	if n := engine.GradNorm(m.Params()); math.IsNaN(n) || math.IsInf(n, 0) {
		return parts, losses, engine.ErrDiverged
	}
	return parts, losses, nil
}

// Evaluate returns the test accuracy of [shared digit, shared parity,
// separate digit, separate parity] on the first TasksEvalSize test digits.
func (t *TasksTrainer) Evaluate() [4]float64 {
	// Chunks of a step's batch: the layers' buffers stay the size training
	// makes them.
	var acc [4]float64
	loss := t.shared.Loss.(*engine.MultitaskCrossEntropy)
	s := t.mc.Size
	for lo := 0; lo < TasksEvalSize; lo += t.cfg.Batch {
		m := min(t.cfg.Batch, TasksEvalSize-lo)
		x, yt := engine.NewTensor(m, 1, s, s), engine.NewTensor(m, 2)
		y0, y1 := engine.NewTensor(m), engine.NewTensor(m)
		idx := make([]int, m)
		for i := range idx {
			idx[i] = lo + i
		}
		fillTasks(TestSet(), idx, x, yt, y0, y1)
		w := float64(m)
		h := loss.HeadAccuracy(t.shared.Forward(x, nil), yt)
		acc[0] += h[0] * w
		acc[1] += h[1] * w
		acc[2] += engine.Accuracy(t.sep[0].Forward(x, nil), y0) * w
		acc[3] += engine.Accuracy(t.sep[1].Forward(x, nil), y1) * w
	}
	for i := range acc {
		acc[i] /= TasksEvalSize
	}
	return acc
}

// Shared is the multi-task model; Trunk its trunk Params (conv1, conv2);
// Separate the two single-task CNNs.
func (t *TasksTrainer) Shared() *engine.Model        { return t.shared }
func (t *TasksTrainer) Trunk() []*engine.Param       { return t.trunk }
func (t *TasksTrainer) Separate() [2]*engine.Model   { return t.sep }
func (t *TasksTrainer) Config() TwinsConfig          { return t.cfg }
func (t *TasksTrainer) Steps() int                   { return t.steps }
func (t *TasksTrainer) Batch() (x, y *engine.Tensor) { return t.x, t.yt }

// Cosine is the cosine between two gradients given as lists of tensors
// (0 when either is zero).
func Cosine(a, b []*engine.Tensor) float64 {
	var ab, aa, bb float64
	for i := range a {
		for j, v := range a[i].Data {
			w := b[i].Data[j]
			ab += v * w
			aa += v * v
			bb += w * w
		}
	}
	if aa == 0 || bb == 0 {
		return 0
	}
	return ab / math.Sqrt(aa*bb)
}

// Norm is the L2 norm of a tensor's values.
func Norm(t *engine.Tensor) float64 {
	var s float64
	for _, v := range t.Data {
		s += v * v
	}
	return math.Sqrt(s)
}

// ---- Over seeds: `lab siamese-vs-towers` and `lab multitask` ----

// TwinsCompareConfig is a comparison over seeds 1…Seeds, each run Steps
// steps of TwinsConfig (its Seed set per run).
type TwinsCompareConfig struct {
	TwinsConfig
	Seeds int `json:"seeds"`
	Steps int `json:"steps"`
}

// DefaultTwinsCompareConfig is the lesson's run for 3 seeds.
func DefaultTwinsCompareConfig() TwinsCompareConfig {
	return TwinsCompareConfig{TwinsConfig: DefaultTwinsConfig(), Seeds: 3, Steps: 200}
}

// Validate names the first value out of range.
func (c TwinsCompareConfig) Validate() error {
	if c.Seeds < 1 || c.Seeds > MaxSeeds {
		return fmt.Errorf("lab: seeds %d: want 1…%d", c.Seeds, MaxSeeds)
	}
	if c.Steps < 1 || c.Steps > 5000 {
		return fmt.Errorf("lab: steps %d: want 1…5000", c.Steps)
	}
	return c.TwinsConfig.Validate()
}

func (c TwinsCompareConfig) run(seed int) TwinsConfig {
	tc := c.TwinsConfig
	tc.Seed = uint64(seed)
	return tc
}

// TwinsRow is one model of a comparison: its parameters and each measure's
// mean ± sd over seeds (Runs holds every seed's values, in seed order).
type TwinsRow struct {
	Model  string               `json:"model"`
	Params int                  `json:"params"`
	Stats  map[string]Stat      `json:"stats"`
	Runs   map[string][]float64 `json:"runs"`
}

func (r *TwinsRow) add(name string, v float64) {
	if r.Runs == nil {
		r.Runs = map[string][]float64{}
	}
	r.Runs[name] = append(r.Runs[name], v)
	r.Stats = nil
}

func (r *TwinsRow) summarise() {
	r.Stats = map[string]Stat{}
	for k, xs := range r.Runs {
		r.Stats[k] = newStat(xs)
	}
}

// TwinsCompareResult is a comparison's rows, in model order.
type TwinsCompareResult struct {
	Config  TwinsCompareConfig `json:"config"`
	Rows    []*TwinsRow        `json:"rows"`
	Seconds float64            `json:"seconds"`
}

// SiameseVsTowers trains the twins and the towers from seeds 1…Seeds and
// measures their parameters, verification accuracy on the fixed test pairs
// and on as many fixed pairs of the training digits, and mean loss over the
// last 50 steps ("accuracy", "train-accuracy", "loss"), and each model's
// own time training and measuring ("seconds"); for the twins also the mean
// cosine between the two sides' contributions to the whole encoder
// gradient over the run ("branch-cos").
func SiameseVsTowers(ctx context.Context, cfg TwinsCompareConfig, progress func(Progress)) (*TwinsCompareResult, error) {
	return siameseVsTowers(ctx, cfg, progress, true)
}

// siameseVsTowers is SiameseVsTowers; without branch, the twins train
// without the recorder and there is no "branch-cos" (Eval: the time is
// the training's alone).
func siameseVsTowers(ctx context.Context, cfg TwinsCompareConfig, progress func(Progress), branch bool) (*TwinsCompareResult, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if progress == nil {
		progress = func(Progress) {}
	}
	start := time.Now()
	rows := []*TwinsRow{{Model: "twins"}, {Model: "towers"}}
	for seed := 1; seed <= cfg.Seeds; seed++ {
		tr, err := NewTwinsTrainer(cfg.run(seed))
		if err != nil {
			return nil, err
		}
		rows[0].Params = tr.Twins().Count().Params
		rows[1].Params = tr.Towers()[0].Count().Params + tr.Towers()[1].Count().Params
		tr.SetRecord(branch)
		var tail [2]float64
		var cos float64
		for s := 1; s <= cfg.Steps; s++ {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			st, err := tr.Step()
			if err != nil {
				return nil, fmt.Errorf("lab: seed %d step %d: %w", seed, s, err)
			}
			if s > cfg.Steps-50 {
				tail[0] += st.Loss[0]
				tail[1] += st.Loss[1]
			}
			if branch {
				cos += BranchCosine(tr.Recorder(), tr.Twins().Params())
			}
			progress(Progress{Model: "twins+towers", Seed: uint64(seed), Run: seed, Runs: cfg.Seeds, Step: s, Steps: cfg.Steps, Phase: "train", Elapsed: time.Since(start)})
		}
		acc, trainAcc := tr.Evaluate(), tr.EvaluateTrain()
		n := float64(min(50, cfg.Steps))
		spent := tr.Spent()
		for k, r := range rows {
			r.add("accuracy", acc[k])
			r.add("train-accuracy", trainAcc[k])
			r.add("loss", tail[k]/n)
			r.add("seconds", spent[k].Seconds())
		}
		if branch {
			rows[0].add("branch-cos", cos/float64(cfg.Steps))
		}
	}
	for _, r := range rows {
		r.summarise()
	}
	return &TwinsCompareResult{Config: cfg, Rows: rows, Seconds: time.Since(start).Seconds()}, nil
}

// BranchCosine is the cosine between the two sides' recorded contributions
// to the whole gradient of params.
func BranchCosine(rec *engine.Recorder, params []*engine.Param) float64 {
	var a, b []*engine.Tensor
	for _, p := range params {
		u := rec.Uses(p, engine.UseBranch)
		if len(u) != 2 {
			return 0
		}
		a, b = append(a, u[0].Grad), append(b, u[1].Grad)
	}
	return Cosine(a, b)
}

// MultitaskCompare trains the multi-task model and the two separate
// networks from seeds 1…Seeds and measures each task's test accuracy
// ("digit", "parity"), the parameters and, for the shared trunk, the
// mean cosine between the two tasks' trunk gradients over the run
// ("trunk-cos") and over its first and last tenth ("cos-first",
// "cos-last").
func MultitaskCompare(ctx context.Context, cfg TwinsCompareConfig, progress func(Progress)) (*TwinsCompareResult, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if progress == nil {
		progress = func(Progress) {}
	}
	start := time.Now()
	rows := []*TwinsRow{{Model: "shared"}, {Model: "separate"}}
	tenth := max(1, cfg.Steps/10)
	for seed := 1; seed <= cfg.Seeds; seed++ {
		tr, err := NewTasksTrainer(cfg.run(seed))
		if err != nil {
			return nil, err
		}
		rows[0].Params = tr.Shared().Count().Params
		rows[1].Params = tr.Separate()[0].Count().Params + tr.Separate()[1].Count().Params
		var cos, first, last float64
		for s := 1; s <= cfg.Steps; s++ {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			st, err := tr.Step()
			if err != nil {
				return nil, fmt.Errorf("lab: seed %d step %d: %w", seed, s, err)
			}
			cos += st.Cos
			if s <= tenth {
				first += st.Cos
			}
			if s > cfg.Steps-tenth {
				last += st.Cos
			}
			progress(Progress{Model: "shared+separate", Seed: uint64(seed), Run: seed, Runs: cfg.Seeds, Step: s, Steps: cfg.Steps, Phase: "train", Elapsed: time.Since(start)})
		}
		acc := tr.Evaluate()
		for k, r := range rows {
			r.add("digit", acc[2*k])
			r.add("parity", acc[2*k+1])
		}
		rows[0].add("trunk-cos", cos/float64(cfg.Steps))
		rows[0].add("cos-first", first/float64(tenth))
		rows[0].add("cos-last", last/float64(tenth))
	}
	for _, r := range rows {
		r.summarise()
	}
	return &TwinsCompareResult{Config: cfg, Rows: rows, Seconds: time.Since(start).Seconds()}, nil
}

// TwinsCharts draws a comparison's measures as bars with the sd, and the
// parameters.
func TwinsCharts(name string, res *TwinsCompareResult, measures []string) []Chart {
	var charts []Chart
	cats := make([]string, len(res.Rows))
	for i, r := range res.Rows {
		cats[i] = r.Model
	}
	for _, m := range measures {
		charts = append(charts, Chart{Name: name + "-" + m, Write: func(w io.Writer, format string) error {
			var g viz.BarGroup
			g.Label = fmt.Sprintf("mean over %d seeds", res.Config.Seeds)
			for _, r := range res.Rows {
				g.Values = append(g.Values, r.Stats[m].Mean)
			}
			return viz.Write(w, format, "en", viz.BarChart{Title: name + ": " + m, YLabel: m, Categories: cats, Groups: []viz.BarGroup{g}})
		}})
	}
	charts = append(charts, Chart{Name: name + "-params", Write: func(w io.Writer, format string) error {
		var g viz.BarGroup
		g.Label = "parameters"
		for _, r := range res.Rows {
			g.Values = append(g.Values, float64(r.Params))
		}
		return viz.Write(w, format, "en", viz.BarChart{Title: name + ": parameters (engine count)", YLabel: "parameters", Categories: cats, Groups: []viz.BarGroup{g}})
	}})
	return charts
}

// TestPairs returns the first n fixed test pairs [n, 2, 1, S, S] and
// their targets [n].
func (t *TwinsTrainer) TestPairs(n int) (x, y *engine.Tensor) {
	s := t.sc.Size
	x, y = engine.NewTensor(n, 2, 1, s, s), engine.NewTensor(n)
	fillPairs(TestSet(), t.test, 0, x, y)
	return x, y
}

// FirstDigits returns the first n training digits [n, 1, S, S] and their
// targets [n, 2] (digit, parity).
func (t *TasksTrainer) FirstDigits(n int) (x, y *engine.Tensor) {
	s := t.mc.Size
	x, y = engine.NewTensor(n, 1, s, s), engine.NewTensor(n, 2)
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	fillTasks(TrainSet(), idx, x, y, engine.NewTensor(n), engine.NewTensor(n))
	return x, y
}
