package engine

import (
	"errors"
	"fmt"
	"math"
	"slices"
)

// Loss turns a model's output and a target into one number and its gradient.
type Loss interface {
	// Spec gives the trace's loss type ("cross_entropy", "mse",
	// "contrastive") and its attrs (nil when it has none).
	Spec() LossSpec
	// Forward returns the loss of output y against target; it panics with
	// a ShapeError when the shapes do not fit.
	Forward(y, target *Tensor) float64
	// Backward returns dLoss/dy for the last Forward (owned by the loss).
	Backward() *Tensor
}

// LossSpec is what a step trace says of a loss.
type LossSpec struct {
	Type  string
	Attrs map[string]any
}

// ErrDiverged is returned when a loss or gradient stops being finite.
var ErrDiverged = errors.New("engine: training diverged (a loss or gradient is NaN or infinite)")

// Model is a sequence of layers, each applied to the output of the one
// before, and a loss. Layers may hold the same Params (tying, cross-layer
// sharing); the model counts and updates each Param once.
type Model struct {
	Name   string
	In     []int // one example's input shape
	Layers []Layer
	Loss   Loss

	params []*Param         // unique, in order of first use
	first  int              // the first layer with parameters: Backward stops there
	owners map[*Param][]int // layer indices holding each Param
	shared []*Param         // Params held by more than one layer
	before map[*Param][]float64
}

// NewModel checks that the layers fit one after another on inputs of shape
// in (one example, batch axis left out) and that layer names are unique.
func NewModel(name string, in []int, loss Loss, layers ...Layer) (*Model, error) {
	if len(layers) == 0 {
		return nil, fmt.Errorf("engine: model %q has no layers", name)
	}
	m := &Model{Name: name, In: slices.Clone(in), Layers: layers, Loss: loss, owners: map[*Param][]int{}}
	names := map[string]bool{}
	shape := slices.Clone(in)
	for i, l := range layers {
		s := l.Spec()
		if names[s.Name] {
			return nil, fmt.Errorf("engine: model %q: two layers named %q", name, s.Name)
		}
		names[s.Name] = true
		for _, sub := range subLayerNames(l) {
			if names[sub] {
				return nil, fmt.Errorf("engine: model %q: two layers named %q", name, sub)
			}
			names[sub] = true
		}
		out, err := l.OutShape(shape)
		if err != nil {
			return nil, fmt.Errorf("engine: model %q: layer %q on input %v: %w", name, s.Name, shape, err)
		}
		shape = out
		for _, np := range l.Params() {
			if _, seen := m.owners[np.Param]; !seen {
				m.params = append(m.params, np.Param)
			}
			if o := m.owners[np.Param]; len(o) == 0 || o[len(o)-1] != i {
				m.owners[np.Param] = append(o, i)
			}
		}
	}
	m.first = len(layers) - 1
	for i, l := range layers {
		if len(l.Params()) > 0 {
			m.first = i
			break
		}
	}
	if s, ok := layers[m.first].(InputGradSkipper); ok {
		s.SkipInputGrad(true)
	}
	for _, p := range m.params {
		if len(m.owners[p]) > 1 {
			m.shared = append(m.shared, p)
		}
	}
	return m, nil
}

// Container is implemented by layers that hold layers of their own (the
// siamese branch), so that names stay unique across the whole model.
type Container interface {
	Sublayers() []Layer
}

func subLayerNames(l Layer) []string {
	c, ok := l.(Container)
	if !ok {
		return nil
	}
	var names []string
	for _, s := range c.Sublayers() {
		names = append(names, s.Spec().Name)
		names = append(names, subLayerNames(s)...)
	}
	return names
}

// Params returns each of the model's Params once, in order of first use.
func (m *Model) Params() []*Param { return m.params }

// Holders returns the indices of the layers that hold p (more than one for
// a tied or cross-layer-shared Param).
func (m *Model) Holders(p *Param) []int { return m.owners[p] }

// OutShape is the shape of one output example.
func (m *Model) OutShape() []int {
	shape := m.In
	for _, l := range m.Layers {
		shape, _ = l.OutShape(shape)
	}
	return shape
}

// ZeroGrad clears every Param's gradient.
func (m *Model) ZeroGrad() {
	for _, p := range m.params {
		p.Grad.Zero()
	}
}

// Forward runs every layer on the batch x and returns the last output.
func (m *Model) Forward(x *Tensor, tap Tap) *Tensor {
	for _, l := range m.Layers {
		y := l.Forward(x, tap)
		if tap != nil {
			tap.Output(l, x, y)
		}
		x = y
	}
	return x
}

