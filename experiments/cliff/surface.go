package cliff

import (
	"math"
	"sync"

	"github.com/paramshare/paramshare/engine"
)

// surfaceN is the surface's resolution: surfaceN × surfaceN points, the
// centres of the cells of the (w, b) range. 120 cells of 0.1 show the wall
// as a line; its static part is under 20 kB.
const surfaceN = 120

// surface is the loss over the (w, b) grid, row 0 at the largest b (as an
// image), every value the engine's: one forward of the 50-step model per w,
// its batch the grid's b values.
type surface struct {
	N    int
	Loss []float64 // [N][N], row r is b = bAt(r), column c is w = wAt(c)
}

func wAt(c int) float64 { return wMin + (float64(c)+0.5)*(wMax-wMin)/surfaceN }
func bAt(r int) float64 { return bMax - (float64(r)+0.5)*(bMax-bMin)/surfaceN }

// theSurface is computed once, when a run first needs it, and shared
// read-only by every run: it depends on no field.
var theSurface = sync.OnceValues(func() (*surface, error) { return computeSurface(surfaceN) })

// computeSurface evaluates E at the n×n cell centres. For the batch, b
// travels in the input instead of W_ih: W_ih = [1, 1] and u_t = (0, b) for
// t ≥ 1, which gives the same pre-activation w·h_{t−1} + b.
func computeSurface(n int) (*surface, error) {
	nt, err := newNet(T, n)
	if err != nil {
		return nil, err
	}
	nt.cell.WeightIH.Value.Data[1] = 1
	for r := range n {
		nt.x.Data[r*(T+1)*2] = x0
		for t := 1; t <= T; t++ {
			nt.x.Data[(r*(T+1)+t)*2+1] = bAt(r)
		}
	}
	s := &surface{N: n, Loss: make([]float64, n*n)}
	mse := engine.NewMSE()
	one, want := engine.NewTensor(1, 1), engine.TensorFrom([]float64{target}, 1, 1)
	for c := range n {
		nt.cell.WeightHH.Value.Data[0] = wAt(c)
		y := nt.model.Forward(nt.x, nil) // [n, 1]: h_50 for each b
		for r := range n {
			one.Data[0] = y.Data[r]
			s.Loss[r*n+c] = mse.Forward(one, want)
		}
	}
	return s, nil
}

// logFloor is the smallest loss the log scale shows: the valley's floor
// (losses below it take the darkest colour).
const logFloor = 1e-5

// logLoss returns log10 of each loss, floored at logFloor.
func (s *surface) logLoss() []float64 {
	out := make([]float64, len(s.Loss))
	for i, l := range s.Loss {
		out[i] = math.Log10(math.Max(l, logFloor))
	}
	return out
}
