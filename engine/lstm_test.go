package engine

import (
	"math"
	"testing"
)

// TestLSTMMatchesEquations compares Forward with a plain, one-number-at-a-
// time evaluation of torch.nn.LSTM's equations, reading the gate rows in
// PyTorch's order i, f, g, o (rows k·H … k·H+H-1 of weight_ih, weight_hh,
// bias_ih, bias_hh for gate k).
func TestLSTMMatchesEquations(t *testing.T) {
	l, err := NewLSTM("lstm", seqI, seqH, NewRand(21))
	if err != nil {
		t.Fatal(err)
	}
	x := randTensor(22, seqB, seqT, seqI)
	y := l.Forward(x, nil)
	wih, whh := l.WeightIH.Value.Data, l.WeightHH.Value.Data
	bih, bhh := l.BiasIH.Value.Data, l.BiasHH.Value.Data
	sig := func(v float64) float64 { return 1 / (1 + math.Exp(-v)) }
	for b := range seqB {
		h := make([]float64, seqH)
		c := make([]float64, seqH)
		for ts := range seqT {
			xt := x.Data[(b*seqT+ts)*seqI:][:seqI]
			// pre(k, j): gate k's pre-activation for unit j
			pre := func(k, j int) float64 {
				row := k*seqH + j
				s := bih[row] + bhh[row]
				for i := range seqI {
					s += wih[row*seqI+i] * xt[i]
				}
				for i := range seqH {
					s += whh[row*seqH+i] * h[i]
				}
				return s
			}
			newH := make([]float64, seqH)
			for j := range seqH {
				i, f, g, o := sig(pre(0, j)), sig(pre(1, j)), math.Tanh(pre(2, j)), sig(pre(3, j))
				c[j] = f*c[j] + i*g
				newH[j] = o * math.Tanh(c[j])
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
