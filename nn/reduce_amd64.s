//go:build !purego

#include "textflag.h"

// float64 row reductions over float32 data (reduce.go), AVX-512: each 16
// floats widen to two 8-lane float64 vectors, summed into four independent
// accumulators (32 floats per step) so the adds overlap as the four scalar
// lanes of the Go loops do.

// SUM4PD adds the four 8-lane accumulators Z0–Z3 into the low lane of X0.
#define SUM4PD \
	VADDPD        Z1, Z0, Z0; \
	VADDPD        Z3, Z2, Z2; \
	VADDPD        Z2, Z0, Z0; \
	VEXTRACTF64X4 $1, Z0, Y1; \
	VADDPD        Y1, Y0, Y0; \
	VEXTRACTF128  $1, Y0, X1; \
	VADDPD        X1, X0, X0; \
	VPERMILPD     $1, X0, X1; \
	VADDSD        X1, X0, X0

// func sum64AVX512(x *float32, n int) float64
// Σ x[:n]; n is a positive multiple of 16.
TEXT ·sum64AVX512(SB), NOSPLIT, $0-24
	MOVQ   x+0(FP), SI
	MOVQ   n+8(FP), CX
	VXORPD Z0, Z0, Z0
	VXORPD Z1, Z1, Z1
	VXORPD Z2, Z2, Z2
	VXORPD Z3, Z3, Z3

sum32:
	CMPQ      CX, $32
	JLT       sum16
	VCVTPS2PD (SI), Z4
	VCVTPS2PD 32(SI), Z5
	VCVTPS2PD 64(SI), Z6
	VCVTPS2PD 96(SI), Z7
	VADDPD    Z4, Z0, Z0
	VADDPD    Z5, Z1, Z1
	VADDPD    Z6, Z2, Z2
	VADDPD    Z7, Z3, Z3
	ADDQ      $128, SI
	SUBQ      $32, CX
	JMP       sum32

sum16:
	TESTQ     CX, CX
	JZ        sumdone
	VCVTPS2PD (SI), Z4
	VCVTPS2PD 32(SI), Z5
	VADDPD    Z4, Z0, Z0
	VADDPD    Z5, Z1, Z1

sumdone:
	SUM4PD
	MOVSD        X0, ret+16(FP)
	VZEROUPPER
	RET

// func sumSqDev64AVX512(x *float32, n int, m float64) float64
// Σ (x[:n]-m)²; n is a positive multiple of 16.
TEXT ·sumSqDev64AVX512(SB), NOSPLIT, $0-32
	MOVQ         x+0(FP), SI
	MOVQ         n+8(FP), CX
	VBROADCASTSD m+16(FP), Z8
	VXORPD       Z0, Z0, Z0
	VXORPD       Z1, Z1, Z1
	VXORPD       Z2, Z2, Z2
	VXORPD       Z3, Z3, Z3

sq32:
	CMPQ        CX, $32
	JLT         sq16
	VCVTPS2PD   (SI), Z4
	VCVTPS2PD   32(SI), Z5
	VCVTPS2PD   64(SI), Z6
	VCVTPS2PD   96(SI), Z7
	VSUBPD      Z8, Z4, Z4
	VSUBPD      Z8, Z5, Z5
	VSUBPD      Z8, Z6, Z6
	VSUBPD      Z8, Z7, Z7
	VFMADD231PD Z4, Z4, Z0
	VFMADD231PD Z5, Z5, Z1
	VFMADD231PD Z6, Z6, Z2
	VFMADD231PD Z7, Z7, Z3
	ADDQ        $128, SI
	SUBQ        $32, CX
	JMP         sq32

sq16:
	TESTQ       CX, CX
	JZ          sqdone
	VCVTPS2PD   (SI), Z4
	VCVTPS2PD   32(SI), Z5
	VSUBPD      Z8, Z4, Z4
	VSUBPD      Z8, Z5, Z5
	VFMADD231PD Z4, Z4, Z0
	VFMADD231PD Z5, Z5, Z1

sqdone:
	SUM4PD
	MOVSD        X0, ret+24(FP)
	VZEROUPPER
	RET

// func lnApplyAVX512(o, x, w, b *float32, n int, mf, rf float32)
// o[j] = (x[j]-mf)*rf*w[j] + b[j] (b nil: no + b[j]) for j < n, n a positive
// multiple of 16, as separate roundings in the Go loop's order.
TEXT ·lnApplyAVX512(SB), NOSPLIT, $0-48
	MOVQ         o+0(FP), DI
	MOVQ         x+8(FP), SI
	MOVQ         w+16(FP), DX
	MOVQ         b+24(FP), BX
	MOVQ         n+32(FP), CX
	VBROADCASTSS mf+40(FP), Z8
	VBROADCASTSS rf+44(FP), Z9
	XORQ         AX, AX
	SHLQ         $2, CX
	TESTQ        BX, BX
	JZ           nobias

bias:
	VMOVUPS (SI)(AX*1), Z0
	VSUBPS  Z8, Z0, Z0
	VMULPS  Z9, Z0, Z0
	VMULPS  (DX)(AX*1), Z0, Z0
	VADDPS  (BX)(AX*1), Z0, Z0
	VMOVUPS Z0, (DI)(AX*1)
	ADDQ    $64, AX
	CMPQ    AX, CX
	JLT     bias
	VZEROUPPER
	RET

nobias:
	VMOVUPS (SI)(AX*1), Z0
	VSUBPS  Z8, Z0, Z0
	VMULPS  Z9, Z0, Z0
	VMULPS  (DX)(AX*1), Z0, Z0
	VMOVUPS Z0, (DI)(AX*1)
	ADDQ    $64, AX
	CMPQ    AX, CX
	JLT     nobias
	VZEROUPPER
	RET
