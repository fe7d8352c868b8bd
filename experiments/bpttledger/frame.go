package bpttledger

import (
	"math"
	"slices"

	"github.com/paramshare/paramshare/run"
	"github.com/paramshare/paramshare/viz"
)

// staticPart changes only with the parameters.
type staticPart struct {
	Params params `json:"params"`
	// Rows and Cols are the shape of the matrix the ledger adds up:
	// H×H (W_hh), H×In (W_ih), H×2 (b_ih and b_hh as two columns).
	Rows int `json:"rows"`
	Cols int `json:"cols"`
	// In is the input width per time step: vocab (one-hot tokens) or 2
	// (value, marker).
	In     int `json:"in"`
	Vocab  int `json:"vocab"`  // remember-first's tokens 0…vocab−1
	Batch  int `json:"batch"`  // sequences per training step
	Window int `json:"window"` // most rows of the heat map
	// CellParams is the cell's parameter count: the same whatever T.
	CellParams int `json:"cellParams"`
}

// dataPart changes with each position.
type dataPart struct {
	Step      int `json:"step"`
	Total     int `json:"total"`
	TrainStep int `json:"trainStep"` // 1-based: the training step whose backward pass is shown
	// Added is how many time steps' contributions are in the running sum
	// (T, T−1, …, T−Added+1); At is the one added last (0: none yet).
	Added int      `json:"added"`
	At    int      `json:"at"`
	Loss  float64  `json:"loss"`     // this batch's loss before the step's update
	Acc   *float64 `json:"accuracy"` // this batch's accuracy (remember-first), null for adding
	// Input is sequence 0's input (T tokens, or T (value, marker) pairs,
	// row-major) and Target its target: the chain the widget draws.
	Input  []float64 `json:"input"`
	Target float64   `json:"target"`
	// Norms is ‖contribution of time step t‖ (Frobenius) for t = 1…T, all
	// of the pass (the widget shows those added); HiddenGrad is the
	// engine's ‖∂L/∂h_t‖ over the batch, t = 1…T.
	Norms      []float64 `json:"norms"`
	HiddenGrad []float64 `json:"hiddenGrad"`
	// Sum is the running Σ of the Added contributions (Rows×Cols,
	// row-major) and Engine the engine's dW after the backward pass.
	Sum    []float64 `json:"sum"`
	Engine []float64 `json:"engine"`
	// MaxDiff is max |Σ − dW| at full precision once all T are in, null
	// before.
	MaxDiff *float64   `json:"maxDiff"`
	Inspect *inspected `json:"inspect"`
	Heat    heat       `json:"heat"`
	// Losses (and Accs, remember-first) are the curves of the training
	// steps so far, each point the mean of Every consecutive steps.
	Losses []float64 `json:"losses"`
	Accs   []float64 `json:"accs,omitempty"`
	Every  int       `json:"every"`
}

// inspected is one time step's contribution matrix: the step chosen by
// the inspect field, or the one added last. Null when that step is not
// added yet.
type inspected struct {
	T            int       `json:"t"` // 1-based
	Contribution []float64 `json:"contribution"`
	Norm         float64   `json:"norm"`
	Chosen       bool      `json:"chosen"` // false: following the step added last
}

// heat is the heat map time step × training step of log₁₀ of the
// contribution norms over the whole run so far, training steps 1…Steps
// (the one shown). The last row is the shown step alone; the rows above
// it are the earlier steps in groups of Every consecutive ones (row r:
// steps r·Every + 1 … (r+1)·Every, the last group maybe shorter), each
// cell the mean of their log₁₀ (a geometric mean of the norms), so there
// are at most Window rows. Column t − 1 is time step t. Code 255
// (missing) marks an exact zero (W_hh at t = 1, where h_0 = 0) and, in
// the last row, the time steps not yet added (t ≤ T − Added). The colour
// range is whole decades around every norm of the run so far (the
// log10's Min and Max), not of the rows alone, so one colour means one
// size from the first step to the last.
type heat struct {
	Steps int           `json:"steps"`
	Every int           `json:"every"`
	Log10 viz.Quantized `json:"log10"`
}

// Frame returns the static part and the position's data.
func (l *ledger) Frame() run.Frame {
	return run.Frame{StaticRev: l.rev, Static: l.static(), Data: l.data(sig3)}
}

func (l *ledger) static() staticPart {
	rows, cols := l.shape()
	n := 0
	for _, p := range l.cell.Params() {
		n += p.Param.Value.Size()
	}
	return staticPart{Params: l.p, Rows: rows, Cols: cols, In: l.in(), Vocab: vocab, Batch: batch, Window: window, CellParams: n}
}

// in is the input width per time step.
func (l *ledger) in() int {
	if l.p.Task == taskRemember {
		return vocab
	}
	return 2
}

// shape is the shown matrix's shape.
func (l *ledger) shape() (rows, cols int) {
	switch l.p.Param {
	case paramHH:
		return l.p.Hidden, l.p.Hidden
	case paramIH:
		return l.p.Hidden, l.in()
	}
	return l.p.Hidden, 2
}

