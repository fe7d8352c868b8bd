//go:build amd64 && !purego

#include "textflag.h"

// func gemmKernel4x8(k int, a *float64, rsA, csA int, b *float64, ldb int, c *float64, ldc int, alpha, beta float64)
//
// C[0:4, 0:8] = alpha·Σ_p A(i, p)·B(p, j) + beta·C, with A(i, p) at
// a[i·rsA + p·csA], B(p, j) at b[p·ldb + j] and C(i, j) at c[i·ldc + j]
// (strides in elements). beta == 0 does not read C. Needs AVX2 and FMA.
//
// The 4×8 tile of C lives in Y0–Y7 (row i in Y(2i), Y(2i+1)); each step of
// p loads one 8-wide row of B (Y8, Y9), broadcasts the four A(i, p) (Y10–
// Y13) and issues eight independent FMAs — as many as two FMA pipes with a
// 4-cycle latency need to stay busy. The loop is unrolled twice.
//
// Registers: CX = k, R8 = &A(0, p), R10 = &A(3, p), R9 = rsA·8,
// R11 = csA·8, BX = &B(p, 0), R12 = ldb·8.
TEXT ·gemmKernel4x8(SB), NOSPLIT, $0-80
	MOVQ k+0(FP), CX
	MOVQ a+8(FP), R8
	MOVQ rsA+16(FP), R9
	SHLQ $3, R9
	MOVQ csA+24(FP), R11
	SHLQ $3, R11
	MOVQ b+32(FP), BX
	MOVQ ldb+40(FP), R12
	SHLQ $3, R12
	LEAQ (R9)(R9*2), R10
	ADDQ R8, R10

	VXORPD Y0, Y0, Y0
	VXORPD Y1, Y1, Y1
	VXORPD Y2, Y2, Y2
	VXORPD Y3, Y3, Y3
	VXORPD Y4, Y4, Y4
	VXORPD Y5, Y5, Y5
	VXORPD Y6, Y6, Y6
	VXORPD Y7, Y7, Y7

	MOVQ CX, DX
	SHRQ $1, DX
	JZ   tail

loop2:
	VMOVUPD      (BX), Y8
	VMOVUPD      32(BX), Y9
	VBROADCASTSD (R8), Y10
	VBROADCASTSD (R8)(R9*1), Y11
	VFMADD231PD  Y8, Y10, Y0
	VFMADD231PD  Y9, Y10, Y1
	VBROADCASTSD (R8)(R9*2), Y12
	VFMADD231PD  Y8, Y11, Y2
	VFMADD231PD  Y9, Y11, Y3
	VBROADCASTSD (R10), Y13
	VFMADD231PD  Y8, Y12, Y4
	VFMADD231PD  Y9, Y12, Y5
	VFMADD231PD  Y8, Y13, Y6
	VFMADD231PD  Y9, Y13, Y7
	ADDQ         R11, R8
	ADDQ         R11, R10
	ADDQ         R12, BX

	VMOVUPD      (BX), Y14
	VMOVUPD      32(BX), Y15
	VBROADCASTSD (R8), Y10
	VBROADCASTSD (R8)(R9*1), Y11
	VFMADD231PD  Y14, Y10, Y0
	VFMADD231PD  Y15, Y10, Y1
	VBROADCASTSD (R8)(R9*2), Y12
	VFMADD231PD  Y14, Y11, Y2
	VFMADD231PD  Y15, Y11, Y3
	VBROADCASTSD (R10), Y13
	VFMADD231PD  Y14, Y12, Y4
	VFMADD231PD  Y15, Y12, Y5
	VFMADD231PD  Y14, Y13, Y6
	VFMADD231PD  Y15, Y13, Y7
	ADDQ         R11, R8
	ADDQ         R11, R10
	ADDQ         R12, BX

	DECQ DX
	JNZ  loop2

tail:
	ANDQ $1, CX
	JZ   store
	VMOVUPD      (BX), Y8
	VMOVUPD      32(BX), Y9
	VBROADCASTSD (R8), Y10
	VBROADCASTSD (R8)(R9*1), Y11
	VFMADD231PD  Y8, Y10, Y0
	VFMADD231PD  Y9, Y10, Y1
	VBROADCASTSD (R8)(R9*2), Y12
	VFMADD231PD  Y8, Y11, Y2
	VFMADD231PD  Y9, Y11, Y3
	VBROADCASTSD (R10), Y13
	VFMADD231PD  Y8, Y12, Y4
	VFMADD231PD  Y9, Y12, Y5
	VFMADD231PD  Y8, Y13, Y6
	VFMADD231PD  Y9, Y13, Y7

