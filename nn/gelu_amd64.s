//go:build !purego

#include "textflag.h"

// The exp constants of expvec_amd64.s (file-local there).
DATA gexpc<>+0(SB)/4, $0x3fb8aa3b  // log2(e)
DATA gexpc<>+4(SB)/4, $0x3f318000  // C1 = 0.693359375 (ln2 high part, 9 bits: n*C1 exact)
DATA gexpc<>+8(SB)/4, $0xb95e8083  // C2 = -2.12194440e-4 (ln2 - C1)
DATA gexpc<>+12(SB)/4, $0x39506967 // p0 1.9875691500e-4
DATA gexpc<>+16(SB)/4, $0x3ab743ce // p1 1.3981999507e-3
DATA gexpc<>+20(SB)/4, $0x3c088908 // p2 8.3334519073e-3
DATA gexpc<>+24(SB)/4, $0x3d2aa9c1 // p3 4.1665795894e-2
DATA gexpc<>+28(SB)/4, $0x3e2aaaaa // p4 1.6666665459e-1
DATA gexpc<>+32(SB)/4, $0x3f000000 // p5 0.5
DATA gexpc<>+36(SB)/4, $0x3f800000 // 1
DATA gexpc<>+40(SB)/4, $0x42b0c0a5 // hi 88.3762626647949
DATA gexpc<>+44(SB)/4, $0xc2aeac4f // lo -87.33654 (exp(lo) ~ smallest normal float32)
DATA gexpc<>+48(SB)/4, $0x0000007f // exponent bias 127
GLOBL gexpc<>(SB), RODATA|NOPTR, $52

// GELU (tanh form) constants: a, 3a, k = sqrt(2/pi), c1 = -2k, 2.
DATA geluc<>+0(SB)/4, $0x3d372713  // a = 0.044715
DATA geluc<>+4(SB)/4, $0x3e095d4f  // 3a = 0.134145
DATA geluc<>+8(SB)/4, $0x3f4c422a  // k = 0.7978845608
DATA geluc<>+12(SB)/4, $0xbfcc422a // c1 = -1.5957691216
DATA geluc<>+16(SB)/4, $0x40000000 // 2
GLOBL geluc<>(SB), RODATA|NOPTR, $20

// EXPY0 sets Y2 = exp(Y0) as expShiftAVX2 does (Cephes polynomial, clamped to
// [lo, hi], 0 below lo). Needs Y9 = 1, Y13 = hi, Y14 = lo, Y15 = log2(e);
// clobbers Y0, Y1, Y3, Y4, Y5.
#define EXPY0 \
	VCMPPS       $1, Y14, Y0, Y5 \
	VMINPS       Y13, Y0, Y0 \
	VMAXPS       Y14, Y0, Y0 \
	VMULPS       Y15, Y0, Y1 \
	VROUNDPS     $0, Y1, Y1 \
	VBROADCASTSS gexpc<>+4(SB), Y2 \
	VFNMADD231PS Y2, Y1, Y0 \
	VBROADCASTSS gexpc<>+8(SB), Y2 \
	VFNMADD231PS Y2, Y1, Y0 \
	VBROADCASTSS gexpc<>+12(SB), Y2 \
	VBROADCASTSS gexpc<>+16(SB), Y3 \
	VFMADD213PS  Y3, Y0, Y2 \
	VBROADCASTSS gexpc<>+20(SB), Y3 \
	VFMADD213PS  Y3, Y0, Y2 \
	VBROADCASTSS gexpc<>+24(SB), Y3 \
	VFMADD213PS  Y3, Y0, Y2 \
	VBROADCASTSS gexpc<>+28(SB), Y3 \
	VFMADD213PS  Y3, Y0, Y2 \
	VBROADCASTSS gexpc<>+32(SB), Y3 \
	VFMADD213PS  Y3, Y0, Y2 \
	VMULPS       Y0, Y0, Y3 \
	VFMADD213PS  Y0, Y3, Y2 \
	VADDPS       Y9, Y2, Y2 \
	VCVTPS2DQ    Y1, Y4 \
	VPBROADCASTD gexpc<>+48(SB), Y3 \
	VPADDD       Y3, Y4, Y4 \
	VPSLLD       $23, Y4, Y4 \
	VMULPS       Y4, Y2, Y2 \
	VANDNPS      Y2, Y5, Y2

