package cliff

import (
	"math"
	"strings"
	"sync"

	"github.com/paramshare/paramshare/run"
	"github.com/paramshare/paramshare/viz"
)

// staticPart is the surface: it is the same for every run and every
// parameter (revision 1).
type staticPart struct {
	X0     float64 `json:"x0"`
	Target float64 `json:"target"`
	T      int     `json:"T"`
	WMin   float64 `json:"wMin"`
	WMax   float64 `json:"wMax"`
	BMin   float64 `json:"bMin"`
	BMax   float64 `json:"bMax"`
	// LogLoss is log10 of the loss at the cell centres, floored at 1e-5,
	// [N, N], row 0 at b = bMax.
	LogLoss viz.Quantized `json:"logLoss"`
	// LossMin and LossMax are the surface's smallest and largest loss.
	LossMin float64 `json:"lossMin"`
	LossMax float64 `json:"lossMax"`
}

// pathPart is one path, step 0 to the current step. The arrays are
// rounded for drawing (w, b to 4 decimals, loss, norm and cos to 3
// significant digits); cur is the current point at full precision.
type pathPart struct {
	Clip    bool      `json:"clip"`
	W       []float64 `json:"w"`
	B       []float64 `json:"b"`
	Loss    []float64 `json:"loss"`
	Norm    []float64 `json:"norm"`
	Clipped string    `json:"clipped"`       // "1" where the step from the point was clipped, else "0"
	Cos     []float64 `json:"cos,omitempty"` // truncated vs full gradient; only when k < 50
	Cur     pointJSON `json:"cur"`
	// MaxStep is the longest step ‖Δ(w, b)‖ taken so far, and MaxAt the
	// step that took it (from point MaxAt−1 to MaxAt); 0 at step 0.
	MaxStep float64 `json:"maxStep"`
	MaxAt   int     `json:"maxAt"`
}

type pointJSON struct {
	W       float64 `json:"w"`
	B       float64 `json:"b"`
	Loss    float64 `json:"loss"`
	Norm    float64 `json:"norm"`
	Clipped bool    `json:"clipped"`
	Cos     float64 `json:"cos"`
}

// dataPart is the run's state at its step.
type dataPart struct {
	Step   int        `json:"step"`
	Total  int        `json:"total"`
	Params params     `json:"params"`
	Paths  []pathPart `json:"paths"`
}

// theStatic is the static part, made once and shared by every run.
var theStatic = sync.OnceValues(static)

// static returns the static part (the surface quantized for drawing; full
// precision would not be needed even in the JSON export: its values are
// re-computable from the engine at any (w, b)).
func static() (staticPart, error) {
	s, err := theSurface()
	if err != nil {
		return staticPart{}, err
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, l := range s.Loss {
		lo, hi = math.Min(lo, l), math.Max(hi, l)
	}
	return staticPart{
		X0: x0, Target: target, T: T, WMin: wMin, WMax: wMax, BMin: bMin, BMax: bMax,
		LogLoss: viz.QuantizeRange(s.logLoss(), math.Log10(logFloor), math.Log10(hi), s.N, s.N),
		LossMin: lo, LossMax: hi,
	}, nil
}

// dec rounds v to n decimals (n < 0: unchanged).
func dec(v float64, n int) float64 {
	if n < 0 {
		return v
	}
	s := math.Pow10(n)
	return math.Round(v*s) / s
}

// data returns the data part, rounded for live frames (full: the export's
// full precision).
func (c *cliff) data(full bool) dataPart {
	d := dataPart{Step: c.Pos(), Total: c.Total(), Params: c.p}
	decs, sigs := 4, 3
	if full {
		decs, sigs = -1, 0
	}
	for _, pa := range c.paths {
		pp := pathPart{Clip: pa.clip}
		var clipped strings.Builder
		for i, pt := range pa.pts {
			pp.W = append(pp.W, dec(pt.W, decs))
			pp.B = append(pp.B, dec(pt.B, decs))
			pp.Loss = append(pp.Loss, viz.Sig(pt.Loss, sigs))
			pp.Norm = append(pp.Norm, viz.Sig(pt.Norm, sigs))
			if c.p.K < T {
				pp.Cos = append(pp.Cos, viz.Sig(pt.Cos, sigs))
			}
			if pt.Clipped {
				clipped.WriteByte('1')
			} else {
				clipped.WriteByte('0')
			}
			if i > 0 {
				prev := pa.pts[i-1]
				if st := math.Hypot(pt.W-prev.W, pt.B-prev.B); st > pp.MaxStep {
					pp.MaxStep, pp.MaxAt = st, i
				}
			}
		}
		pp.Clipped = clipped.String()
		cur := pa.pts[len(pa.pts)-1]
		pp.Cur = pointJSON{W: cur.W, B: cur.B, Loss: cur.Loss, Norm: cur.Norm, Clipped: cur.Clipped, Cos: cur.Cos}
		d.Paths = append(d.Paths, pp)
	}
	return d
}

// Frame returns the surface (revision 1: it never changes) and the paths.
func (c *cliff) Frame() run.Frame {
	st, _ := theStatic() // newCliff made sure it has no error
	return run.Frame{StaticRev: 1, Static: st, Data: c.data(false)}
}
