//go:build amd64 && !purego

package engine

import "golang.org/x/sys/cpu"

// haveGemmKernel reports whether gemm may use the AVX2+FMA micro-kernel of
// gemm_amd64.s. It is decided once, from CPUID (and the OS saving the YMM
// registers, which cpu.X86.HasAVX2 already checks).
var haveGemmKernel = cpu.X86.HasAVX2 && cpu.X86.HasFMA

// gemmKernel4x8 computes one 4×8 tile of C:
//
//	C(i, j) = alpha·Σ_{p<k} A(i, p)·B(p, j) + beta·C(i, j),  i < 4, j < 8,
//
// with A(i, p) at a[i·rsA + p·csA], B(p, j) at b[p·ldb + j] and C(i, j) at
// c[i·ldc + j] (strides in elements, so a row-major A and its transpose are
// both read in place). beta == 0 does not read C. It checks nothing: the
// caller guarantees that every address above is inside its slice and that
// the CPU has AVX2 and FMA (haveGemmKernel).
//
//go:noescape
func gemmKernel4x8(k int, a *float64, rsA, csA int, b *float64, ldb int, c *float64, ldc int, alpha, beta float64)

// gemmDotKernel3x4 computes one 3×4 tile of C = alpha·A·Bᵀ + beta·C from
// rows of A and B stored contiguously:
//
//	C(i, j) = alpha·Σ_{p<k} A(i, p)·B(j, p) + beta·C(i, j),  i < 3, j < 4,
//
// with A(i, p) at a[i·lda + p], B(j, p) at b[j·ldb + p] and C(i, j) at
// c[i·ldc + j]. beta == 0 does not read C. Like gemmKernel4x8 it checks
// nothing and needs AVX2 and FMA.
//
//go:noescape
func gemmDotKernel3x4(k int, a *float64, lda int, b *float64, ldb int, c *float64, ldc int, alpha, beta float64)