// sum returns Σ of the last j time steps' contributions to the shown
// parameter, added from zero in the engine's order (t = T first).
func (l *ledger) sum(j int) []float64 {
	i, T := shownIndex(l.p.Param), l.p.T
	s := make([]float64, len(l.cur.grad[i]))
	for t := T - 1; t >= T-j; t-- {
		for e, c := range l.cur.contrib[i][t] {
			s[e] += c // the shared weight's gradient is a sum of its uses
		}
	}
	return s
}

// sig3 keeps three significant digits (what the widget shows), so a
// frame of a 16×16 ledger stays light.
func sig3(v []float64) []float64 { return viz.SigAll(v, 3) }

// exact is the rounding of the JSON export: none.
func exact(v []float64) []float64 { return slices.Clone(v) }

func (l *ledger) data(r func([]float64) []float64) dataPart {
	ps, T, i := l.cur, l.p.T, shownIndex(l.p.Param)
	d := dataPart{
		Step: l.Pos(), Total: l.Total(), TrainStep: ps.k + 1, Added: l.j, Loss: ps.loss,
		Input: slices.Clone(ps.input), Target: ps.target,
		Norms: r(ps.norms[i]), HiddenGrad: r(ps.hgrad),
		Sum: r(l.sum(l.j)), Engine: r(ps.grad[i]),
	}
	if l.j > 0 {
		d.At = T - l.j + 1
	}
	if !math.IsNaN(ps.acc) {
		a := ps.acc
		d.Acc = &a
	}
	if l.j == T {
		full := l.sum(T)
		var m float64
		for e, g := range ps.grad[i] {
			m = math.Max(m, math.Abs(full[e]-g))
		}
		d.MaxDiff = &m
	}
	t, chosen := d.At, l.p.Inspect > 0
	if chosen {
		t = l.p.Inspect
	}
	if t > 0 && t >= T-l.j+1 {
		d.Inspect = &inspected{T: t, Contribution: r(ps.contrib[i][t-1]), Norm: ps.norms[i][t-1], Chosen: chosen}
	}
	d.Heat = l.heat()
	d.Losses, d.Every = buckets(l.losses[:ps.k+1])
	if l.p.Task == taskRemember {
		d.Accs, _ = buckets(l.accs[:ps.k+1])
	}
	d.Losses, d.Accs = r(d.Losses), r(d.Accs)
	return d
}

// heatGrid returns the heat map's rows (see heat) as log₁₀ of the shown
// parameter's contribution norms, NaN for exact zeros and for the time
// steps of the shown pass not yet added, with the training steps each row
// groups.
func (l *ledger) heatGrid() (every, rows int, vals []float64) {
	T, i, k := l.p.T, shownIndex(l.p.Param), l.cur.k
	every = max(1, (k+window-2)/(window-1)) // k earlier steps in ≤ window−1 rows
	rows = (k+every-1)/every + 1
	vals = make([]float64, 0, rows*T)
	for s := 0; s < k; s += every {
		e := min(k, s+every)
		for t := range T {
			var m float64
			for _, n := range l.norms[s:e] {
				m += math.Log10(n[i][t]) // −Inf for an exact zero
			}
			m /= float64(e - s)
			if math.IsInf(m, 0) {
				m = math.NaN()
			}
			vals = append(vals, m)
		}
	}
	for t, n := range l.norms[k][i] {
		if n == 0 || t < T-l.j {
			vals = append(vals, math.NaN())
			continue
		}
		vals = append(vals, math.Log10(n))
	}
	return every, rows, vals
}

// heatRange is the colour range of the heat map: whole decades around
// log₁₀ of every non-zero contribution norm of training steps 1…k+1,
// all T of each, so the scale depends only on the training step shown.
func (l *ledger) heatRange() (lo, hi float64) {
	i := shownIndex(l.p.Param)
	lo, hi = math.Inf(1), math.Inf(-1)
	for _, n := range l.norms[:l.cur.k+1] {
		for _, v := range n[i] {
			if v > 0 {
				lo, hi = math.Min(lo, math.Log10(v)), math.Max(hi, math.Log10(v))
			}
		}
	}
	if lo > hi {
		lo, hi = -1, 0
	}
	lo, hi = math.Floor(lo), math.Ceil(hi)
	if hi == lo {
		hi = lo + 1
	}
	return lo, hi
}

func (l *ledger) heat() heat {
	every, rows, vals := l.heatGrid()
	lo, hi := l.heatRange()
	return heat{Steps: l.cur.k + 1, Every: every, Log10: viz.QuantizeRange(vals, lo, hi, rows, l.p.T)}
}

// buckets returns v as at most lossPoints means of every consecutive
// values, and every.
func buckets(v []float64) ([]float64, int) {
	every := max(1, (len(v)+lossPoints-1)/lossPoints)
	out := make([]float64, 0, (len(v)+every-1)/every)
	for s := 0; s < len(v); s += every {
		e := min(len(v), s+every)
		var m float64
		for _, x := range v[s:e] {
			m += x
		}
		out = append(out, m/float64(e-s))
	}
	return out, every
}
