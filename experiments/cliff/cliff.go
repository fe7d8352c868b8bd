// Package cliff is the second experiment of lesson 8, "Vanishing and
// exploding": Pascanu's cliff (Pascanu, Mikolov & Bengio 2013, "On the
// difficulty of training recurrent neural networks", §2.3 "The geometrical
// interpretation", eq. 8 and fig. 6; norm clipping is their §3.2,
// Algorithm 1). One sigmoid unit runs x_t = w·σ(x_{t−1}) + b for 50 steps
// from x_0 = 0.5 and is trained on E = (σ(x_50) − 0.7)² by gradient
// descent on (w, b).
//
// The static part is the loss surface over a grid of (w, b), every value
// the engine's forward (shared read-only by every run: it depends on no
// field). The data part is the gradient-descent path so far — each run step
// is one step of plain gradient descent — without clipping, with
// gradient-norm clipping (engine.ClipGradNorm), or both side by side, with
// the gradient by full BPTT or truncated to the last k steps. Every loss
// and gradient is the engine's: the one-unit RNN of model.go.
package cliff

import (
	"embed"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/paramshare/paramshare/engine"
	"github.com/paramshare/paramshare/run"
)

const name = "cliff"

// The surface's range, which is also the range of the start point.
const (
	wMin, wMax = -2.0, 10.0
	bMin, bMax = -7.0, 5.0
)

// Clip choices: the path without clipping, with it, or both from the same
// start.
const (
	clipBoth = "both"
	clipOff  = "off"
	clipOn   = "on"
)

const maxSteps = 200

var fields = []run.Field{
	{Name: "w0", Kind: run.Number, Default: 6.0, Min: wMin, Max: wMax, Desc: run.Text{
		En: "the start point's w (the recurrent weight W_hh)",
		Zh: "起点的 w（循环权重 W_hh）",
	}},
	{Name: "b0", Kind: run.Number, Default: -2.9, Min: bMin, Max: bMax, Desc: run.Text{
		En: "the start point's b (the bias)",
		Zh: "起点的 b（偏置）",
	}},
	{Name: "lr", Kind: run.Number, Default: 1.0, Min: 0.01, Max: 5, Desc: run.Text{
		En: "the learning rate of gradient descent: each step moves (w, b) by −lr·g",
		Zh: "梯度下降的学习率：每一步把 (w, b) 移动 −lr·g",
	}},
	{Name: "clip", Kind: run.Choice, Default: clipBoth, Choices: []string{clipBoth, clipOff, clipOn}, Desc: run.Text{
		En: "gradient-norm clipping: the path without it, with it, or both from the same start",
		Zh: "梯度范数裁剪：不裁剪的路径、裁剪的路径，或从同一起点出发的两条路径",
	}},
	{Name: "threshold", Kind: run.Number, Default: 1.0, Min: 0.1, Max: 10, Desc: run.Text{
		En: "the clipping threshold: a gradient with a larger norm is scaled down to this norm",
		Zh: "裁剪阈值：范数超过它的梯度被缩放到这个范数",
	}},
	{Name: "k", Kind: run.Int, Default: T, Min: 1, Max: T, Desc: run.Text{
		En: "truncated BPTT: the gradient flows back only k of the 50 steps (50 = full BPTT)",
		Zh: "截断 BPTT：梯度只向回传 50 步中的 k 步（50 = 完整 BPTT）",
	}},
	{Name: "steps", Kind: run.Int, Default: 100, Min: 1, Max: maxSteps, Desc: run.Text{
		En: "the number of gradient-descent steps of a run",
		Zh: "一次运行的梯度下降步数",
	}},
}

// widget is the page's side: cliff.js and cliff.css.
//
//go:embed widget
var widget embed.FS