store:
	MOVQ         c+48(FP), DI
	MOVQ         ldc+56(FP), SI
	SHLQ         $3, SI
	VBROADCASTSD alpha+64(FP), Y8
	VMULPD       Y8, Y0, Y0
	VMULPD       Y8, Y1, Y1
	VMULPD       Y8, Y2, Y2
	VMULPD       Y8, Y3, Y3
	VMULPD       Y8, Y4, Y4
	VMULPD       Y8, Y5, Y5
	VMULPD       Y8, Y6, Y6
	VMULPD       Y8, Y7, Y7

	// beta == 0 must not read C (it may hold NaN or Inf, as after
	// make); a NaN beta takes the general path (PF set).
	VMOVSD   beta+72(FP), X9
	VXORPD   X10, X10, X10
	VUCOMISD X10, X9
	JNE      withbeta
	JPS      withbeta

	VMOVUPD Y0, (DI)
	VMOVUPD Y1, 32(DI)
	ADDQ    SI, DI
	VMOVUPD Y2, (DI)
	VMOVUPD Y3, 32(DI)
	ADDQ    SI, DI
	VMOVUPD Y4, (DI)
	VMOVUPD Y5, 32(DI)
	ADDQ    SI, DI
	VMOVUPD Y6, (DI)
	VMOVUPD Y7, 32(DI)
	VZEROUPPER
	RET

withbeta:
	VBROADCASTSD beta+72(FP), Y9
	VFMADD231PD  (DI), Y9, Y0
	VFMADD231PD  32(DI), Y9, Y1
	VMOVUPD      Y0, (DI)
	VMOVUPD      Y1, 32(DI)
	ADDQ         SI, DI
	VFMADD231PD  (DI), Y9, Y2
	VFMADD231PD  32(DI), Y9, Y3
	VMOVUPD      Y2, (DI)
	VMOVUPD      Y3, 32(DI)
	ADDQ         SI, DI
	VFMADD231PD  (DI), Y9, Y4
	VFMADD231PD  32(DI), Y9, Y5
	VMOVUPD      Y4, (DI)
	VMOVUPD      Y5, 32(DI)
	ADDQ         SI, DI
	VFMADD231PD  (DI), Y9, Y6
	VFMADD231PD  32(DI), Y9, Y7
	VMOVUPD      Y6, (DI)
	VMOVUPD      Y7, 32(DI)
	VZEROUPPER
	RET

// func gemmDotKernel3x4(k int, a *float64, lda int, b *float64, ldb int, c *float64, ldc int, alpha, beta float64)
//
// C[0:3, 0:4] = alpha·A·Bᵀ + beta·C for A (3×k) and B (4×k) stored by rows,
// A(i, p) at a[i·lda + p] and B(j, p) at b[j·ldb + p]: each element of C is
// a dot product of two contiguous rows, so op(B) = Bᵀ needs no packing.
// beta == 0 does not read C. Needs AVX2 and FMA.
//
// The twelve dot products accumulate 4 terms at a time in Y0–Y11 (row i,
// column j in Y(4i+j)), from three rows of A in Y12–Y14 and one row of B at
// a time in Y15; a remainder of k mod 4 terms goes through lane 0 only.
// Each row's four accumulators are then summed across lanes into one
// vector, the four C(i, j) of that row.
//
// Registers: CX = k, R8 = &A(0, p), R9 = lda·8, BX = &B(0, p),
// R13 = &B(3, p), R12 = ldb·8.
TEXT ·gemmDotKernel3x4(SB), NOSPLIT, $0-72
	MOVQ k+0(FP), CX
	MOVQ a+8(FP), R8
	MOVQ lda+16(FP), R9
	SHLQ $3, R9
	MOVQ b+24(FP), BX
	MOVQ ldb+32(FP), R12
	SHLQ $3, R12
	LEAQ (R12)(R12*2), R13
	ADDQ BX, R13

	VXORPD Y0, Y0, Y0
	VXORPD Y1, Y1, Y1
	VXORPD Y2, Y2, Y2
	VXORPD Y3, Y3, Y3
	VXORPD Y4, Y4, Y4
	VXORPD Y5, Y5, Y5
	VXORPD Y6, Y6, Y6
	VXORPD Y7, Y7, Y7
	VXORPD Y8, Y8, Y8
	VXORPD Y9, Y9, Y9
	VXORPD Y10, Y10, Y10
	VXORPD Y11, Y11, Y11

	MOVQ CX, DX
	SHRQ $2, DX
	JZ   dottail

