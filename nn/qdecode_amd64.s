//go:build !purego

#include "textflag.h"
#include "decode_amd64.h"

// One-row dot kernels over 8-bit and 4-bit weight rows (qdecode.go) that
// dequantise in registers: the weight bytes stream from memory once and
// never become an f32 tile in memory.

// I8_LINE adds 16·n int8 weights of one row (at (row)(AX*1)), each
// converted and scaled by sc exactly as dequantInt8AVX512 does, times x in
// Z20..Z23 into acc, in k order. Clobbers Z16–Z19.
#define I8_LINE(row, sc, acc) \
	VPMOVSXBD   (row)(AX*1), Z16; \
	VPMOVSXBD   16(row)(AX*1), Z17; \
	VPMOVSXBD   32(row)(AX*1), Z18; \
	VPMOVSXBD   48(row)(AX*1), Z19; \
	VCVTDQ2PS   Z16, Z16; \
	VCVTDQ2PS   Z17, Z17; \
	VCVTDQ2PS   Z18, Z18; \
	VCVTDQ2PS   Z19, Z19; \
	VMULPS      sc, Z16, Z16; \
	VMULPS      sc, Z17, Z17; \
	VMULPS      sc, Z18, Z18; \
	VMULPS      sc, Z19, Z19; \
	VFMADD231PS Z20, Z16, acc; \
	VFMADD231PS Z21, Z17, acc; \
	VFMADD231PS Z22, Z18, acc; \
	VFMADD231PS Z23, Z19, acc

// I8_STEP is I8_LINE for the 16 weights at (row)(AX*1) and x in Z20.
#define I8_STEP(row, sc, acc) \
	VPMOVSXBD   (row)(AX*1), Z16; \
	VCVTDQ2PS   Z16, Z16; \
	VMULPS      sc, Z16, Z16; \
	VFMADD231PS Z20, Z16, acc

// I8_PAIR dots two rows side by side, prefetching two lines a step in
// order from BX.
#define I8_PAIR(ra, rb, sa, sb, acca, accb, lbl, lblt, lbld) \
	XORQ         AX, AX; \
	CMPQ         R15, $0; \
	JEQ          lblt; \
lbl: \
	PREFETCHT0   (BX)(AX*2); \
	PREFETCHT0   64(BX)(AX*2); \
	VMOVUPS      (SI)(AX*4), Z20; \
	VMOVUPS      64(SI)(AX*4), Z21; \
	VMOVUPS      128(SI)(AX*4), Z22; \
	VMOVUPS      192(SI)(AX*4), Z23; \
	I8_LINE(ra, sa, acca); \
	I8_LINE(rb, sb, accb); \
	ADDQ         $64, AX; \
	CMPQ         AX, R15; \
	JLT          lbl; \
lblt: \
	CMPQ         AX, CX; \
	JGE          lbld; \
	VMOVUPS      (SI)(AX*4), Z20; \
	I8_STEP(ra, sa, acca); \
	I8_STEP(rb, sb, accb); \
	ADDQ         $16, AX; \
	JMP          lblt; \
lbld:

