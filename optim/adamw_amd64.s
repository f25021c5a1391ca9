//go:build !purego

#include "textflag.h"

// func adamwAVX2(p, grad, m, v *float32, n int, k *[8]float32)
// One AdamW update of n elements (n a multiple of 8), with the scalar loop's
// exact operation order and no FMA, so results are bit-identical to it:
// p *= decay; m = m*b1 + omb1*g; v = v*b2 + (omb2*g)*g;
// p += (negStep*m) / (sqrt(v)/bc2sqrt + eps).
// k = {decay, b1, omb1, b2, omb2, bc2sqrt, eps, negStep}.
TEXT ·adamwAVX2(SB), NOSPLIT, $0-48
	MOVQ p+0(FP), DI
	MOVQ grad+8(FP), SI
	MOVQ m+16(FP), R8
	MOVQ v+24(FP), R9
	MOVQ n+32(FP), CX
	MOVQ k+40(FP), AX
	VBROADCASTSS 0(AX), Y8
	VBROADCASTSS 4(AX), Y9
	VBROADCASTSS 8(AX), Y10
	VBROADCASTSS 12(AX), Y11
	VBROADCASTSS 16(AX), Y12
	VBROADCASTSS 20(AX), Y13
	VBROADCASTSS 24(AX), Y14
	VBROADCASTSS 28(AX), Y15
	XORQ BX, BX

loop:
	CMPQ CX, $8
	JL   done
	VMOVUPS (SI)(BX*4), Y0
	VMOVUPS (DI)(BX*4), Y1
	VMULPS  Y8, Y1, Y1
	VMOVUPS (R8)(BX*4), Y2
	VMULPS  Y9, Y2, Y2
	VMULPS  Y0, Y10, Y3
	VADDPS  Y3, Y2, Y2
	VMOVUPS (R9)(BX*4), Y4
	VMULPS  Y11, Y4, Y4
	VMULPS  Y0, Y12, Y5
	VMULPS  Y0, Y5, Y5
	VADDPS  Y5, Y4, Y4
	VMOVUPS Y2, (R8)(BX*4)
	VMOVUPS Y4, (R9)(BX*4)
	VSQRTPS Y4, Y6
	VDIVPS  Y13, Y6, Y6
	VADDPS  Y14, Y6, Y6
	VMULPS  Y2, Y15, Y7
	VDIVPS  Y6, Y7, Y7
	VADDPS  Y7, Y1, Y1
	VMOVUPS Y1, (DI)(BX*4)
	ADDQ    $8, BX
	SUBQ    $8, CX
	JMP     loop

done:
	VZEROUPPER
	RET
