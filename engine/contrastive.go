package engine

// Contrastive is the contrastive loss of Hadsell, Chopra and LeCun (2006)
// for a siamese model's distances d [B] and targets y [B] (1 for a similar
// pair, 0 for a dissimilar one):
//
//	L = mean over pairs of y·d² + (1 − y)·max(0, margin − d)²
//
// Similar pairs are pulled together; dissimilar pairs are pushed apart until
// they are margin away, and then left alone.
type Contrastive struct {
	Margin float64

	d, target *Tensor // last Forward's inputs (borrowed)
	grad      *Tensor
}

var _ Loss = (*Contrastive)(nil)

// NewContrastive returns the contrastive loss with the given margin. A margin
// of 0 or less turns the dissimilar term off (max(0, margin − d) is then
// always 0 for a distance d ≥ 0).
func NewContrastive(margin float64) *Contrastive { return &Contrastive{Margin: margin} }

// Spec returns type "contrastive" with the margin.
func (c *Contrastive) Spec() LossSpec {
	return LossSpec{Type: "contrastive", Attrs: map[string]any{"margin": c.Margin}}
}

// Forward returns the mean contrastive loss of distances d against target.
// It panics with a ShapeError unless d is [B] with B ≥ 1 and target has
// d's shape.
func (c *Contrastive) Forward(d, target *Tensor) float64 {
	if len(d.Shape) != 1 || d.Shape[0] < 1 {
		panic(ShapeError{Op: "contrastive forward", Want: []int{-1}, Got: d.Shape})
	}
	mustShape("contrastive forward (target)", target, d.Shape...)
	c.d, c.target = d, target
	var sum float64
	for i, di := range d.Data {
		y := target.Data[i]
		push := max(0, c.Margin-di)
		sum += y*di*di + (1-y)*push*push
	}
	return sum / float64(len(d.Data))
}

// Backward returns dL/dd = (2·y·d − 2·(1 − y)·max(0, margin − d)) / B for the
// last Forward. It panics if Forward has not been called.
func (c *Contrastive) Backward() *Tensor {
	if c.d == nil {
		panic("engine: contrastive: Backward called before Forward")
	}
	c.grad = reuse(c.grad, c.d.Shape...)
	n := float64(len(c.d.Data))
	for i, di := range c.d.Data {
		y := c.target.Data[i]
		c.grad.Data[i] = (2*y*di - 2*(1-y)*max(0, c.Margin-di)) / n
	}
	return c.grad
}
