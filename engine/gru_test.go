package engine

import (
	"math"
	"testing"
)

// TestGRUMatchesEquations compares Forward with a plain evaluation of
// torch.nn.GRU's equations, gate rows in PyTorch's order r, z, n, with the
// reset gate applied to (h W_hnᵀ + b_hn) as PyTorch does.
func TestGRUMatchesEquations(t *testing.T) {
	g, err := NewGRU("gru", seqI, seqH, NewRand(31))
	if err != nil {
		t.Fatal(err)
	}
	x := randTensor(32, seqB, seqT, seqI)
	y := g.Forward(x, nil)
	wih, whh := g.WeightIH.Value.Data, g.WeightHH.Value.Data
	bih, bhh := g.BiasIH.Value.Data, g.BiasHH.Value.Data
	sig := func(v float64) float64 { return 1 / (1 + math.Exp(-v)) }
	for b := range seqB {
		h := make([]float64, seqH)
		for ts := range seqT {
			xt := x.Data[(b*seqT+ts)*seqI:][:seqI]
			in := func(k, j int) float64 { // x W_{i·}ᵀ + b_{i·} for gate k, unit j
				row := k*seqH + j
				s := bih[row]
				for i := range seqI {
					s += wih[row*seqI+i] * xt[i]
				}
				return s
			}
			hid := func(k, j int) float64 { // h W_{h·}ᵀ + b_{h·}
				row := k*seqH + j
				s := bhh[row]
				for i := range seqH {
					s += whh[row*seqH+i] * h[i]
				}
				return s
			}
			newH := make([]float64, seqH)
			for j := range seqH {
				r := sig(in(0, j) + hid(0, j))
				z := sig(in(1, j) + hid(1, j))
				n := math.Tanh(in(2, j) + r*hid(2, j))
				newH[j] = (1-z)*n + z*h[j]
			}
			h = newH
			for j := range seqH {
				if got := y.Data[(b*seqT+ts)*seqH+j]; math.Abs(got-h[j]) > 1e-13 {
					t.Fatalf("h[%d,%d,%d] = %v, equations give %v", b, ts, j, got, h[j])
				}
			}
		}
	}
}
