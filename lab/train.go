package lab

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/paramshare/paramshare/engine"
	"github.com/paramshare/paramshare/engine/data"
)

// shuffleStream is the PCG stream of a trainer's shuffling. engine.NewRand
// uses another stream for the initial weights, so the order of the digits
// and the weights are independent draws from the same seed.
const shuffleStream = 0x6c61622d73687566 // "lab-shuf"

// evalBatch is how many images Evaluate runs through the model at once.
const evalBatch = 100

// StepResult is what one training step did.
type StepResult struct {
	Step     int     `json:"step"`     // steps taken so far, this one included (1 for the first)
	Epoch    int     `json:"epoch"`    // the pass over the training subset this step belongs to, from 1
	Loss     float64 `json:"loss"`     // mean cross-entropy of the batch, before the update
	Accuracy float64 `json:"accuracy"` // fraction of the batch classified right, before the update
	// GradNorms is the L2 norm of each layer's parameter gradients (all of
	// the layer's Params as one vector), keyed by layer name, as computed
	// for this batch before the optimizer used them. Only layers with
	// parameters appear. The map is the caller's.
	GradNorms map[string]float64 `json:"gradNorms"`
}

// Trainer trains one digit classifier step by step on the first TrainSize
// embedded training digits. Each epoch visits them in a fresh order drawn
// from the seed, in Batch-sized steps; the TrainSize mod Batch digits left
// over at the end of an epoch's order are skipped that epoch (they come up
// in other epochs' orders), so every step has the same batch size. The
// same TrainConfig always gives the same losses.
//
// A Trainer is not safe for concurrent use.
type Trainer struct {
	cfg   TrainConfig
	model *engine.Model
	opt   engine.Optimizer
	train *data.Images // shared, read only: the first cfg.TrainSize are used
	test  *data.Images // shared, read only

	pcg   *rand.PCG // rng's source, kept to copy its state
	rng   *rand.Rand
	order []int // a permutation of 0…TrainSize−1, reshuffled every epoch
	next  int   // position in order of the next batch
	epoch int   // epochs started
	steps int
	// diverged is the error every Step returns once the loss or a gradient
	// stopped being finite, until Reset.
	diverged error

	// xbuf and ybuf hold the images and labels of one pass, training or
	// evaluation (never both at once), sized for the larger of the two;
	// x and y are a full training pass's views of them.
	xbuf, ybuf []float64
	x, y       *engine.Tensor
	dy         *engine.Tensor // a pass's loss gradient scaled by its share of the batch
	norms      []layerParams  // layers with parameters, in model order
}

// layerParams is one layer's parameters, for its gradient norm.
type layerParams struct {
	name   string
	params []*engine.Param
}

// NewTrainer returns a trainer for cfg with a freshly initialised model. It
// returns cfg.Validate's error for a config outside the limits.
func NewTrainer(cfg TrainConfig) (*Trainer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	t := &Trainer{cfg: cfg, train: trainSet(), test: testSet()}
	if err := t.Reset(); err != nil {
		return nil, err
	}
	return t, nil
}

// Reset rebuilds the model from the seed, starts a new optimizer and the
// first epoch's order again, and clears a divergence: the trainer is as
// NewTrainer left it, and its steps repeat the same losses.
func (t *Trainer) Reset() error {
	m, err := buildDigitModel(t.cfg.Model, t.cfg.Seed)
	if err != nil {
		return fmt.Errorf("lab: %w", err)
	}
	t.model = m
	switch t.cfg.Optimizer {
	case "sgd":
		t.opt = engine.NewSGD(t.cfg.LR, 0)
	case "momentum":
		t.opt = engine.NewSGD(t.cfg.LR, momentum)
	default: // "adam": Validate admits nothing else
		t.opt = engine.NewAdam(t.cfg.LR, 0.9, 0.999, 1e-8)
	}
	t.pcg = rand.NewPCG(t.cfg.Seed, shuffleStream)
	t.rng = rand.New(t.pcg)
	if t.order == nil {
		t.order = make([]int, t.cfg.TrainSize)
	}
	for i := range t.order {
		t.order[i] = i
	}
	t.next = len(t.order) // the first Step shuffles and starts epoch 1
	t.epoch, t.steps, t.diverged = 0, 0, nil
	if t.x == nil {
		h, w, pass := t.train.H, t.train.W, t.pass()
		n := max(pass, t.evalPass())
		t.xbuf, t.ybuf = make([]float64, n*h*w), make([]float64, n)
		t.x = engine.TensorFrom(t.xbuf[:pass*h*w], pass, 1, h, w)
		t.y = engine.TensorFrom(t.ybuf[:pass], pass)
	}
	t.norms = t.norms[:0]
	for _, l := range m.Layers {
		var ps []*engine.Param
		for _, np := range l.Params() {
			ps = append(ps, np.Param)
		}
		if len(ps) > 0 {
			t.norms = append(t.norms, layerParams{name: l.Spec().Name, params: ps})
		}
	}
	return nil
}