#define EXPCONSTS \
	VBROADCASTSS gexpc<>+40(SB), Y13 \
	VBROADCASTSS gexpc<>+44(SB), Y14 \
	VBROADCASTSS gexpc<>+0(SB), Y15 \
	VBROADCASTSS gexpc<>+36(SB), Y9

// func geluFwdAVX2(out, in *float32, n int)
// out = x*sigmoid(2u) = x/(1+exp(-2u)), u = k(x + a x³); n a multiple of 8.
TEXT ·geluFwdAVX2(SB), NOSPLIT, $0-24
	MOVQ out+0(FP), DI
	MOVQ in+8(FP), SI
	MOVQ n+16(FP), CX
	EXPCONSTS
	VBROADCASTSS geluc<>+0(SB), Y10
	VBROADCASTSS geluc<>+12(SB), Y11

fwd:
	CMPQ        CX, $8
	JLT         fwddone
	VMOVUPS     (SI), Y6
	VMULPS      Y6, Y6, Y7
	VMULPS      Y6, Y7, Y7  // x³
	VFMADD213PS Y6, Y10, Y7 // x + a x³
	VMULPS      Y11, Y7, Y0 // -2u
	EXPY0
	VADDPS      Y9, Y2, Y2
	VDIVPS      Y2, Y6, Y6
	VMOVUPS     Y6, (DI)
	ADDQ        $32, SI
	ADDQ        $32, DI
	SUBQ        $8, CX
	JMP         fwd

fwddone:
	VZEROUPPER
	RET

// func geluBwdAVX2(dinp, in, dout *float32, n int)
// dinp += (s + 2x·u'·s·(e·s))·dout with e = exp(-2u), s = 1/(1+e),
// u' = k(1 + 3a x²); n a multiple of 8.
TEXT ·geluBwdAVX2(SB), NOSPLIT, $0-32
	MOVQ dinp+0(FP), DI
	MOVQ in+8(FP), SI
	MOVQ dout+16(FP), DX
	MOVQ n+24(FP), CX
	EXPCONSTS

bwd:
	CMPQ         CX, $8
	JLT          bwddone
	VMOVUPS      (SI), Y6
	VMULPS       Y6, Y6, Y7           // x²
	VMULPS       Y6, Y7, Y8           // x³
	VBROADCASTSS geluc<>+0(SB), Y12
	VFMADD213PS  Y6, Y12, Y8          // x + a x³
	VBROADCASTSS geluc<>+12(SB), Y12
	VMULPS       Y12, Y8, Y0          // -2u
	EXPY0                             // Y2 = e
	VADDPS       Y9, Y2, Y10
	VDIVPS       Y10, Y9, Y10         // s = 1/(1+e)
	VMULPS       Y10, Y2, Y2          // e·s
	VBROADCASTSS geluc<>+4(SB), Y12
	VFMADD213PS  Y9, Y12, Y7          // 1 + 3a x²
	VBROADCASTSS geluc<>+8(SB), Y12
	VMULPS       Y12, Y7, Y7          // u'
	VMULPS       Y6, Y7, Y7           // x·u'
	VBROADCASTSS geluc<>+16(SB), Y12
	VMULPS       Y12, Y7, Y7          // 2x·u'
	VMULPS       Y10, Y7, Y7          // ·s
	VMULPS       Y2, Y7, Y7           // ·(e·s)
	VADDPS       Y10, Y7, Y7          // + s
	VMOVUPS      (DX), Y11
	VMOVUPS      (DI), Y8
	VFMADD231PS  Y11, Y7, Y8          // dinp += term·dout
	VMOVUPS      Y8, (DI)
	ADDQ         $32, SI
	ADDQ         $32, DI
	ADDQ         $32, DX
	SUBQ         $8, CX
	JMP          bwd

bwddone:
	VZEROUPPER
	RET
