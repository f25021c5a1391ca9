//go:build !purego

#include "textflag.h"

// Constants of expShiftAVX2, one float32 (or int32) each, broadcast on use.
DATA expc<>+0(SB)/4, $0x3fb8aa3b  // log2(e)
DATA expc<>+4(SB)/4, $0x3f318000  // C1 = 0.693359375 (ln2 high part, 9 bits: n*C1 exact)
DATA expc<>+8(SB)/4, $0xb95e8083  // C2 = -2.12194440e-4 (ln2 - C1)
DATA expc<>+12(SB)/4, $0x39506967 // p0 1.9875691500e-4
DATA expc<>+16(SB)/4, $0x3ab743ce // p1 1.3981999507e-3
DATA expc<>+20(SB)/4, $0x3c088908 // p2 8.3334519073e-3
DATA expc<>+24(SB)/4, $0x3d2aa9c1 // p3 4.1665795894e-2
DATA expc<>+28(SB)/4, $0x3e2aaaaa // p4 1.6666665459e-1
DATA expc<>+32(SB)/4, $0x3f000000 // p5 0.5
DATA expc<>+36(SB)/4, $0x3f800000 // 1
DATA expc<>+40(SB)/4, $0x42b0c0a5 // hi 88.3762626647949
DATA expc<>+44(SB)/4, $0xc2aeac4f // lo -87.33654 (exp(lo) ~ smallest normal float32)
DATA expc<>+48(SB)/4, $0x0000007f // exponent bias 127
GLOBL expc<>(SB), RODATA|NOPTR, $52

// func expShiftAVX2(dst, src *float32, n int, a, scale, b float32)
// dst[i] = exp((src[i]-a)*scale - b) for i < n, n a multiple of 8.
// Cephes expf: x = n*ln2 + r, |r| <= ln2/2, exp(r) by a degree-7 polynomial,
// 2^n built in the exponent field. Arguments below lo (and -Inf) give 0.
TEXT ·expShiftAVX2(SB), NOSPLIT, $0-36
	MOVQ         dst+0(FP), DI
	MOVQ         src+8(FP), SI
	MOVQ         n+16(FP), CX
	VBROADCASTSS a+24(FP), Y10
	VBROADCASTSS scale+28(FP), Y11
	VBROADCASTSS b+32(FP), Y12
	VBROADCASTSS expc<>+40(SB), Y13 // hi
	VBROADCASTSS expc<>+44(SB), Y14 // lo
	VBROADCASTSS expc<>+0(SB), Y15  // log2(e)
	VBROADCASTSS expc<>+36(SB), Y9  // 1

loop:
	CMPQ CX, $8
	JLT  done
	VMOVUPS      (SI), Y0
	VSUBPS       Y10, Y0, Y0          // x - a
	VFMSUB213PS  Y12, Y11, Y0         // x = (x-a)*scale - b
	VCMPPS       $1, Y14, Y0, Y5      // underflow mask: x < lo (false for NaN)
	VMINPS       Y13, Y0, Y0
	VMAXPS       Y14, Y0, Y0
	VMULPS       Y15, Y0, Y1
	VROUNDPS     $0, Y1, Y1           // n = round(x*log2e)
	VBROADCASTSS expc<>+4(SB), Y2
	VFNMADD231PS Y2, Y1, Y0           // r = x - n*C1
	VBROADCASTSS expc<>+8(SB), Y2
	VFNMADD231PS Y2, Y1, Y0           // r -= n*C2
	VBROADCASTSS expc<>+12(SB), Y2    // y = p0
	VBROADCASTSS expc<>+16(SB), Y3
	VFMADD213PS  Y3, Y0, Y2           // y = y*r + p1
	VBROADCASTSS expc<>+20(SB), Y3
	VFMADD213PS  Y3, Y0, Y2
	VBROADCASTSS expc<>+24(SB), Y3
	VFMADD213PS  Y3, Y0, Y2
	VBROADCASTSS expc<>+28(SB), Y3
	VFMADD213PS  Y3, Y0, Y2
	VBROADCASTSS expc<>+32(SB), Y3
	VFMADD213PS  Y3, Y0, Y2           // y = y*r + 0.5
	VMULPS       Y0, Y0, Y3           // r²
	VFMADD213PS  Y0, Y3, Y2           // y = y*r² + r
	VADDPS       Y9, Y2, Y2           // y += 1
	VCVTPS2DQ    Y1, Y4
	VPBROADCASTD expc<>+48(SB), Y3
	VPADDD       Y3, Y4, Y4
	VPSLLD       $23, Y4, Y4          // 2^n
	VMULPS       Y4, Y2, Y2
	VANDNPS      Y2, Y5, Y2           // 0 where x < lo
	VMOVUPS      Y2, (DI)
	ADDQ         $32, SI
	ADDQ         $32, DI
	SUBQ         $8, CX
	JMP          loop

done:
	VZEROUPPER
	RET
