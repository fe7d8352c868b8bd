package engine

import (
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
)

// Every matrix product of the engine goes through gemm. On amd64 with AVX2
// and FMA it runs register-blocked micro-kernels written in assembly
// (gemm_amd64.s) under a small Go driver (gemmTiled); elsewhere, and for
// products of fewer than gemmMR rows (one example at a time), where a 4-row
// tile would waste most of its work, it calls gonum's pure-Go Dgemm
// (gemmGonum). Both stay on the calling goroutine and
// allocate nothing, so a layer step is single-threaded and allocation-free
// either way. Results agree to rounding (~1e-15 relative): the kernel sums
// over k in a different order and with fused multiply-adds.

// gemm computes C = alpha·op(A)·op(B) + beta·C, where op(A) is m×k, op(B) is
// k×n and C is m×n, all row-major with leading dimensions lda, ldb, ldc.
// op(A) is Aᵀ when transA is set (A then is stored k×m), likewise for B.
// beta == 0 sets C without reading it, and k == 0 or alpha == 0 only scale
// C by beta, as in BLAS. It panics with a ShapeError when a dimension is
// negative, a leading dimension is smaller than its row length, or a slice
// is too short for its dimensions.
func gemm(transA, transB bool, m, n, k int, alpha float64, a []float64, lda int, b []float64, ldb int, beta float64, c []float64, ldc int) {
	gemmCheck(transA, transB, m, n, k, a, lda, b, ldb, c, ldc)
	if m == 0 || n == 0 {
		return
	}
	if k == 0 || alpha == 0 {
		gemmScale(m, n, beta, c, ldc)
		return
	}
	if haveGemmKernel && m >= gemmMR {
		gemmTiled(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	gemmGonum(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// gemmCheck panics with a ShapeError unless gemm's arguments describe
// matrices that fit their slices. The assembly kernel checks no index, so
// these checks are what keeps it inside memory.
func gemmCheck(transA, transB bool, m, n, k int, a []float64, lda int, b []float64, ldb int, c []float64, ldc int) {
	if m < 0 || n < 0 || k < 0 {
		panic(ShapeError{Op: "gemm (m, n, k)", Want: []int{max(m, 0), max(n, 0), max(k, 0)}, Got: []int{m, n, k}})
	}
	ar, ac := m, k // A's stored rows and columns
	if transA {
		ar, ac = k, m
	}
	br, bc := k, n
	if transB {
		br, bc = n, k
	}
	switch {
	case lda < max(1, ac):
		panic(ShapeError{Op: "gemm (leading dimension of A)", Want: []int{max(1, ac)}, Got: []int{lda}})
	case ldb < max(1, bc):
		panic(ShapeError{Op: "gemm (leading dimension of B)", Want: []int{max(1, bc)}, Got: []int{ldb}})
	case ldc < max(1, n):
		panic(ShapeError{Op: "gemm (leading dimension of C)", Want: []int{max(1, n)}, Got: []int{ldc}})
	}
	if m == 0 || n == 0 {
		return // nothing is read or written
	}
	if ar > 0 && ac > 0 && len(a) < (ar-1)*lda+ac {
		panic(ShapeError{Op: "gemm (length of A)", Want: []int{(ar-1)*lda + ac}, Got: []int{len(a)}})
	}
	if br > 0 && bc > 0 && len(b) < (br-1)*ldb+bc {
		panic(ShapeError{Op: "gemm (length of B)", Want: []int{(br-1)*ldb + bc}, Got: []int{len(b)}})
	}
	if len(c) < (m-1)*ldc+n {
		panic(ShapeError{Op: "gemm (length of C)", Want: []int{(m-1)*ldc + n}, Got: []int{len(c)}})
	}
}

// gemmScale sets C = beta·C; beta == 0 clears C without reading it.
func gemmScale(m, n int, beta float64, c []float64, ldc int) {
	if beta == 1 {
		return
	}
	for i := range m {
		row := c[i*ldc : i*ldc+n]
		if beta == 0 {
			clear(row)
			continue
		}
		for j := range row {
			row[j] *= beta
		}
	}
}

// Blocking of gemmTiled. The kernel computes a gemmMR×gemmNR tile of C in
// registers (4×8: eight 4-wide accumulators, enough to keep both FMA pipes
// busy, leaving registers for one row of B and four broadcasts of A). The
// sum over k is cut into blocks of gemmKC, so the gemmKC×gemmNR strip of B
// a tile column reuses (16 KiB) stays in L1 while the kernel walks down the
// rows of C, and the rows of A are cut into blocks of gemmMC so the
// gemmMC×gemmKC block of A (256 KiB) stays in L2 across the strips of B.
const (
	gemmMR = 4
	gemmNR = 8
	gemmKC = 256
	gemmMC = 128
)

// gemmTiled is gemm on the assembly micro-kernels; its arguments have been
// checked, m ≥ gemmMR and n, k, alpha are non-zero.
//
// A·Bᵀ (a layer's x·Wᵀ, q·kᵀ, a convolution's weight gradient) goes to
// gemmDot, which reads both operands in place; so does gemmBlocks for A·B
// and Aᵀ·B, the other products of the engine. Only Aᵀ·Bᵀ and n < gemmNR
// need a packed strip of op(B), zero-padded to full tiles (the 4×8 kernel
// wants 8 consecutive columns of op(B) at each k). The strip is an array on
// this call's stack, so concurrent sessions never share it and nothing is
// allocated; it is declared only where needed, and small when k is,
// because Go zeroes it on every call.
func gemmTiled(transA, transB bool, m, n, k int, alpha float64, a []float64, lda int, b []float64, ldb int, beta float64, c []float64, ldc int) {
	if transB && !transA && m >= gemmDotMR && n >= gemmDotNR {
		gemmDot(m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	switch {
	case !transB && n >= gemmNR:
		gemmBlocks(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, nil)
	case k <= gemmSmallKC:
		var pb [gemmSmallKC * gemmNR]float64 // op(B)(p0+p, js+q) at pb[p·gemmNR + q]
		gemmBlocks(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, pb[:])
	default:
		var pb [gemmKC * gemmNR]float64
		gemmBlocks(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, pb[:])
	}
}

// gemmSmallKC is the depth up to which a packed strip of B uses a smaller
// stack array (4 KiB rather than 16), which is cheaper to zero.
const gemmSmallKC = 64

// gemmBlocks runs the 4×8 kernel over the blocks and tiles of C, for
// m ≥ gemmMR. packB holds at least min(k, gemmKC)·gemmNR elements; it may
// be nil when B is not transposed and n ≥ gemmNR.
//
// Edges: when n is not a multiple of gemmNR, the last strip of columns is
// shifted left to end at column n, overlapping the strip before it, so the
// kernel reads only real columns of B and no padded copy is needed; the
// tile goes to a small buffer and only the columns not yet written are
// stored into C. Rows are handled the same way. Only n < gemmNR (nothing
// to overlap) pads with zeros.
func gemmBlocks(transA, transB bool, m, n, k int, alpha float64, a []float64, lda int, b []float64, ldb int, beta float64, c []float64, ldc int, packB []float64) {
	rsA, csA := lda, 1 // A(i, p) at a[i·rsA + p·csA]
	if transA {
		rsA, csA = 1, lda
	}
	var tile [gemmMR * gemmNR]float64
	for p0 := 0; p0 < k; p0 += gemmKC {
		kc := min(gemmKC, k-p0)
		bk := beta
		if p0 > 0 {
			bk = 1 // later blocks of k add to what the first one stored
		}
		for ib := 0; ib < m; ib += gemmMC {
			ie := min(ib+gemmMC, m)
			for j0 := 0; j0 < n; j0 += gemmNR {
				js := j0 // first column of the tile the kernel computes
				if js+gemmNR > n {
					js = max(n-gemmNR, 0)
				}
				bp, bStride := (*float64)(nil), ldb
				if transB || n < gemmNR {
					gemmPackB(packB[:kc*gemmNR], transB, b, ldb, p0, kc, js, min(gemmNR, n-js))
					bp, bStride = &packB[0], gemmNR
				} else {
					bp = &b[p0*ldb+js]
				}
				for i0 := ib; i0 < ie; i0 += gemmMR {
					is := i0 // first row of the tile the kernel computes
					if is+gemmMR > m {
						is = m - gemmMR
					}
					ap := &a[is*rsA+p0*csA]
					if is == i0 && js == j0 && n >= gemmNR {
						gemmKernel4x8(kc, ap, rsA, csA, bp, bStride, &c[i0*ldc+j0], ldc, alpha, bk)
						continue
					}
					gemmKernel4x8(kc, ap, rsA, csA, bp, bStride, &tile[0], gemmNR, alpha, 0)
					gemmStoreEdge(tile[:], gemmNR, c, ldc, is, js, i0-is, min(gemmMR, m-is), j0-js, min(gemmNR, n-js), bk)
				}
			}
		}
	}
}

// Tile of gemmDot's kernel, which computes C = alpha·A·Bᵀ + beta·C from rows
// of A and B (12 dot products, four terms at a time, in 12 registers).
const (
	gemmDotMR = 3
	gemmDotNR = 4
)

// gemmDot is gemm for op(A) = A, op(B) = Bᵀ with m ≥ gemmDotMR and
// n ≥ gemmDotNR; its arguments have been checked. Edge tiles are shifted
// to overlap the tile before them, as in gemmBlocks. The sum over k is cut
// into blocks of gemmKC so the four rows of B a tile column reuses stay in
// L1 while the kernel walks down A.
func gemmDot(m, n, k int, alpha float64, a []float64, lda int, b []float64, ldb int, beta float64, c []float64, ldc int) {
	var tile [gemmDotMR * gemmDotNR]float64
	for p0 := 0; p0 < k; p0 += gemmKC {
		kc := min(gemmKC, k-p0)
		bk := beta
		if p0 > 0 {
			bk = 1
		}
		for j0 := 0; j0 < n; j0 += gemmDotNR {
			js := min(j0, n-gemmDotNR)
			bp := &b[js*ldb+p0]
			for i0 := 0; i0 < m; i0 += gemmDotMR {
				is := min(i0, m-gemmDotMR)
				if is == i0 && js == j0 {
					gemmDotKernel3x4(kc, &a[i0*lda+p0], lda, bp, ldb, &c[i0*ldc+j0], ldc, alpha, bk)
					continue
				}
				gemmDotKernel3x4(kc, &a[is*lda+p0], lda, bp, ldb, &tile[0], gemmDotNR, alpha, 0)
				gemmStoreEdge(tile[:], gemmDotNR, c, ldc, is, js, i0-is, gemmDotMR, j0-js, gemmDotNR, bk)
			}
		}
	}
}

// gemmStoreEdge adds rows [r0, r1) and columns [q0, q1) of an edge tile
// (alpha already applied, tileCols wide), whose element (0, 0) is C(is, js),
// to beta·C.
func gemmStoreEdge(tile []float64, tileCols int, c []float64, ldc, is, js, r0, r1, q0, q1 int, beta float64) {
	for r := r0; r < r1; r++ {
		row := c[(is+r)*ldc+js+q0 : (is+r)*ldc+js+q1]
		t := tile[r*tileCols+q0 : r*tileCols+q1]
		if beta == 0 {
			copy(row, t)
			continue
		}
		for q, v := range t {
			row[q] = v + beta*row[q]
		}
	}
}

// gemmPackB copies op(B)(p0+p, js+q), p < kc, q < nr, into dst[p·gemmNR + q]
// and zeroes the columns q ≥ nr. dst has length kc·gemmNR.
func gemmPackB(dst []float64, transB bool, b []float64, ldb, p0, kc, js, nr int) {
	if transB {
		// op(B)(p, j) = B(j, p): each column of the strip is a row of B.
		for q := range nr {
			src := b[(js+q)*ldb+p0 : (js+q)*ldb+p0+kc]
			for p, v := range src {
				dst[p*gemmNR+q] = v
			}
		}
		for q := nr; q < gemmNR; q++ {
			for p := range kc {
				dst[p*gemmNR+q] = 0
			}
		}
		return
	}
	for p := range kc {
		d := dst[p*gemmNR : p*gemmNR+gemmNR]
		copy(d, b[(p0+p)*ldb+js:(p0+p)*ldb+js+nr])
		clear(d[nr:])
	}
}

// blasImpl is gonum's pure-Go BLAS, the fallback where there is no kernel.
// It is called directly (not through blas64's global) so every layer uses
// the same code on every such machine.
var blasImpl gonum.Implementation

// Tile sizes for gemmGonum. gonum's Dgemm splits a product into 64×64
// blocks of C and, when there are 4 blocks or more, computes them on new
// goroutines (allocating a channel and a closure per block). A layer step
// must stay on one goroutine with no allocation, so gemmGonum hands Dgemm
// tiles of at most 1×3 blocks, which it always computes serially, in place.
const (
	gemmTileRows = 64
	gemmTileCols = 3 * 64
)

// gemmGonum is gemm on gonum's Dgemm; its arguments have been checked.
func gemmGonum(transA, transB bool, m, n, k int, alpha float64, a []float64, lda int, b []float64, ldb int, beta float64, c []float64, ldc int) {
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
