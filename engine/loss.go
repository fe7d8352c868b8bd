package engine

import (
	"fmt"
	"math"
)

// CrossEntropy is the mean over all positions of −log softmax(logits)[target],
// as torch.nn.functional.cross_entropy with reduction "mean". Logits are
// [B, C] with target [B], or [B, T, C] with target [B, T]; targets are class
// indices stored as float64.
type CrossEntropy struct {
	probs   *Tensor // softmax of the last logits
	grad    *Tensor
	targets []int // class index per position of the last Forward
}

var _ Loss = (*CrossEntropy)(nil)

// NewCrossEntropy returns a cross-entropy loss.
func NewCrossEntropy() *CrossEntropy { return &CrossEntropy{} }

// Spec returns type "cross_entropy" with no attrs.
func (c *CrossEntropy) Spec() LossSpec { return LossSpec{Type: "cross_entropy"} }

// Forward returns the mean cross-entropy of logits against target. It panics
// with a ShapeError when target's shape is not logits' without the last axis,
// and with an "engine: cross_entropy: ..." message when a target is not a
// class index in [0, C): both are a caller's mistake, not bad data, because
// datasets are checked when they are loaded.
func (c *CrossEntropy) Forward(logits, target *Tensor) float64 {
	classes := checkClassShapes("cross_entropy", logits, target)
	n := target.Size()
	c.probs = reuse(c.probs, logits.Shape...)
	if cap(c.targets) < n {
		c.targets = make([]int, n)
	}
	c.targets = c.targets[:n]
	var total float64
	for r := range n {
		k := classIndex("cross_entropy", target.Data[r], r, classes)
		c.targets[r] = k
		z := logits.Data[r*classes : (r+1)*classes]
		p := c.probs.Data[r*classes : (r+1)*classes]
		m, sum := softmaxInto(p, z)
		total += m + math.Log(sum) - z[k] // −log softmax(z)[k] = log Σ exp z − z[k]

	}
	return total / float64(n)
}

// Backward returns dLoss/dlogits = (softmax − onehot(target)) / N for the
// last Forward, N the number of positions. It panics if Forward has not
// been called.
func (c *CrossEntropy) Backward() *Tensor {
	if c.probs == nil {
		panic("engine: cross_entropy: Backward called before Forward")
	}
	c.grad = reuse(c.grad, c.probs.Shape...)
	n := len(c.targets)
	classes := c.probs.Size() / max(n, 1)
	scale := 1 / float64(n)
	for r, k := range c.targets {
		p := c.probs.Data[r*classes : (r+1)*classes]
		g := c.grad.Data[r*classes : (r+1)*classes]
		for j, v := range p {
			g[j] = v * scale
		}
		g[k] -= scale
	}
	return c.grad
}

// Probabilities returns the softmax of the last Forward's logits (owned by
// the loss, overwritten by the next Forward), or nil before any Forward.
func (c *CrossEntropy) Probabilities() *Tensor { return c.probs }

// Accuracy returns the fraction of positions whose largest logit (the first,
// on ties) is the target class. Shapes are as for CrossEntropy.Forward; it
// panics with a ShapeError when they do not fit.
func Accuracy(logits, target *Tensor) float64 {
	classes := checkClassShapes("accuracy", logits, target)
	n := target.Size()
	if n == 0 {
		return 0
	}
	var hits int
	for r := range n {
		z := logits.Data[r*classes : (r+1)*classes]
		best := 0
		for j, v := range z {
			if v > z[best] {
				best = j
			}
		}
		if float64(best) == target.Data[r] {
			hits++
		}
	}
	return float64(hits) / float64(n)
}

// checkClassShapes checks that logits are [B, C] or [B, T, C] and target is
// logits' shape without its last axis, and returns C.
func checkClassShapes(op string, logits, target *Tensor) int {
	ls, ts := logits.Shape, target.Shape
	ok := (len(ls) == 2 || len(ls) == 3) && len(ts) == len(ls)-1 && ls[len(ls)-1] > 0
	for i := range ts {
		ok = ok && ts[i] == ls[i]
	}
	if !ok {
		want := []int{-1}
		if len(ls) > 0 {
			want = ls[:len(ls)-1]
		}
		panic(ShapeError{Op: op + " target", Want: want, Got: ts})
	}
	return ls[len(ls)-1]
}

// classIndex converts a target value to a class index, panicking when it is
// not an integer in [0, classes).
func classIndex(op string, v float64, pos, classes int) int {
	k := int(v)
	if float64(k) != v || k < 0 || k >= classes {
		panic(fmt.Sprintf("engine: %s: target %v at position %d is not a class index in [0, %d)", op, v, pos, classes))
	}
	return k
}

// MSE is the mean of (output − target)² over all elements, as
// torch.nn.functional.mse_loss with reduction "mean".
type MSE struct {
	diff *Tensor // output − target of the last Forward
	grad *Tensor
}

var _ Loss = (*MSE)(nil)

// NewMSE returns a mean-squared-error loss.
func NewMSE() *MSE { return &MSE{} }

// Spec returns type "mse" with no attrs.
func (m *MSE) Spec() LossSpec { return LossSpec{Type: "mse"} }

// Forward returns mean((y − target)²). It panics with a ShapeError unless
// target has y's shape.
func (m *MSE) Forward(y, target *Tensor) float64 {
	if !y.SameShape(target) {
		panic(ShapeError{Op: "mse target", Want: y.Shape, Got: target.Shape})
	}
	m.diff = reuse(m.diff, y.Shape...)
	var sum float64
	for i, v := range y.Data {
		d := v - target.Data[i]
		m.diff.Data[i] = d
		sum += d * d
	}
	return sum / float64(max(len(y.Data), 1))
}

// Backward returns dLoss/dy = 2(y − target)/N for the last Forward. It
// panics if Forward has not been called.
func (m *MSE) Backward() *Tensor {
	if m.diff == nil {
		panic("engine: mse: Backward called before Forward")
	}
	m.grad = reuse(m.grad, m.diff.Shape...)
	scale := 2 / float64(max(len(m.diff.Data), 1))
	for i, d := range m.diff.Data {
		m.grad.Data[i] = scale * d
	}
	return m.grad
}

// Softmax returns exp(z)/Σ exp(z) as a new slice: class probabilities from
// one row of logits, for callers that show them.
func Softmax(z []float64) []float64 {
	p := make([]float64, len(z))
	softmaxInto(p, z)
	return p
}

// softmaxInto writes softmax(z) into p and returns m = max z and
// Σ exp(z − m): log Σ exp z = m + log sum is then computed without any
// exponential overflowing.
func softmaxInto(p, z []float64) (m, sum float64) {
	m = math.Inf(-1)
	for _, v := range z {
		m = max(m, v)
	}
	for j, v := range z {
		p[j] = math.Exp(v - m)
		sum += p[j]
	}
	for j := range p {
		p[j] /= sum
	}
	return m, sum
}
