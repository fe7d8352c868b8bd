package viz

import (
	"math"
	"slices"
	"testing"
)

func TestSig(t *testing.T) {
	for _, tt := range []struct {
		v    float64
		n    int
		want float64
	}{
		{0.123456789, 3, 0.123},
		{-98765.4321, 2, -99000},
		{1.2345e-20, 4, 1.234e-20}, // the float64 nearest 1.2345e-20 lies below it
		{2.5, 1, 2},                // an exact half goes to the even digit
		{0, 3, 0},
		{7.123, 0, 7.123},
		{math.Inf(-1), 3, math.Inf(-1)},
	} {
		if got := Sig(tt.v, tt.n); got != tt.want {
			t.Errorf("Sig(%v, %d) = %v, want %v", tt.v, tt.n, got, tt.want)
		}
	}
	if got := Sig(math.NaN(), 3); !math.IsNaN(got) {
		t.Errorf("Sig(NaN) = %v", got)
	}
	in := []float64{1.23456, -0.000987654}
	if got := SigAll(in, 2); !slices.Equal(got, []float64{1.2, -0.00099}) || in[0] != 1.23456 {
		t.Errorf("SigAll = %v (input now %v)", got, in)
	}
}
