package viz

import (
	"math"
	"strconv"
)

// Sig rounds v to n significant digits, the precision a widget shows, so
// that a frame carries no digits nobody sees (0.123456789 → 0.123 for n =
// 3). v is returned unchanged when n ≤ 0, v is 0, or v is not finite (the
// caller decides how a NaN or an infinity is sent).
func Sig(v float64, n int) float64 {
	if n <= 0 || v == 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return v
	}
	r, _ := strconv.ParseFloat(strconv.FormatFloat(v, 'g', n, 64), 64)
	return r
}

// SigAll returns a copy of v with every element rounded by Sig.
func SigAll(v []float64, n int) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = Sig(x, n)
	}
	return out
}