// Clone returns an independent trainer in exactly t's state: the same
// weights, optimizer buffers, shuffle state and position, so that its
// steps repeat t's to the last bit. The datasets stay shared (read only).
func (t *Trainer) Clone() (*Trainer, error) {
	c, err := NewTrainer(t.cfg)
	if err != nil {
		return nil, err
	}
	from, to := t.model.Params(), c.model.Params()
	if len(from) != len(to) {
		return nil, fmt.Errorf("lab: clone has %d params, the original %d", len(to), len(from))
	}
	pair := make(map[*engine.Param]*engine.Param, len(from))
	for i, p := range from {
		copy(to[i].Value.Data, p.Value.Data)
		pair[p] = to[i]
	}
	sc, ok := t.opt.(engine.StateCloner)
	if !ok {
		return nil, fmt.Errorf("lab: optimizer %T cannot be copied", t.opt)
	}
	c.opt = sc.CloneFor(pair)
	state, err := t.pcg.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("lab: %w", err)
	}
	if err := c.pcg.UnmarshalBinary(state); err != nil {
		return nil, fmt.Errorf("lab: %w", err)
	}
	copy(c.order, t.order)
	c.next, c.epoch, c.steps, c.diverged = t.next, t.epoch, t.steps, t.diverged
	return c, nil
}

// pass is the most examples one training pass takes: Micro, or the whole
// batch.
func (t *Trainer) pass() int {
	if t.cfg.Micro > 0 && t.cfg.Micro < t.cfg.Batch {
		return t.cfg.Micro
	}
	return t.cfg.Batch
}

// evalPass is the most images Evaluate runs through the model at once.
func (t *Trainer) evalPass() int {
	if t.cfg.Micro > 0 {
		return t.cfg.Micro
	}
	return evalBatch
}

