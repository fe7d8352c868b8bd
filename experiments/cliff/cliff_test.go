package cliff

import (
	"bytes"
	"encoding/json"
	"math"
	"testing"

	"gonum.org/v1/gonum/diff/fd"

	"github.com/paramshare/paramshare/engine"
	"github.com/paramshare/paramshare/run"
)

// scalar is the recurrence written out directly, with its gradient by
// hand-written BPTT truncated to the last k steps (k = 50: full).
func scalar(w, b float64, k int) (loss, gw, gb float64) {
	sigm := func(x float64) float64 { return 1 / (1 + math.Exp(-x)) }
	h := make([]float64, T+1)
	h[0] = sigm(x0)
	for t := 1; t <= T; t++ {
		h[t] = sigm(w*h[t-1] + b)
	}
	loss = (h[T] - target) * (h[T] - target)
	dh := 2 * (h[T] - target)
	for t := T; t > T-k; t-- {
		da := dh * h[t] * (1 - h[t])
		gw += da * h[t-1]
		gb += da
		dh = da * w
	}
	return loss, gw, gb
}

// points are (w, b) on both sides of the wall, on the plateaus and in the
// valley.
var points = [][2]float64{{6, -2.9}, {5, -2.3}, {4.1217, -2.0847}, {3.7, -1.7}, {1, 0.5}, {8, 3}, {-1, -4}, {9, -4.6}}