// func dot1x4Int8AVX512(k int, x *float32, w *byte, ldw, groups int, absmax *float32, out *float32)
//
// dot1x4AVX512 on int8 rows dequantised in registers: for each of groups
// groups of four rows (ldw bytes apart), out[4g+j] = x[:k]·(q·s) with
// q = w[(4g+j)*ldw:][:k] as int8 and s = absmax[4g+j]/127 (f32). Each weight
// is widened, converted and scaled exactly as dequantInt8AVX512 does, then
// added into one 16-lane accumulator per row in k order with dot1x4AVX512's
// FMA and reduction tree, so the result is bit-identical to dequantising the
// rows and calling dot1x4AVX512. k is a positive multiple of 16.
//
// Two rows go side by side, 64 weights of each per step, then the other
// two. A row's adds are a chain of dependent FMAs, four per 64 bytes of
// int8 (against one per 64 bytes of bf16), so one row at a time (as
// dot1x4BF16DP walks them) ran at the FMA latency: ~20 GB/s on a weight in
// L2, against ~40 with the chains side by side. More streams leave the
// hardware prefetcher behind, so each step also prefetches two lines, in
// order, from 4 KB past the start of the next pair. On a 128 MB weight, two
// cores, alternating order: two rows at a time 1.10× four at a time at
// k = 896 (one core 1.14×) and 0.97–0.99× at k = 4864; prefetching 2 or 8 KB
// ahead instead, 0.96×.
TEXT ·dot1x4Int8AVX512(SB), NOSPLIT, $0-56
	MOVQ         k+0(FP), CX
	MOVQ         CX, R15
	ANDQ         $-64, R15           // k in whole lines
	MOVQ         x+8(FP), SI
	MOVQ         w+16(FP), DX
	MOVQ         ldw+24(FP), R9
	MOVQ         groups+32(FP), R8
	MOVQ         absmax+40(FP), R13
	MOVQ         out+48(FP), DI
	MOVL         $0x42fe0000, AX     // 127.0
	VPBROADCASTD AX, Z28

i8group:
	VMOVSS       (R13), X24
	VDIVSS       X28, X24, X24
	VBROADCASTSS X24, Z24
	VMOVSS       4(R13), X25
	VDIVSS       X28, X25, X25
	VBROADCASTSS X25, Z25
	VMOVSS       8(R13), X26
	VDIVSS       X28, X26, X26
	VBROADCASTSS X26, Z26
	VMOVSS       12(R13), X27
	VDIVSS       X28, X27, X27
	VBROADCASTSS X27, Z27
	LEAQ         (DX)(R9*1), R10
	LEAQ         (R10)(R9*1), R11
	LEAQ         (R11)(R9*1), R12
	VXORPS       Z0, Z0, Z0
	VXORPS       Z1, Z1, Z1
	VXORPS       Z2, Z2, Z2
	VXORPS       Z3, Z3, Z3
	LEAQ         4096(R11), BX
	I8_PAIR(DX, R10, Z24, Z25, Z0, Z1, i8pa, i8pat, i8pad)
	LEAQ         4096(R12)(R9*1), BX
	I8_PAIR(R11, R12, Z26, Z27, Z2, Z3, i8pb, i8pbt, i8pbd)
	REDUCE4(Z0, Y0, X0, Z1, Y1, X1, Z2, Y2, Z3, Y3, (DI))
	LEAQ         (R12)(R9*1), DX     // the next group
	ADDQ         $16, R13
	ADDQ         $16, DI
	DECQ         R8
	JNZ          i8group
	VZEROUPPER
	RET

// Q4ROW dots one weight row's 64-element block with the block's input:
// the 32 bytes at (wr)(AX*1) hold 64 codes (the first of each byte in its
// high nibble). For each 16 elements, VPERMB copies each code's byte into
// the low byte of its own dword lane (Z25..Z28 are the byte indices),
// VPSRLVD brings the high nibble down in the even lanes (Z29: 4, 0, 4, 0,
// ...), and VPERMPS looks the low four bits up in tbl, the 16 levels times
// the row's block absmax: exactly the values dequant4 produces, in element
// order. Then acc += w·x, as dot1x4AVX512 does with x in Z20..Z23.
// Clobbers Z12, Z13. (REDUCE4 clobbers Z24, so the constants avoid it.)
#define Q4ROW(wr, tbl, acc) \
	VMOVDQU     (wr)(AX*1), Y12; \
	VPERMB      Z12, Z25, Z13; \
	VPSRLVD     Z29, Z13, Z13; \
	VPERMPS     tbl, Z13, Z13; \
	VFMADD231PS Z13, Z20, acc; \
	VPERMB      Z12, Z26, Z13; \
	VPSRLVD     Z29, Z13, Z13; \
	VPERMPS     tbl, Z13, Z13; \
	VFMADD231PS Z13, Z21, acc; \
	VPERMB      Z12, Z27, Z13; \
	VPSRLVD     Z29, Z13, Z13; \
	VPERMPS     tbl, Z13, Z13; \
	VFMADD231PS Z13, Z22, acc; \
	VPERMB      Z12, Z28, Z13; \
	VPSRLVD     Z29, Z13, Z13; \
	VPERMPS     tbl, Z13, Z13; \
	VFMADD231PS Z13, Z23, acc

