package engine

import "testing"

// TestGemmTiles checks gemm's tiling against the plain triple loop for every
// transpose combination, on sizes that need several row and column tiles.
func TestGemmTiles(t *testing.T) {
	const m, n, k = 130, 400, 7
	for _, ta := range []bool{false, true} {
		for _, tb := range []bool{false, true} {
			a := randTensor(1, m*k).Data
			b := randTensor(2, k*n).Data
			c := randTensor(3, m*n).Data
			want := make([]float64, m*n)
			at := func(i, l int) float64 {
				if ta {
					return a[l*m+i]
				}
				return a[i*k+l]
			}
			bt := func(l, j int) float64 {
				if tb {
					return b[j*k+l]
				}
				return b[l*n+j]
			}
			for i := range m {
				for j := range n {
					var s float64
					for l := range k {
						s += at(i, l) * bt(l, j)
					}
					want[i*n+j] = 2*s + 0.5*c[i*n+j]
				}
			}
			lda, ldb := k, n
			if ta {
				lda = m
			}
			if tb {
				ldb = k
			}
			gemm(ta, tb, m, n, k, 2, a, lda, b, ldb, 0.5, c, n)
			if e := relErr(c, want); e > 1e-14 {
				t.Errorf("transA %v transB %v: relative error %.3g", ta, tb, e)
			}
		}
	}
}
