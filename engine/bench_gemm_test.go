package engine

import "testing"

// Benchmarks of gemm on the shapes the step benchmarks use, on the assembly
// kernel (Kernel) and on gonum's Dgemm (Gonum), named m×n×k and the
// transposes (N: as stored, T: transposed). Each reports GFLOP/s (2mnk per
// call); compare a Kernel line with the Gonum line below it:
//
//	go test ./engine -run '^$' -bench Gemm -cpu 1 -benchtime 2000x

// gemmBenchSink keeps a result so the products cannot be optimised away.
var gemmBenchSink float64

type gemmFunc func(transA, transB bool, m, n, k int, alpha float64, a []float64, lda int, b []float64, ldb int, beta float64, c []float64, ldc int)

func benchGemm(b *testing.B, f gemmFunc, m, n, k int, transA, transB bool) {
	if f == nil {
		b.Skip("no AVX2+FMA kernel on this machine")
	}
	lda, ldb := k, n
	if transA {
		lda = m
	}
	if transB {
		ldb = k
	}
	x, y, c := randTensor(1, m*k).Data, randTensor(2, k*n).Data, make([]float64, m*n)
	for b.Loop() {
		f(transA, transB, m, n, k, 1, x, lda, y, ldb, 1, c, n)
	}
	gemmBenchSink = c[0]
	b.ReportMetric(2*float64(m*n*k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}

// gemmKernelOrNil is the kernel path, or nil (skip) where there is none.
func gemmKernelOrNil() gemmFunc {
	if haveGemmKernel {
		return gemmTiled
	}
	return nil
}

// Recurrent step h·Whhᵀ (RNN, GRU, LSTM gate widths) and the input projection.
func BenchmarkGemmKernel16x64x64NN(b *testing.B) {
	benchGemm(b, gemmKernelOrNil(), 16, 64, 64, false, false)
}
func BenchmarkGemmGonum16x64x64NN(b *testing.B) { benchGemm(b, gemmGonum, 16, 64, 64, false, false) }
func BenchmarkGemmKernel16x192x64NN(b *testing.B) {
	benchGemm(b, gemmKernelOrNil(), 16, 192, 64, false, false)
}
func BenchmarkGemmGonum16x192x64NN(b *testing.B) { benchGemm(b, gemmGonum, 16, 192, 64, false, false) }
func BenchmarkGemmKernel16x256x64NN(b *testing.B) {
	benchGemm(b, gemmKernelOrNil(), 16, 256, 64, false, false)
}
func BenchmarkGemmGonum16x256x64NN(b *testing.B) { benchGemm(b, gemmGonum, 16, 256, 64, false, false) }
func BenchmarkGemmKernel512x64x32NN(b *testing.B) {
	benchGemm(b, gemmKernelOrNil(), 512, 64, 32, false, false)
}
func BenchmarkGemmGonum512x64x32NN(b *testing.B) { benchGemm(b, gemmGonum, 512, 64, 32, false, false) }

// Weight gradients of the recurrent layers: dHHᵀ·h over the steps.
func BenchmarkGemmKernel256x64x16TN(b *testing.B) {
	benchGemm(b, gemmKernelOrNil(), 256, 64, 16, true, false)
}
func BenchmarkGemmGonum256x64x16TN(b *testing.B) { benchGemm(b, gemmGonum, 256, 64, 16, true, false) }

// Attention: projections x·Wᵀ over all 256 positions, per-head q·kᵀ and
// scores·v.
func BenchmarkGemmKernel256x32x32NT(b *testing.B) {
	benchGemm(b, gemmKernelOrNil(), 256, 32, 32, false, true)
}
func BenchmarkGemmGonum256x32x32NT(b *testing.B) { benchGemm(b, gemmGonum, 256, 32, 32, false, true) }
func BenchmarkGemmKernel16x16x16NT(b *testing.B) {
	benchGemm(b, gemmKernelOrNil(), 16, 16, 16, false, true)
}
func BenchmarkGemmGonum16x16x16NT(b *testing.B) { benchGemm(b, gemmGonum, 16, 16, 16, false, true) }
func BenchmarkGemmKernel16x16x16NN(b *testing.B) {
	benchGemm(b, gemmKernelOrNil(), 16, 16, 16, false, false)
}
func BenchmarkGemmGonum16x16x16NN(b *testing.B) { benchGemm(b, gemmGonum, 16, 16, 16, false, false) }

// CNN: im2col products of conv1 and conv2, conv2's weight gradient and
// column gradient, and the classifier x·Wᵀ.
func BenchmarkGemmKernel8x784x9NN(b *testing.B) {
	benchGemm(b, gemmKernelOrNil(), 8, 784, 9, false, false)
}
func BenchmarkGemmGonum8x784x9NN(b *testing.B) { benchGemm(b, gemmGonum, 8, 784, 9, false, false) }
func BenchmarkGemmKernel16x196x72NN(b *testing.B) {
	benchGemm(b, gemmKernelOrNil(), 16, 196, 72, false, false)
}
func BenchmarkGemmGonum16x196x72NN(b *testing.B) { benchGemm(b, gemmGonum, 16, 196, 72, false, false) }
func BenchmarkGemmKernel16x72x196NT(b *testing.B) {
	benchGemm(b, gemmKernelOrNil(), 16, 72, 196, false, true)
}
func BenchmarkGemmGonum16x72x196NT(b *testing.B) { benchGemm(b, gemmGonum, 16, 72, 196, false, true) }
func BenchmarkGemmKernel72x196x16TN(b *testing.B) {
	benchGemm(b, gemmKernelOrNil(), 72, 196, 16, true, false)
}
func BenchmarkGemmGonum72x196x16TN(b *testing.B) { benchGemm(b, gemmGonum, 72, 196, 16, true, false) }
func BenchmarkGemmKernel32x10x784NT(b *testing.B) {
	benchGemm(b, gemmKernelOrNil(), 32, 10, 784, false, true)
}
func BenchmarkGemmGonum32x10x784NT(b *testing.B) { benchGemm(b, gemmGonum, 32, 10, 784, false, true) }
func BenchmarkGemmKernel256x256x256NN(b *testing.B) {
	benchGemm(b, gemmKernelOrNil(), 256, 256, 256, false, false)
}
func BenchmarkGemmGonum256x256x256NN(b *testing.B) {
	benchGemm(b, gemmGonum, 256, 256, 256, false, false)
}