// func dot1x4Q4VBMI(k int, x *float32, w *byte, ldw, groups int, absmax *float32, lda int, lv *[16]float32, c *[320]byte, out *float32)
//
// dot1x4AVX512 on 4-bit rows dequantised in registers (AVX512_VBMI's
// VPERMB): for each of groups groups of four rows (ldw bytes apart, each
// starting on a byte and a 64-element block boundary), out[4g+j] =
// x[:k]·(lv[code p of row 4g+j]·absmax[(4g+j)*lda + p/64]), each product
// and each add as dot1x4AVX512 makes them on the dequantised row, so the
// result is bit-identical to dequantising and calling it. c holds the
// VPERMB indices and the shift counts (q4Consts). k is a positive multiple
// of 64; lda counts floats.
TEXT ·dot1x4Q4VBMI(SB), NOSPLIT, $0-80
	MOVQ      k+0(FP), CX
	SHRQ      $1, CX                  // bytes per row
	MOVQ      x+8(FP), SI
	MOVQ      w+16(FP), DX
	MOVQ      ldw+24(FP), R9
	MOVQ      groups+32(FP), R8
	MOVQ      lda+48(FP), R14
	SHLQ      $2, R14                 // bytes between rows' absmax
	MOVQ      lv+56(FP), AX
	VMOVUPS   (AX), Z31
	MOVQ      c+64(FP), AX
	VMOVDQU64 (AX), Z25
	VMOVDQU64 64(AX), Z26
	VMOVDQU64 128(AX), Z27
	VMOVDQU64 192(AX), Z28
	VMOVDQU64 256(AX), Z29
	MOVQ      out+72(FP), DI

q4group:
	MOVQ   absmax+40(FP), R13
	LEAQ   (R13)(R14*2), R15
	ADDQ   R14, R15                 // row 3's absmax
	LEAQ   (DX)(R9*1), R10
	LEAQ   (R10)(R9*1), R11
	LEAQ   (R11)(R9*1), BX
	VXORPS Z0, Z0, Z0
	VXORPS Z1, Z1, Z1
	VXORPS Z2, Z2, Z2
	VXORPS Z3, Z3, Z3
	LEAQ   (BX)(R9*1), R12          // the next group, prefetched at 4x the pace
	XORQ   AX, AX

q4loop:
	PREFETCHT0   (R12)(AX*4)
	PREFETCHT0   64(R12)(AX*4)
	VBROADCASTSS (R13), Z8
	VBROADCASTSS (R13)(R14*1), Z9
	VBROADCASTSS (R13)(R14*2), Z10
	VBROADCASTSS (R15), Z11
	VMULPS       Z8, Z31, Z8
	VMULPS       Z9, Z31, Z9
	VMULPS       Z10, Z31, Z10
	VMULPS       Z11, Z31, Z11
	VMOVUPS      (SI)(AX*8), Z20
	VMOVUPS      64(SI)(AX*8), Z21
	VMOVUPS      128(SI)(AX*8), Z22
	VMOVUPS      192(SI)(AX*8), Z23
	Q4ROW(DX, Z8, Z0)
	Q4ROW(R10, Z9, Z1)
	Q4ROW(R11, Z10, Z2)
	Q4ROW(BX, Z11, Z3)
	ADDQ         $4, R13
	ADDQ         $4, R15
	ADDQ         $32, AX
	CMPQ         AX, CX
	JLT          q4loop

	REDUCE4(Z0, Y0, X0, Z1, Y1, X1, Z2, Y2, Z3, Y3, (DI))

	// Next group: four rows on, in the weight and in the absmaxes.
	MOVQ R12, DX
	MOVQ absmax+40(FP), R13
	LEAQ (R13)(R14*4), R13
	MOVQ R13, absmax+40(FP)
	ADDQ $16, DI
	DECQ R8
	JNZ  q4group
	VZEROUPPER
	RET