dotloop:
	VMOVUPD     (R8), Y12
	VMOVUPD     (R8)(R9*1), Y13
	VMOVUPD     (R8)(R9*2), Y14
	VMOVUPD     (BX), Y15
	VFMADD231PD Y15, Y12, Y0
	VFMADD231PD Y15, Y13, Y4
	VFMADD231PD Y15, Y14, Y8
	VMOVUPD     (BX)(R12*1), Y15
	VFMADD231PD Y15, Y12, Y1
	VFMADD231PD Y15, Y13, Y5
	VFMADD231PD Y15, Y14, Y9
	VMOVUPD     (BX)(R12*2), Y15
	VFMADD231PD Y15, Y12, Y2
	VFMADD231PD Y15, Y13, Y6
	VFMADD231PD Y15, Y14, Y10
	VMOVUPD     (R13), Y15
	VFMADD231PD Y15, Y12, Y3
	VFMADD231PD Y15, Y13, Y7
	VFMADD231PD Y15, Y14, Y11
	ADDQ        $32, R8
	ADDQ        $32, BX
	ADDQ        $32, R13
	DECQ        DX
	JNZ         dotloop

dottail:
	ANDQ $3, CX
	JZ   dotreduce

dottailloop:
	// VMOVSD from memory zeroes the other lanes, so only lane 0 adds.
	VMOVSD      (R8), X12
	VMOVSD      (R8)(R9*1), X13
	VMOVSD      (R8)(R9*2), X14
	VMOVSD      (BX), X15
	VFMADD231PD Y15, Y12, Y0
	VFMADD231PD Y15, Y13, Y4
	VFMADD231PD Y15, Y14, Y8
	VMOVSD      (BX)(R12*1), X15
	VFMADD231PD Y15, Y12, Y1
	VFMADD231PD Y15, Y13, Y5
	VFMADD231PD Y15, Y14, Y9
	VMOVSD      (BX)(R12*2), X15
	VFMADD231PD Y15, Y12, Y2
	VFMADD231PD Y15, Y13, Y6
	VFMADD231PD Y15, Y14, Y10
	VMOVSD      (R13), X15
	VFMADD231PD Y15, Y12, Y3
	VFMADD231PD Y15, Y13, Y7
	VFMADD231PD Y15, Y14, Y11
	ADDQ        $8, R8
	ADDQ        $8, BX
	ADDQ        $8, R13
	DECQ        CX
	JNZ         dottailloop

dotreduce:
	// Row i: hadd pairs the lanes of (Y4i, Y4i+1) and (Y4i+2, Y4i+3);
	// the low halves and the high halves then hold the half-sums of the
	// four dot products in order, and their sum is the row of C.
	VHADDPD    Y1, Y0, Y0
	VHADDPD    Y3, Y2, Y2
	VPERM2F128 $0x20, Y2, Y0, Y12
	VPERM2F128 $0x31, Y2, Y0, Y13
	VADDPD     Y13, Y12, Y0
	VHADDPD    Y5, Y4, Y4
	VHADDPD    Y7, Y6, Y6
	VPERM2F128 $0x20, Y6, Y4, Y12
	VPERM2F128 $0x31, Y6, Y4, Y13
	VADDPD     Y13, Y12, Y4
	VHADDPD    Y9, Y8, Y8
	VHADDPD    Y11, Y10, Y10
	VPERM2F128 $0x20, Y10, Y8, Y12
	VPERM2F128 $0x31, Y10, Y8, Y13
	VADDPD     Y13, Y12, Y8

	MOVQ         c+40(FP), DI
	MOVQ         ldc+48(FP), SI
	SHLQ         $3, SI
	VBROADCASTSD alpha+56(FP), Y14
	VMULPD       Y14, Y0, Y0
	VMULPD       Y14, Y4, Y4
	VMULPD       Y14, Y8, Y8

	VMOVSD   beta+64(FP), X15
	VXORPD   X13, X13, X13
	VUCOMISD X13, X15
	JNE      dotwithbeta
	JPS      dotwithbeta

	VMOVUPD Y0, (DI)
	VMOVUPD Y4, (DI)(SI*1)
	VMOVUPD Y8, (DI)(SI*2)
	VZEROUPPER
	RET

dotwithbeta:
	VBROADCASTSD beta+64(FP), Y15
	VFMADD231PD  (DI), Y15, Y0
	VFMADD231PD  (DI)(SI*1), Y15, Y4
	VFMADD231PD  (DI)(SI*2), Y15, Y8
	VMOVUPD      Y0, (DI)
	VMOVUPD      Y4, (DI)(SI*1)
	VMOVUPD      Y8, (DI)(SI*2)
	VZEROUPPER
	RET
