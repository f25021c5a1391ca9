//go:build !purego

#include "textflag.h"

// Dequantisation of compact Linear weights (qdequant_amd64.go), AVX-512.

// func widenBF16AVX512(dst *float32, src *uint16, n int)
// dst[:n] = src[:n] << 16; n is a positive multiple of 16.
TEXT ·widenBF16AVX512(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX

bf16loop:
	VPMOVZXWD (SI), Z0
	VPSLLD    $16, Z0, Z0
	VMOVUPS   Z0, (DI)
	ADDQ      $32, SI
	ADDQ      $64, DI
	SUBQ      $16, CX
	JNZ       bf16loop
	VZEROUPPER
	RET

// func widenF16AVX512(dst *float32, src *uint16, n int)
// dst[:n] = the IEEE halves src[:n] as float32 (exact); n a positive multiple of 16.
TEXT ·widenF16AVX512(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX

f16loop:
	VCVTPH2PS (SI), Z0
	VMOVUPS   Z0, (DI)
	ADDQ      $32, SI
	ADDQ      $64, DI
	SUBQ      $16, CX
	JNZ       f16loop
	VZEROUPPER
	RET

// func dequantInt8AVX512(dst *float32, q *byte, n int, s float32)
// dst[:n] = float32(int8(q[i]))·s; n a positive multiple of 16.
TEXT ·dequantInt8AVX512(SB), NOSPLIT, $0-28
	MOVQ         dst+0(FP), DI
	MOVQ         q+8(FP), SI
	MOVQ         n+16(FP), CX
	VBROADCASTSS s+24(FP), Z1

i8loop:
	VPMOVSXBD (SI), Z0
	VCVTDQ2PS Z0, Z0
	VMULPS    Z1, Z0, Z0
	VMOVUPS   Z0, (DI)
	ADDQ      $16, SI
	ADDQ      $64, DI
	SUBQ      $16, CX
	JNZ       i8loop
	VZEROUPPER
	RET

// func dequant4AVX512(dst *float32, p *byte, n int, lv *[16]float32, s float32)
// dst[:n] = lv[code]·s for the n 4-bit codes packed in p, the first of each
// byte in its high nibble; n a positive multiple of 32. Each 16 bytes widen
// to 16 words holding hi | lo<<8, which are the 32 codes in element order as
// bytes; those widen to dwords and index the 16-entry table with VPERMPS.
TEXT ·dequant4AVX512(SB), NOSPLIT, $0-36
	MOVQ         dst+0(FP), DI
	MOVQ         p+8(FP), SI
	MOVQ         n+16(FP), CX
	MOVQ         lv+24(FP), AX
	VMOVUPS      (AX), Z2
	VBROADCASTSS s+32(FP), Z3
	MOVL         $0x000f000f, AX
	MOVD         AX, X4
	VPBROADCASTD X4, Y4

q4loop:
	VPMOVZXBW    (SI), Y0
	VPSRLW       $4, Y0, Y1
	VPAND        Y4, Y0, Y0
	VPSLLW       $8, Y0, Y0
	VPOR         Y1, Y0, Y0
	VPMOVZXBD    X0, Z5
	VEXTRACTI128 $1, Y0, X6
	VPMOVZXBD    X6, Z6
	VPERMPS      Z2, Z5, Z5
	VPERMPS      Z2, Z6, Z6
	VMULPS       Z3, Z5, Z5
	VMULPS       Z3, Z6, Z6
	VMOVUPS      Z5, (DI)
	VMOVUPS      Z6, 64(DI)
	ADDQ         $16, SI
	ADDQ         $128, DI
	SUBQ         $32, CX
	JNZ          q4loop
	VZEROUPPER
	RET