// VNNI_SEQROW dots one int8 row (at DX, k bytes) with the quantised input
// row (SI: q8Blocks) into acc, then moves DX to the next row. Per block of
// 64: the weight bytes XOR 0x80 are w+128 as unsigned bytes; VPDPBUSD sums
// (w+128)·xq in fours onto the block's −128·Σxq of the same four, which
// leaves the exact Σ w·xq per dword lane; that is converted and added to
// acc times the block's scale d. The prefetch 2 KB ahead (half a dozen
// rows of 896 at Qwen2.5-0.5B) measured 17–18 → 20–24 GB per CPU-second on
// a 117 MB weight (1 KB and 3 KB: 20–22); the hardware prefetcher alone
// falls behind. Clobbers Z16, Z17, R10, AX.
#define VNNI_SEQROW(acc, lbl) \
	MOVQ        SI, R10; \
	XORQ        AX, AX; \
lbl: \
	PREFETCHT0  2048(DX)(AX*1); \
	VPXORD      (DX)(AX*1), Z30, Z16; \
	VMOVDQU64   64(R10), Z17; \
	VPDPBUSD    (R10), Z16, Z17; \
	VCVTDQ2PS   Z17, Z17; \
	VFMADD231PS 128(R10), Z17, acc; \
	ADDQ        $192, R10; \
	ADDQ        $64, AX; \
	CMPQ        AX, CX; \
	JLT         lbl; \
	ADDQ        R9, DX

// func dot1x4Int8VNNI(k int, xa *q8Block, w *byte, ldw, groups int, absmax *float32, out *float32)
//
// The int8-activation product (qdecode_q8.go): for each of groups groups
// of four int8 rows (ldw bytes apart), out[4g+j] = (absmax[4g+j]/127)·
// Σ_b d_b·(Σ_{p in block b} w[p]·xq[p]) over blocks of 64 inputs, the inner
// sums exact in int32 (AVX512_VNNI's VPDPBUSD), the outer in f32 in 16
// lanes, reduced as dot1x4AVX512 reduces. xa holds k/64 q8Blocks (192
// bytes: the block's codes xq, its −128·(sum of each four codes) and d in
// all 16 lanes). The rows are walked one after the other (one sequential
// stream, as dot1x4BF16DP does). k is a positive multiple of 64.
TEXT ·dot1x4Int8VNNI(SB), NOSPLIT, $0-56
	MOVL         $0x80808080, AX
	VPBROADCASTD AX, Z30
	MOVL         $0x42fe0000, AX     // 127.0
	VPBROADCASTD AX, X28
	MOVQ         k+0(FP), CX
	MOVQ         xa+8(FP), SI
	MOVQ         w+16(FP), DX
	MOVQ         ldw+24(FP), R9
	MOVQ         groups+32(FP), R8
	MOVQ         absmax+40(FP), R13
	MOVQ         out+48(FP), DI

vnnigroup:
	VXORPS Z0, Z0, Z0
	VXORPS Z1, Z1, Z1
	VXORPS Z2, Z2, Z2
	VXORPS Z3, Z3, Z3
	VNNI_SEQROW(Z0, vnnirow0)
	VNNI_SEQROW(Z1, vnnirow1)
	VNNI_SEQROW(Z2, vnnirow2)
	VNNI_SEQROW(Z3, vnnirow3)
	REDUCE4(Z0, Y0, X0, Z1, Y1, X1, Z2, Y2, Z3, Y3, (DI))
	VMOVUPS (DI), X0
	VMOVUPS (R13), X1
	VDIVPS  X28, X1, X1
	VMULPS  X1, X0, X0
	VMOVUPS X0, (DI)
	ADDQ    $16, R13
	ADDQ    $16, DI
	DECQ    R8
	JNZ     vnnigroup
	VZEROUPPER
	RET