func init() {
	run.Register(run.Spec{
		Name:   name,
		Widget: run.Sub(widget, "widget"),
		Title:  run.Text{En: "Pascanu's cliff", Zh: "Pascanu 的悬崖"},
		Fields: fields,
		New:    func(v run.Values) (run.Experiment, error) { return newCliff(v) },
		Exports: []run.Export{
			{Format: "png", Write: writeFigure("png")},
			{Format: "svg", Write: writeFigure("svg")},
			{Format: "json", Write: writeJSON},
			{Format: "trace.json", Write: writeTrace},
		},
		// At the costliest values (both paths, k = 49: a truncated step
		// also runs the full model for the start state and the full
		// gradient) a step is ≈ 34 µs (BenchmarkStepCostliest); the
		// largest data part (200 steps, k < 50) ≈ 14.6 kB; the static part
		// (the surface) 19.4 kB; see docs/perf.md. The step budget leaves
		// room for one garbage-collection assist among the 12 steps the
		// conformance test times (CI measured a 156 µs mean under load).
		Budget:    run.Budget{Step: 500 * time.Microsecond, Memory: 512 << 10, FrameBytes: 20 << 10, StaticBytes: 24 << 10},
		Costliest: map[string]any{"clip": clipBoth, "k": T - 1, "steps": maxSteps},
	})
}

// params are the run's parameters, as the frame's data part shows them.
type params struct {
	W0        float64 `json:"w0"`
	B0        float64 `json:"b0"`
	LR        float64 `json:"lr"`
	Clip      string  `json:"clip"`
	Threshold float64 `json:"threshold"`
	K         int     `json:"k"`
	Steps     int     `json:"steps"`
}

func paramsOf(v run.Values) params {
	return params{
		W0: v.Float("w0"), B0: v.Float("b0"), LR: v.Float("lr"), Clip: v.String("clip"),
		Threshold: v.Float("threshold"), K: v.Int("k"), Steps: v.Int("steps"),
	}
}

// point is one point of a path: (w, b) after some steps, the loss there,
// and the gradient used for the next step.
type point struct {
	W, B float64
	// Loss is E at (w, b) (the full 50-step model's).
	Loss float64
	// Norm is ‖g‖ before clipping, g the gradient the step uses (the
	// truncated one when k < 50).
	Norm float64
	// Clipped: the step from here was scaled down (clipping on and
	// Norm > threshold, engine.ClipGradNorm's rule).
	Clipped bool
	// Cos is the cosine between the truncated and the full gradient (1
	// when k = 50; 0 when either is zero and the other is not).
	Cos float64
}

// path is one gradient-descent path with its engine models.
type path struct {
	clip  bool
	full  *net // 50 steps from x_0: the loss, the full gradient, h for x_s
	trunc *net // k steps from x_s; the same net as full when k = 50
	pts   []point
	// ready: trunc holds the gradient at the last point (the eval that
	// made that point left it there), so the next step needs no new eval.
	ready bool
}

func newPath(p params, clip bool) (*path, error) {
	full, err := newNet(T, 1)
	if err != nil {
		return nil, err
	}
	pa := &path{clip: clip, full: full, trunc: full}
	if p.K < T {
		if pa.trunc, err = newNet(p.K, 1); err != nil {
			return nil, err
		}
	}
	return pa, nil
}

// eval evaluates the path's models at (w, b), leaving the gradient used
// for the step in trunc's parameters.
func (pa *path) eval(p params, w, b float64) (point, error) {
	pt, err := pa.evalAt(p, w, b)
	if errors.Is(err, engine.ErrDiverged) {
		return pt, errDiverged(w, b)
	}
	return pt, err
}

func (pa *path) evalAt(p params, w, b float64) (point, error) {
	pt := point{W: w, B: b, Cos: 1}
	if pa.trunc != pa.full {
		gf, err := pa.full.eval(w, b, x0)
		if err != nil {
			return pt, err
		}
		pt.Loss = gf.Loss
		g, err := pa.trunc.eval(w, b, start(pa.full, w, b, p.K))
		if err != nil {
			return pt, err
		}
		pt.Norm = g.norm()
		pt.Cos = cosine(g, gf)
	} else {
		g, err := pa.full.eval(w, b, x0)
		if err != nil {
			return pt, err
		}
		pt.Loss, pt.Norm = g.Loss, g.norm()
	}
	pt.Clipped = pa.clip && pt.Norm > p.Threshold
	if math.IsInf(pt.Norm, 0) || math.IsNaN(pt.Norm) {
		return pt, engine.ErrDiverged
	}
	return pt, nil
}

