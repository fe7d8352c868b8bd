package engine

import (
	"math"
	"testing"
)

// gemmNaive is the textbook triple loop gemm is checked against, with
// gemm's beta == 0 convention (C is not read).
func gemmNaive(transA, transB bool, m, n, k int, alpha float64, a []float64, lda int, b []float64, ldb int, beta float64, c []float64, ldc int) {
	for i := range m {
		for j := range n {
			var s float64
			for p := range k {
				var av, bv float64
				if transA {
					av = a[p*lda+i]
				} else {
					av = a[i*lda+p]
				}
				if transB {
					bv = b[j*ldb+p]
				} else {
					bv = b[p*ldb+j]
				}
				s += av * bv
			}
			if beta == 0 {
				c[i*ldc+j] = alpha * s
			} else {
				c[i*ldc+j] = alpha*s + beta*c[i*ldc+j]
			}
		}
	}
}

// gemmPaths are the implementations gemm chooses between; each is tested
// on its own. The kernel is only there on amd64 with AVX2 and FMA.
func gemmPaths(t *testing.T) map[string]func(transA, transB bool, m, n, k int, alpha float64, a []float64, lda int, b []float64, ldb int, beta float64, c []float64, ldc int) {
	t.Helper()
	paths := map[string]func(bool, bool, int, int, int, float64, []float64, int, []float64, int, float64, []float64, int){
		"gemm":  gemm,
		"gonum": gemmGonum,
	}
	if haveGemmKernel {
		// gemmTiled needs gemmMR rows; gemm gives fewer to gonum.
		paths["kernel"] = func(transA, transB bool, m, n, k int, alpha float64, a []float64, lda int, b []float64, ldb int, beta float64, c []float64, ldc int) {
			if m < gemmMR {
				gemmGonum(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
				return
			}
			gemmTiled(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		}
	} else {
		t.Log("no AVX2+FMA kernel on this machine: testing the gonum path only")
	}
	return paths
}

// TestGemmShapes checks every gemm path against the triple loop on shapes
// that are and are not multiples of the kernel's tile, smaller than a tile,
// longer than a block of k or of rows, with every transpose combination,
// several alpha and beta, and leading dimensions larger than the rows.
// Elements of C outside the m×n window must not change.
func TestGemmShapes(t *testing.T) {
	type shape struct{ m, n, k int }
	shapes := []shape{
		{1, 1, 1}, {1, 1, 7}, {3, 5, 2}, {4, 8, 1}, {4, 8, 16}, {5, 9, 3},
		{7, 13, 11}, {16, 64, 64}, {16, 16, 16}, {8, 784, 9}, {16, 196, 72},
		{32, 10, 300}, {2, 30, 5}, {30, 2, 5}, {133, 17, 9}, {9, 8, 600},
		{260, 12, 4}, {6, 5, 100}, {8, 3, 70}, {5, 4, 9}, {4, 7, 3}, {12, 6, 65},
	}
	alphas := []float64{1, 0.5, -2}
	betas := []float64{0, 1, 0.5, -2}
	const pad = 3 // extra elements per row beyond the minimum
	seed := uint64(10)
	for name, f := range gemmPaths(t) {
		for _, sh := range shapes {
			for _, ta := range []bool{false, true} {
				for _, tb := range []bool{false, true} {
					m, n, k := sh.m, sh.n, sh.k
					ar, ac := m, k
					if ta {
						ar, ac = k, m
					}
					br, bc := k, n
					if tb {
						br, bc = n, k
					}
					lda, ldb, ldc := ac+pad, bc+pad, n+pad
					seed++
					a := randTensor(seed, ar*lda).Data
					b := randTensor(seed+1000, br*ldb).Data
					c0 := randTensor(seed+2000, m*ldc).Data
					for _, alpha := range alphas {
						for _, beta := range betas {
							c := append([]float64(nil), c0...)
							want := append([]float64(nil), c0...)
							gemmNaive(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, want, ldc)
							f(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
							if e := relErr(c, want); e > 1e-14 {
								t.Errorf("%s %dx%dx%d transA %v transB %v alpha %v beta %v: relative error %.3g",
									name, m, n, k, ta, tb, alpha, beta, e)
							}
							for i := range m {
								for j := n; j < ldc; j++ {
									if c[i*ldc+j] != c0[i*ldc+j] {
										t.Fatalf("%s %dx%dx%d transA %v transB %v: C(%d, %d) outside the product changed",
											name, m, n, k, ta, tb, i, j)
									}
								}
							}
						}
					}
				}
			}
		}
	}
}

// TestGemmBetaZeroIgnoresC checks that beta == 0 overwrites C even where it
// holds NaN, as BLAS specifies: a fresh buffer may hold anything.
func TestGemmBetaZeroIgnoresC(t *testing.T) {
	for name, f := range gemmPaths(t) {
		for _, sh := range [][3]int{{4, 8, 5}, {6, 11, 3}, {2, 3, 4}} {
			m, n, k := sh[0], sh[1], sh[2]
			a := randTensor(1, m*k).Data
			b := randTensor(2, k*n).Data
			c := make([]float64, m*n)
			for i := range c {
				c[i] = math.NaN()
			}
			want := make([]float64, m*n)
			gemmNaive(false, false, m, n, k, 1, a, k, b, n, 0, want, n)
			f(false, false, m, n, k, 1, a, k, b, n, 0, c, n)
			if e := relErr(c, want); !(e <= 1e-14) {
				t.Errorf("%s %v: relative error %.3g with NaN in C and beta 0", name, sh, e)
			}
		}
	}
}

// TestGemmDegenerate checks k == 0 and alpha == 0 (C = beta·C, A and B not
// read, so NaN in them does not leak) and m == 0 or n == 0 (nothing done).
func TestGemmDegenerate(t *testing.T) {
	nan := math.NaN()
	for _, beta := range []float64{0, 1, 0.5} {
		c := []float64{1, 2, 3, 4, 5, 6}
		gemm(false, false, 2, 3, 0, 1, nil, 1, nil, 3, beta, c, 3)
		for i, v := range c {
			if want := beta * float64(i+1); v != want {
				t.Errorf("k = 0, beta %v: C[%d] = %v, want %v", beta, i, v, want)
			}
		}
		c = []float64{1, 2, 3, 4}
		gemm(true, true, 2, 2, 1, 0, []float64{nan, nan}, 2, []float64{nan, nan}, 1, beta, c, 2)
		for i, v := range c {
			if want := beta * float64(i+1); v != want {
				t.Errorf("alpha = 0, beta %v: C[%d] = %v, want %v", beta, i, v, want)
			}
		}
	}
	gemm(false, false, 0, 5, 3, 1, nil, 3, make([]float64, 15), 5, 0, nil, 5)
	gemm(false, false, 5, 0, 3, 1, make([]float64, 15), 3, nil, 1, 0, nil, 1)
}

// TestGemmPanics checks that arguments that do not fit their slices panic
// with a ShapeError before anything is read: the kernel checks no index.
func TestGemmPanics(t *testing.T) {
	a, b, c := make([]float64, 12), make([]float64, 20), make([]float64, 15)
	cases := []struct {
		name string
		call func()
	}{
		{"negative m", func() { gemm(false, false, -1, 5, 4, 1, a, 4, b, 5, 0, c, 5) }},
		{"short lda", func() { gemm(false, false, 3, 5, 4, 1, a, 3, b, 5, 0, c, 5) }},
		{"short lda transposed", func() { gemm(true, false, 3, 5, 4, 1, a, 2, b, 5, 0, c, 5) }},
		{"short ldb", func() { gemm(false, false, 3, 5, 4, 1, a, 4, b, 4, 0, c, 5) }},
		{"short ldc", func() { gemm(false, false, 3, 5, 4, 1, a, 4, b, 5, 0, c, 4) }},
		{"short a", func() { gemm(false, false, 3, 5, 4, 1, a[:11], 4, b, 5, 0, c, 5) }},
		{"short b", func() { gemm(false, true, 3, 5, 4, 1, a, 4, b[:19], 4, 0, c, 5) }},
		{"short c", func() { gemm(false, false, 3, 5, 4, 1, a, 4, b, 5, 0, c[:14], 5) }},
	}
	for _, tc := range cases {
		func() {
			defer func() {
				if _, ok := recover().(ShapeError); !ok {
					t.Errorf("%s: did not panic with a ShapeError", tc.name)
				}
			}()
			tc.call()
		}()
	}
}

// TestGemmNoAlloc checks that gemm allocates nothing, on the in-place path,
// the dot-product one (B transposed), the packing ones (both transposed,
// n < 8, with k above and below gemmSmallKC) and gonum's (m < 4).
func TestGemmNoAlloc(t *testing.T) {
	for _, sh := range [][5]int{{16, 64, 64, 0, 0}, {32, 10, 784, 0, 1}, {8, 9, 300, 1, 1}, {8, 5, 30, 0, 0}, {8, 5, 300, 1, 0}, {3, 5, 300, 1, 0}} {
		m, n, k, ta, tb := sh[0], sh[1], sh[2], sh[3] == 1, sh[4] == 1
		a, b, c := randTensor(1, m*k).Data, randTensor(2, k*n).Data, make([]float64, m*n)
		lda, ldb := k, n
		if ta {
			lda = m
		}
		if tb {
			ldb = k
		}
		if allocs := testing.AllocsPerRun(20, func() { gemm(ta, tb, m, n, k, 1, a, lda, b, ldb, 1, c, n) }); allocs != 0 {
			t.Errorf("%v: %v allocations per call", sh, allocs)
		}
	}
}
