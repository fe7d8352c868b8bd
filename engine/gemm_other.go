//go:build !amd64 || purego

package engine

// haveGemmKernel is false where there is no assembly micro-kernel: gemm
// then always uses gonum's Dgemm.
const haveGemmKernel = false

// gemmKernel4x8 exists so the portable driver compiles; gemm never calls it
// when haveGemmKernel is false.
func gemmKernel4x8(k int, a *float64, rsA, csA int, b *float64, ldb int, c *float64, ldc int, alpha, beta float64) {
	panic("engine: gemmKernel4x8 called without an assembly kernel")
}

// gemmDotKernel3x4 exists so the portable driver compiles; gemm never calls
// it when haveGemmKernel is false.
func gemmDotKernel3x4(k int, a *float64, lda int, b *float64, ldb int, c *float64, ldc int, alpha, beta float64) {
	panic("engine: gemmDotKernel3x4 called without an assembly kernel")
}
