package engine

import (
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
)

// blasImpl is gonum's pure-Go BLAS. It is called directly (not through
// blas64's global) so that every layer uses the same kernels on every
// machine, with the same rounding.
var blasImpl gonum.Implementation

// Tile sizes for gemm. gonum's Dgemm splits a product into 64×64 blocks of C
// and, when there are 4 blocks or more, computes them on new goroutines
// (allocating a channel and a closure per block). A layer step must stay on
// one goroutine with no allocation, so gemm hands Dgemm tiles of at most
// 1×3 blocks, which it always computes serially, in place.
const (
	gemmTileRows = 64
	gemmTileCols = 3 * 64
)

// gemm computes C = alpha·op(A)·op(B) + beta·C, where op(A) is m×k, op(B) is
// k×n and C is m×n, all row-major with leading dimensions lda, ldb, ldc.
// op(A) is Aᵀ when transA is set (A then is stored k×m), likewise for B. It
// panics, as gonum's Dgemm does, when a slice is too short for its
// dimensions.
func gemm(transA, transB bool, m, n, k int, alpha float64, a []float64, lda int, b []float64, ldb int, beta float64, c []float64, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	tA, tB := blas.NoTrans, blas.NoTrans
	if transA {
		tA = blas.Trans
	}
	if transB {
		tB = blas.Trans
	}
	// Balanced column tiles: 196 columns become 2×98, not 192+4, so no tile
	// is a sliver that pays the per-row overhead for nothing.
	colTiles := (n + gemmTileCols - 1) / gemmTileCols
	nt := (n + colTiles - 1) / colTiles
	for i0 := 0; i0 < m; i0 += gemmTileRows {
		mt := min(gemmTileRows, m-i0)
		var ai []float64
		if transA {
			ai = a[i0:] // columns i0… of A when it is transposed (a[i0*lda:] may be past its end)
		} else {
			ai = a[i0*lda:] // …or rows i0… of A
		}
		for j0 := 0; j0 < n; j0 += nt {
			ntile := min(nt, n-j0)
			var bj []float64
			if transB {
				bj = b[j0*ldb:] // columns j0… of op(B) are rows of B…
			} else {
				bj = b[j0:] // …or columns of B when it is not transposed
			}
			blasImpl.Dgemm(tA, tB, mt, ntile, k, alpha, ai, lda, bj, ldb, beta, c[i0*ldc+j0:], ldc)
		}
	}
}