// Backward runs the layers' Backward in reverse order from dy, the gradient
// of the loss with respect to the model's output, down to the first layer
// with parameters (the gradient with respect to the model's input is not
// computed: nothing uses it). With a tap, every layer's Backward gets it (so
// its per-position, per-step and per-token uses are reported), and each
// layer's part of the gradient of a Param held by several layers is reported
// as a UseLayer contribution.
func (m *Model) Backward(dy *Tensor, tap Tap) {
	for i := len(m.Layers) - 1; i >= m.first; i-- {
		l := m.Layers[i]
		if tap == nil || len(m.shared) == 0 {
			dy = l.Backward(dy, tap)
			continue
		}
		m.snapshotShared(i)
		dy = l.Backward(dy, tap)
		m.reportShared(i, l, tap)
	}
}

// snapshotShared remembers the gradients of the shared Params layer i holds.
func (m *Model) snapshotShared(i int) {
	if m.before == nil {
		m.before = map[*Param][]float64{}
	}
	for _, p := range m.shared {
		if slices.Contains(m.owners[p], i) {
			m.before[p] = append(m.before[p][:0], p.Grad.Data...)
		}
	}
}

// reportShared reports what layer i's Backward added to each shared Param.
func (m *Model) reportShared(i int, l Layer, tap Tap) {
	for _, np := range l.Params() {
		p := np.Param
		if len(m.owners[p]) < 2 {
			continue
		}
		part := NewTensor(p.Grad.Shape...)
		for j, g := range p.Grad.Data {
			part.Data[j] = g - m.before[p][j]
		}
		tap.Contribute(Contribution{Layer: l.Spec().Name, Param: p, Local: np.Local, Kind: UseLayer, Index: []int{i}, Grad: part})
	}
}

// ComputeGrad clears the gradients, runs the batch x forward, computes the
// loss against target and runs backward, leaving the gradient of that loss
// in every Param.Grad. It returns ErrDiverged when the loss, or any
// gradient, is not finite (the gradients are then left as they are; an
// optimizer must not be stepped with them).
func (m *Model) ComputeGrad(x, target *Tensor, tap Tap) (float64, error) {
	if m.Loss == nil {
		return 0, fmt.Errorf("engine: model %q has no loss", m.Name)
	}
	m.ZeroGrad()
	y := m.Forward(x, tap)
	loss := m.Loss.Forward(y, target)
	if math.IsNaN(loss) || math.IsInf(loss, 0) {
		return loss, ErrDiverged
	}
	m.Backward(m.Loss.Backward(), tap)
	for _, p := range m.params {
		for _, g := range p.Grad.Data {
			if math.IsNaN(g) || math.IsInf(g, 0) {
				return loss, ErrDiverged
			}
		}
	}
	return loss, nil
}

// Count is a model's parameter count that understands sharing.
type Count struct {
	Layers []LayerRow
	// Params counts each Param once, however many layers hold it.
	Params int
	// Uses is the multiply-adds per example that parameters take part in.
	Uses int
	// Unshared is the count if no weight were shared: every position,
	// time step, tied copy and repeated block with weights of its own.
	Unshared int
}

// LayerRow is one layer's line of a Count.
type LayerRow struct {
	Name, Type string
	// Params counts the Params this layer is the first to hold.
	Params int
	// SharedWith names Params this layer holds that an earlier layer
	// already holds (they are not counted again in Params).
	SharedWith []string
	Uses       int
	Unshared   int
}

// Count reports unique parameters, uses and the unshared count per layer and
// in total, for one example.
func (m *Model) Count() Count {
	var c Count
	seen := map[*Param]bool{}
	shape := m.In
	for _, l := range m.Layers {
		s := l.Spec()
		row := LayerRow{Name: s.Name, Type: s.Type}
		for _, np := range l.Params() {
			if seen[np.Param] {
				row.SharedWith = append(row.SharedWith, np.Param.Name)
				continue
			}
			seen[np.Param] = true
			row.Params += np.Size()
		}
		if ct, ok := l.(Counter); ok {
			lc := ct.Count(shape)
			row.Uses, row.Unshared = lc.Uses, lc.Unshared
		}
		c.Layers = append(c.Layers, row)
		c.Params += row.Params
		c.Uses += row.Uses
		c.Unshared += row.Unshared
		shape, _ = l.OutShape(shape)
	}
	return c
}