// func quantizeActAVX512(xa *q8Block, x *float32, nb int)
//
// quantizeAct's blocks in registers, bit for bit: the absmax as the
// largest magnitude's bits (VPMAXUD on |x|'s bits, as quantizeAct orders
// them, a NaN above +Inf), d = m/127, inv = 127/m unless m is zero, Inf or
// NaN (then every code is 0), the codes x·inv rounded to nearest even
// (VCVTPS2DQ under the default rounding; Inf and NaN become MinInt32 as
// Go's conversion makes them) and clamped to ±127, and corr from the codes
// with VPDPBUSD against bytes of 1. nb is a positive block count.
TEXT ·quantizeActAVX512(SB), NOSPLIT, $0-24
	MOVQ         xa+0(FP), DI
	MOVQ         x+8(FP), SI
	MOVQ         nb+16(FP), CX
	MOVL         $0x7fffffff, AX
	VPBROADCASTD AX, Z31
	MOVL         $0x01010101, AX
	VPBROADCASTD AX, Z30
	MOVL         $-127, AX
	VPBROADCASTD AX, Z29
	MOVL         $127, AX
	VPBROADCASTD AX, Z28
	MOVL         $0x42fe0000, AX     // 127.0
	VMOVD        AX, X27

qablock:
	VMOVUPS       (SI), Z0
	VMOVUPS       64(SI), Z1
	VMOVUPS       128(SI), Z2
	VMOVUPS       192(SI), Z3
	VPANDD        Z31, Z0, Z4
	VPANDD        Z31, Z1, Z5
	VPANDD        Z31, Z2, Z6
	VPANDD        Z31, Z3, Z7
	VPMAXUD       Z5, Z4, Z4
	VPMAXUD       Z7, Z6, Z6
	VPMAXUD       Z6, Z4, Z4
	VEXTRACTI64X4 $1, Z4, Y5
	VPMAXUD       Y5, Y4, Y4
	VEXTRACTI128  $1, Y4, X5
	VPMAXUD       X5, X4, X4
	VPSHUFD       $0x4e, X4, X5
	VPMAXUD       X5, X4, X4
	VPSHUFD       $0xb1, X4, X5
	VPMAXUD       X5, X4, X4         // m's bits in every lane
	VDIVSS        X27, X4, X8        // d = m/127
	VBROADCASTSS  X8, Z8
	VMOVUPS       Z8, 128(DI)
	VMOVD         X4, AX
	TESTL         AX, AX
	JZ            qazero
	CMPL          AX, $0x7f7fffff
	JHI           qazero             // Inf or NaN
	VDIVSS        X4, X27, X9        // inv = 127/m
	VBROADCASTSS  X9, Z9
	VMULPS        Z9, Z0, Z0
	VMULPS        Z9, Z1, Z1
	VMULPS        Z9, Z2, Z2
	VMULPS        Z9, Z3, Z3
	VCVTPS2DQ     Z0, Z0
	VCVTPS2DQ     Z1, Z1
	VCVTPS2DQ     Z2, Z2
	VCVTPS2DQ     Z3, Z3
	VPMAXSD       Z29, Z0, Z0
	VPMAXSD       Z29, Z1, Z1
	VPMAXSD       Z29, Z2, Z2
	VPMAXSD       Z29, Z3, Z3
	VPMINSD       Z28, Z0, Z0
	VPMINSD       Z28, Z1, Z1
	VPMINSD       Z28, Z2, Z2
	VPMINSD       Z28, Z3, Z3
	VPMOVSDB      Z0, (DI)
	VPMOVSDB      Z1, 16(DI)
	VPMOVSDB      Z2, 32(DI)
	VPMOVSDB      Z3, 48(DI)
	JMP           qacorr

qazero:
	VPXORD    Z0, Z0, Z0
	VMOVDQU64 Z0, (DI)

qacorr:
	VMOVDQU64 (DI), Z10
	VPXORD    Z11, Z11, Z11
	VPDPBUSD  Z10, Z30, Z11          // the sum of each four codes
	VPSLLD    $7, Z11, Z11
	VPXORD    Z12, Z12, Z12
	VPSUBD    Z11, Z12, Z11          // −128 times it
	VMOVDQU32 Z11, 64(DI)
	ADDQ      $256, SI
	ADDQ      $192, DI
	DECQ      CX
	JNZ       qablock
	VZEROUPPER
	RET