func evalAt(t *testing.T, w, b float64, k int) grad {
	t.Helper()
	full, err := newNet(T, 1)
	if err != nil {
		t.Fatal(err)
	}
	nt := full
	if k < T {
		if nt, err = newNet(k, 1); err != nil {
			t.Fatal(err)
		}
	}
	g, err := nt.eval(w, b, start(full, w, b, k))
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func close(a, b, tol float64) bool {
	return math.Abs(a-b) <= tol*math.Max(1, math.Max(math.Abs(a), math.Abs(b)))
}

// TestGradientMatchesScalarAndFD: the engine's loss and (∂E/∂w, ∂E/∂b)
// equal the directly written recurrence's, and finite differences of the
// engine's own loss.
func TestGradientMatchesScalarAndFD(t *testing.T) {
	full, err := newNet(T, 1)
	if err != nil {
		t.Fatal(err)
	}
	lossAt := func(x []float64) float64 {
		g, err := full.eval(x[0], x[1], x0)
		if err != nil {
			t.Fatal(err)
		}
		return g.Loss
	}
	for _, p := range points {
		g := evalAt(t, p[0], p[1], T)
		l, gw, gb := scalar(p[0], p[1], T)
		if !close(g.Loss, l, 1e-12) || !close(g.W, gw, 1e-9) || !close(g.B, gb, 1e-9) {
			t.Errorf("at %v: engine (%g, %g, %g), scalar (%g, %g, %g)", p, g.Loss, g.W, g.B, l, gw, gb)
		}
		num := fd.Gradient(nil, lossAt, []float64{p[0], p[1]}, &fd.Settings{Formula: fd.Central, Step: 1e-6})
		if !close(g.W, num[0], 1e-5) || !close(g.B, num[1], 1e-5) {
			t.Errorf("at %v: engine gradient (%g, %g), finite differences (%g, %g)", p, g.W, g.B, num[0], num[1])
		}
	}
}

// TestTruncation: the k-step gradient is the scalar recurrence's gradient
// cut after k steps back, for several k; the loss stays the full loss; and
// k = 50 is full BPTT.
func TestTruncation(t *testing.T) {
	for _, k := range []int{1, 2, 5, 17, 49, 50} {
		for _, p := range points {
			g := evalAt(t, p[0], p[1], k)
			l, gw, gb := scalar(p[0], p[1], k)
			if !close(g.Loss, l, 1e-12) || !close(g.W, gw, 1e-9) || !close(g.B, gb, 1e-9) {
				t.Errorf("k %d at %v: engine (%g, %g, %g), scalar (%g, %g, %g)", k, p, g.Loss, g.W, g.B, l, gw, gb)
			}
		}
	}
	// k = 1 by hand: only the last step's ∂⁺h_50/∂θ.
	w, b := 6.0, -2.9
	g := evalAt(t, w, b, 1)
	_, _, _ = scalar(w, b, 1)
	sigm := func(x float64) float64 { return 1 / (1 + math.Exp(-x)) }
	h := sigm(x0)
	var h49 float64
	for t := 1; t <= T; t++ {
		if t == T {
			h49 = h
		}
		h = sigm(w*h + b)
	}
	da := 2 * (h - target) * h * (1 - h)
	if !close(g.W, da*h49, 1e-9) || !close(g.B, da, 1e-9) {
		t.Errorf("k = 1: engine (%g, %g), by hand (%g, %g)", g.W, g.B, da*h49, da)
	}
}

func defaults(t *testing.T, over map[string]any) run.Values {
	t.Helper()
	v := run.Defaults(fields)
	for k, x := range over {
		v[k] = x
	}
	return v
}

func build(t *testing.T, over map[string]any, steps int) *cliff {
	t.Helper()
	c, err := newCliff(defaults(t, over))
	if err != nil {
		t.Fatal(err)
	}
	for range steps {
		if err := c.Advance(); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

// TestClipping: each step is −lr·g with g scaled to norm threshold (as
// torch's clip_grad_norm_, threshold/(‖g‖ + 1e-6)) exactly when ‖g‖ is
// above the threshold, with g the scalar recurrence's gradient.
func TestClipping(t *testing.T) {
	for _, over := range []map[string]any{
		{"clip": clipBoth},
		{"clip": clipOn, "threshold": 0.3, "lr": 0.5},
		{"clip": clipBoth, "k": 7},
	} {
		c := build(t, over, 100)
		p := c.p
		for _, pa := range c.paths {
			sawClip := false
			for i := 1; i < len(pa.pts); i++ {
				prev, cur := pa.pts[i-1], pa.pts[i]
				_, gw, gb := scalar(prev.W, prev.B, p.K)
				n := math.Hypot(gw, gb)
				if !close(prev.Norm, n, 1e-9) {
					t.Fatalf("%v step %d: norm %g, scalar %g", over, i, prev.Norm, n)
				}
				scale := 1.0
				if pa.clip && n > p.Threshold {
					scale = p.Threshold / (n + 1e-6)
					sawClip = true
				}
				if prev.Clipped != (pa.clip && n > p.Threshold) {
					t.Fatalf("%v step %d: clipped %v with ‖g‖ %g", over, i, prev.Clipped, n)
				}
				ww, wb := prev.W-p.LR*scale*gw, prev.B-p.LR*scale*gb
				if !close(cur.W, ww, 1e-9) || !close(cur.B, wb, 1e-9) {
					t.Fatalf("%v step %d: (%g, %g), want (%g, %g)", over, i, cur.W, cur.B, ww, wb)
				}
				if pa.clip && math.Hypot(cur.W-prev.W, cur.B-prev.B) > p.LR*p.Threshold*(1+1e-12) {
					t.Fatalf("%v step %d: a clipped step longer than lr·threshold", over, i)
				}
			}
			if pa.clip && len(over) == 1 && !sawClip {
				t.Errorf("%v: the clipped path never clipped", over)
			}
		}
	}
}

// TestSurface: the surface's values are the engine's loss at the cell
// centres, as the path's evaluation gives it there.
func TestSurface(t *testing.T) {
	s, err := theSurface()
	if err != nil {
		t.Fatal(err)
	}
	for _, rc := range [][2]int{{0, 0}, {57, 64}, {119, 119}, {80, 30}, {70, 80}} {
		r, col := rc[0], rc[1]
		l, _, _ := scalar(wAt(col), bAt(r), T)
		if !close(s.Loss[r*s.N+col], l, 1e-12) {
			t.Errorf("cell (%d, %d): surface %g, scalar %g", r, col, s.Loss[r*s.N+col], l)
		}
	}
}

// TestRewindAndParams: rewinding cuts the path; a new parameter
// recomputes it to the same step.
func TestRewindAndParams(t *testing.T) {
	c := build(t, nil, 30)
	d30, _ := json.Marshal(c.data(true))
	if err := c.Rewind(10); err != nil {
		t.Fatal(err)
	}
	fresh := build(t, nil, 10)
	a, _ := json.Marshal(c.data(true))
	b, _ := json.Marshal(fresh.data(true))
	if !bytes.Equal(a, b) {
		t.Fatal("rewound to 10 differs from a fresh run to 10")
	}
	for range 20 {
		c.Advance()
	}
	a, _ = json.Marshal(c.data(true))
	if !bytes.Equal(a, d30) {
		t.Fatal("replayed to 30 differs")
	}
	if err := c.SetParams(defaults(t, map[string]any{"k": 5})); err != nil {
		t.Fatal(err)
	}
	if c.Pos() != 30 || c.p.K != 5 || len(c.data(false).Paths[0].Cos) != 31 {
		t.Fatalf("after set-params: pos %d, k %d", c.Pos(), c.p.K)
	}
}

// TestTrace: the step trace reads back and checks, with the engine's
// gradients at the current point.
func TestTrace(t *testing.T) {
	for _, k := range []int{T, 4} {
		c := build(t, map[string]any{"k": k}, 12)
		var buf bytes.Buffer
		if err := writeTrace(&buf, c, "en"); err != nil {
			t.Fatal(err)
		}
		tr, err := engine.ReadTrace(&buf)
		if err != nil {
			t.Fatal(err)
		}
		if err := engine.CheckTrace(tr); err != nil {
			t.Fatal(err)
		}
		cur := c.paths[len(c.paths)-1].pts[12]
		l, gw, gb := scalar(cur.W, cur.B, k)
		if !close(tr.Loss.Value, l, 1e-12) {
			t.Errorf("k %d: trace loss %g, scalar %g", k, tr.Loss.Value, l)
		}
		grads := tr.Layers[0].Grads
		whh, _ := grads.Lookup("weight_hh")
		wih, _ := grads.Lookup("weight_ih")
		if !close(whh.Tensor.Data[0], gw, 1e-9) || !close(wih.Tensor.Data[1], gb, 1e-9) {
			t.Errorf("k %d: trace grads (%g, %g), scalar (%g, %g)", k, whh.Tensor.Data[0], wih.Tensor.Data[1], gw, gb)
		}
	}
}