// Step takes one minibatch step: the next Batch digits of the epoch's
// order forward and backward (in passes of at most Micro, when set), the
// gradient norms measured, then one optimizer update. When the loss or a
// gradient is NaN or infinite it makes no update and returns an error
// wrapping engine.ErrDiverged; the trainer then stays diverged, and every
// Step returns that error, until Reset.
func (t *Trainer) Step() (StepResult, error) {
	if t.diverged != nil {
		return StepResult{}, t.diverged
	}
	if t.next+t.cfg.Batch > len(t.order) {
		t.rng.Shuffle(len(t.order), func(i, j int) { t.order[i], t.order[j] = t.order[j], t.order[i] })
		t.next = 0
		t.epoch++
	}
	batch := t.order[t.next : t.next+t.cfg.Batch]
	t.next += t.cfg.Batch
	t.steps++
	res := StepResult{Step: t.steps, Epoch: t.epoch}

	// model.ComputeGrad does these four calls but does not return the
	// logits, which the batch accuracy needs; a tap would (but costs a
	// report per kernel position), so the steps are spelled out here.
	m := t.model
	m.ZeroGrad()
	if pass := t.pass(); pass == len(batch) {
		fillBatch(t.train, batch, t.x.Data, t.y.Data)
		logits := m.Forward(t.x, nil)
		res.Loss = m.Loss.Forward(logits, t.y)
		if math.IsNaN(res.Loss) || math.IsInf(res.Loss, 0) {
			return res, t.diverge(fmt.Sprintf("loss %v", res.Loss))
		}
		res.Accuracy = engine.Accuracy(logits, t.y)
		m.Backward(m.Loss.Backward(), nil)
	} else {
		// Passes of at most pass examples. A pass's loss is the mean over
		// its n examples, so its gradient scaled by n/Batch is its share of
		// the batch's mean-loss gradient, and Backward adds the shares up
		// (gradients accumulate).
		var loss float64
		hits := 0
		for lo := 0; lo < len(batch); lo += pass {
			idx := batch[lo:min(lo+pass, len(batch))]
			n := len(idx)
			x, y := t.x, t.y
			if n != pass {
				x, y = t.inputs(n)
			}
			fillBatch(t.train, idx, x.Data, y.Data)
			logits := m.Forward(x, nil)
			l := m.Loss.Forward(logits, y)
			if math.IsNaN(l) || math.IsInf(l, 0) {
				res.Loss = l
				return res, t.diverge(fmt.Sprintf("loss %v", l))
			}
			share := float64(n) / float64(len(batch))
			loss += l * share
			// Accuracy is hits/n exactly; rounding undoes the division.
			hits += int(math.Round(engine.Accuracy(logits, y) * float64(n)))
			g := m.Loss.Backward()
			t.dy = reuseTensor(t.dy, g.Shape)
			for i, v := range g.Data {
				t.dy.Data[i] = v * share // dLoss/dlogits = share · dLoss_pass/dlogits
			}
			m.Backward(t.dy, nil)
		}
		res.Loss, res.Accuracy = loss, float64(hits)/float64(len(batch))
	}

	res.GradNorms = make(map[string]float64, len(t.norms))
	for _, lp := range t.norms {
		norm := engine.GradNorm(lp.params)
		if math.IsNaN(norm) || math.IsInf(norm, 0) {
			return res, t.diverge(fmt.Sprintf("layer %s gradient norm %v", lp.name, norm))
		}
		res.GradNorms[lp.name] = norm
	}
	t.opt.Step(m.Params())
	return res, nil
}

// inputs returns tensors over the pass buffers for n images and labels.
func (t *Trainer) inputs(n int) (x, y *engine.Tensor) {
	h, w := t.train.H, t.train.W
	return engine.TensorFrom(t.xbuf[:n*h*w], n, 1, h, w), engine.TensorFrom(t.ybuf[:n], n)
}

// reuseTensor returns buf if it has shape, else a new tensor of shape.
func reuseTensor(buf *engine.Tensor, shape []int) *engine.Tensor {
	if buf != nil && slices.Equal(buf.Shape, shape) {
		return buf
	}
	return engine.NewTensor(shape...)
}

// diverge marks the trainer diverged and returns the error Step reports.
func (t *Trainer) diverge(what string) error {
	t.diverged = fmt.Errorf("lab: %s (%s, lr %g) at step %d: %s — lower the learning rate: %w",
		t.cfg.Model, t.cfg.Optimizer, t.cfg.LR, t.steps, what, engine.ErrDiverged)
	return t.diverged
}

// fillBatch writes the images at idx, scaled to [0, 1], into x and their
// labels into y, as data.Images.Batch does but into buffers the caller
// reuses.
func fillBatch(im *data.Images, idx []int, x, y []float64) {
	size := im.H * im.W
	for b, i := range idx {
		dst := x[b*size : (b+1)*size]
		for k, p := range im.Pixels[i*size : (i+1)*size] {
			dst[k] = float64(p) / 255
		}
		y[b] = float64(im.Labels[i])
	}
}

// Diverged reports whether the trainer is stopped by a divergence (see Step).
func (t *Trainer) Diverged() bool { return t.diverged != nil }

// Evaluate returns the model's accuracy on the first max images of im (all
// of them when max ≤ 0 or max > im.N), run forward in batches of 100 (of
// Micro, when set) without changing the model. It returns 0 for no images.
// It panics if im's images are not the model's 28×28 or im has no labels.
func (t *Trainer) Evaluate(im *data.Images, max int) float64 {
	n := im.N
	if max > 0 && max < n {
		n = max
	}
	if n == 0 {
		return 0
	}
	return float64(t.Hits(im, 0, n)) / float64(n)
}