// cosine returns the cosine of the angle between the gradients of a and b.
func cosine(a, b grad) float64 {
	na, nb := a.norm(), b.norm()
	if na == 0 || nb == 0 {
		if na == nb {
			return 1
		}
		return 0
	}
	return (a.W*b.W + a.B*b.B) / (na * nb)
}

func errDiverged(w, b float64) error {
	return run.DivergedError(&run.Error{Code: run.CodeStepFailed, Text: run.Text{
		En: fmt.Sprintf("The gradient is not finite at w = %.4g, b = %.4g: gradient descent diverged.", w, b),
		Zh: fmt.Sprintf("在 w = %.4g、b = %.4g 处梯度不是有限数：梯度下降发散了。", w, b),
	}})
}

// advance takes one gradient-descent step from the path's last point.
func (pa *path) advance(p params) error {
	if !pa.ready { // after a rewind
		last := pa.pts[len(pa.pts)-1]
		if _, err := pa.eval(p, last.W, last.B); err != nil {
			return err
		}
		pa.ready = true
	}
	w, b := pa.trunc.step(p.LR, pa.clip, p.Threshold)
	pa.ready = false
	pt, err := pa.eval(p, w, b)
	if err != nil {
		return err
	}
	pa.pts = append(pa.pts, pt)
	pa.ready = true
	return nil
}

// cliff is the experiment. Step k has taken k gradient-descent steps.
type cliff struct {
	v     run.Values
	p     params
	paths []*path // the unclipped path first
}

var _ run.Rewinder = (*cliff)(nil)

func newCliff(v run.Values) (*cliff, error) {
	if _, err := theStatic(); err != nil {
		return nil, err
	}
	c := &cliff{}
	if err := c.load(v, 0); err != nil {
		return nil, err
	}
	return c, nil
}

// load builds the paths for v and takes keep steps (at most v's steps). An
// error leaves c as it was.
func (c *cliff) load(v run.Values, keep int) error {
	p := paramsOf(v)
	var clips []bool
	switch p.Clip {
	case clipOff:
		clips = []bool{false}
	case clipOn:
		clips = []bool{true}
	default:
		clips = []bool{false, true}
	}
	var paths []*path
	for _, cl := range clips {
		pa, err := newPath(p, cl)
		if err != nil {
			return err
		}
		pt, err := pa.eval(p, p.W0, p.B0)
		if err != nil {
			return err
		}
		pa.pts, pa.ready = []point{pt}, true
		for range min(keep, p.Steps) {
			if err := pa.advance(p); err != nil {
				return err
			}
		}
		paths = append(paths, pa)
	}
	c.v, c.p, c.paths = v, p, paths
	return nil
}

// Total is the number of gradient-descent steps.
func (c *cliff) Total() int { return c.p.Steps }

// Pos is the number of steps taken.
func (c *cliff) Pos() int { return len(c.paths[0].pts) - 1 }

// Advance takes one gradient-descent step on every path.
func (c *cliff) Advance() error {
	if c.Pos() >= c.Total() {
		return nil
	}
	for _, pa := range c.paths {
		if err := pa.advance(c.p); err != nil {
			return err
		}
	}
	return nil
}

// Rewind goes back to step k < Pos: the points are kept, only cut.
func (c *cliff) Rewind(k int) error {
	for _, pa := range c.paths {
		pa.pts, pa.ready = pa.pts[:k+1], false
	}
	return nil
}

// Restart goes back to step 0.
func (c *cliff) Restart() error { return c.Rewind(0) }

// SetParams takes new values and recomputes the paths to the same step (at
// most the new number of steps): a step costs microseconds, so even 200
// are quick.
func (c *cliff) SetParams(v run.Values) error {
	if v.Equal(c.v) {
		return nil
	}
	return c.load(v, c.Pos())
}