// Hits returns how many of im's images lo…hi−1 the model classifies right,
// run forward as Evaluate runs them: an evaluation cut into pieces has the
// hits of Evaluate in all. It panics unless 0 ≤ lo ≤ hi ≤ im.N, if im's
// images are not the model's 28×28, or if im has no labels.
func (t *Trainer) Hits(im *data.Images, lo, hi int) int {
	if lo < 0 || lo > hi || hi > im.N {
		panic(fmt.Sprintf("lab: Hits: images %d…%d of %d", lo, hi, im.N))
	}
	if im.Labels == nil {
		panic("lab: Evaluate: images have no labels")
	}
	if want := t.model.In; im.H != want[1] || im.W != want[2] {
		panic(engine.ShapeError{Op: "lab: Evaluate", Want: want, Got: []int{1, im.H, im.W}})
	}
	pass := t.evalPass()
	idx := make([]int, 0, pass)
	hits := 0
	for from := lo; from < hi; from += pass {
		idx = idx[:0]
		for i := from; i < min(from+pass, hi); i++ {
			idx = append(idx, i)
		}
		k := len(idx)
		x, y := t.inputs(k)
		fillBatch(im, idx, x.Data, y.Data)
		// Accuracy is hits/k exactly; rounding undoes the division.
		hits += int(math.Round(engine.Accuracy(t.model.Forward(x, nil), y) * float64(k)))
	}
	return hits
}

// TrainAccuracy is Evaluate on the trainer's training subset (at most max
// of its TrainSize digits; all when max ≤ 0).
func (t *Trainer) TrainAccuracy(max int) float64 {
	n := t.cfg.TrainSize
	if max > 0 && max < n {
		n = max
	}
	return t.Evaluate(t.train, n)
}

// TestAccuracy is Evaluate on the 1,000 embedded test digits (the first max
// of them; all when max ≤ 0).
func (t *Trainer) TestAccuracy(max int) float64 { return t.Evaluate(t.test, max) }

// ShiftAccuracy returns the accuracy on the first max test digits (all when
// max ≤ 0) moved right by each of shifts pixels (negative: left), the
// uncovered pixels left blank: how well what the model learned carries over
// to a digit in another place.
func (t *Trainer) ShiftAccuracy(shifts []int, max int) []float64 {
	sub := t.test
	if max > 0 && max < sub.N {
		sub = sub.Subset(max)
	}
	acc := make([]float64, len(shifts))
	for i, dx := range shifts {
		acc[i] = t.Evaluate(data.Shift(sub, dx, 0), 0)
	}
	return acc
}

// Predict returns the class probabilities (softmax of the logits) for one
// image x of shape [1, 1, 28, 28], pixels in [0, 1]. It panics with an
// engine.ShapeError for another shape.
func (t *Trainer) Predict(x *engine.Tensor) []float64 {
	want := append([]int{1}, t.model.In...)
	if len(x.Shape) != len(want) || x.Shape[0] != 1 || x.Shape[1] != want[1] || x.Shape[2] != want[2] || x.Shape[3] != want[3] {
		panic(engine.ShapeError{Op: "lab: Predict", Want: want, Got: x.Shape})
	}
	return engine.Softmax(t.model.Forward(x, nil).Data)
}

// Model returns the model being trained (Reset builds a new one: fetch it
// again after a Reset). Callers may read its parameters and run their own
// forward passes, with taps, between steps, e.g. for feature maps.
func (t *Trainer) Model() *engine.Model { return t.model }

// Count returns the model's parameter count (unique parameters, uses,
// unshared).
func (t *Trainer) Count() engine.Count { return t.model.Count() }

// Steps returns how many steps have been taken since the last Reset.
func (t *Trainer) Steps() int { return t.steps }

// Epoch returns the epoch the last step belonged to (0 before the first).
func (t *Trainer) Epoch() int { return t.epoch }

// StepsPerEpoch is TrainSize/Batch, rounded down.
func (t *Trainer) StepsPerEpoch() int { return t.cfg.TrainSize / t.cfg.Batch }

// Config returns the trainer's configuration.
func (t *Trainer) Config() TrainConfig { return t.cfg }

// LayerNames returns the names of the layers with parameters, in model
// order: the keys of StepResult.GradNorms.
func (t *Trainer) LayerNames() []string {
	names := make([]string, len(t.norms))
	for i, lp := range t.norms {
		names[i] = lp.name
	}
	return names
}
