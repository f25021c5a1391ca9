//go:build !purego

#include "textflag.h"
#include "decode_amd64.h"

// Dot tiles over bfloat16 weight rows (decode with bf16 weights), in the
// layout and with the accumulation rules of decode_amd64.s: one 16-lane f32
// accumulator per output walked in p order, one reduction tree, so a row's
// result does not depend on the other rows of the batch.
//
// Two families: *DP use AVX512_BF16's VDPBF16PS on bf16 inputs (x rounded to
// bf16 once per Linear, two products per lane per instruction, f32 sums);
// *Cvt widen each bf16 weight to f32 (a zero-extend and a shift: bf16 is the
// top half of an f32) and use f32 FMAs with the f32 inputs.

// DPBF emits VDPBF16PS (Go's assembler lacks AVX512_BF16) in its register
// form Zd += Σpairs Zx·Zw; p1, p2 and the ModRM byte select the registers
// (bytes taken from GNU as).
#define DPBF(p1, p2, modrm) BYTE $0x62; BYTE $p1; BYTE $p2; BYTE $0x40; BYTE $0x52; BYTE $modrm

// DPROWi: accumulators Z(4i)..Z(4i+3) += x register Z(20+i) · Z16..Z19.
#define DPROW0 DPBF(0xb2, 0x5e, 0xc0); DPBF(0xb2, 0x5e, 0xc9); DPBF(0xb2, 0x5e, 0xd2); DPBF(0xb2, 0x5e, 0xdb)
#define DPROW1 DPBF(0xb2, 0x56, 0xe0); DPBF(0xb2, 0x56, 0xe9); DPBF(0xb2, 0x56, 0xf2); DPBF(0xb2, 0x56, 0xfb)
#define DPROW2 DPBF(0x32, 0x4e, 0xc0); DPBF(0x32, 0x4e, 0xc9); DPBF(0x32, 0x4e, 0xd2); DPBF(0x32, 0x4e, 0xdb)
#define DPROW3 DPBF(0x32, 0x46, 0xe0); DPBF(0x32, 0x46, 0xe9); DPBF(0x32, 0x46, 0xf2); DPBF(0x32, 0x46, 0xfb)

// FMAROW is the f32 counterpart for the Cvt kernels.
#define FMAROW(x, a, b, c, d) VFMADD231PS Z16, x, a; VFMADD231PS Z17, x, b; VFMADD231PS Z18, x, c; VFMADD231PS Z19, x, d

// WIDEN4 loads 16 bf16 weights from each of the four weight rows at offset
// AX and widens them to f32 in Z16..Z19.
#define WIDEN4 \
	VPMOVZXWD (DX)(AX*1), Z16; \
	VPMOVZXWD (R10)(AX*1), Z17; \
	VPMOVZXWD (R11)(AX*1), Z18; \
	VPMOVZXWD (BX)(AX*1), Z19; \
	VPSLLD    $16, Z16, Z16; \
	VPSLLD    $16, Z17, Z17; \
	VPSLLD    $16, Z18, Z18; \
	VPSLLD    $16, Z19, Z19

// func dot4x4BF16DP(k int, x *uint16, ldx int, w *uint16, ldw int, state *float32, mode int, out *float32, ldo int, pf *uint16)
//
// dot4x4AVX512 (decode_amd64.s) for bf16 x and w; k is a positive multiple
// of 32.
TEXT ·dot4x4BF16DP(SB), NOSPLIT, $0-80
	MOVQ  mode+48(FP), AX
	MOVQ  state+40(FP), DI
	TESTQ $1, AX
	JNZ   loadState
	ZERO_ACC
	JMP   ready

loadState:
	LOAD_ACC(DI)

ready:
	MOVQ k+0(FP), CX
	SHLQ $1, CX
	MOVQ x+8(FP), SI
	MOVQ ldx+16(FP), R8
	SHLQ $1, R8
	LEAQ (SI)(R8*1), R12
	LEAQ (R12)(R8*1), R13
	LEAQ (R13)(R8*1), R8
	MOVQ w+24(FP), DX
	MOVQ ldw+32(FP), R9
	SHLQ $1, R9
	LEAQ (DX)(R9*1), R10
	LEAQ (R10)(R9*1), R11
	LEAQ (R11)(R9*1), BX
	MOVQ pf+72(FP), DI
	XORQ AX, AX

loop:
	PREFETCHT0 (DI)(AX*1)
	VMOVDQU16  (DX)(AX*1), Z16
	VMOVDQU16  (R10)(AX*1), Z17
	VMOVDQU16  (R11)(AX*1), Z18
	VMOVDQU16  (BX)(AX*1), Z19
	VMOVDQU16  (SI)(AX*1), Z20
	DPROW0
	VMOVDQU16  (R12)(AX*1), Z21
	DPROW1
	VMOVDQU16  (R13)(AX*1), Z22
	DPROW2
	VMOVDQU16  (R8)(AX*1), Z23
	DPROW3
	ADDQ       $64, AX
	CMPQ       AX, CX
	JLT        loop

	MOVQ  mode+48(FP), AX
	TESTQ $2, AX
	JNZ   finish
	MOVQ  state+40(FP), DI
	STORE_ACC(DI)
	VZEROUPPER
	RET

finish:
	MOVQ out+56(FP), DI
	MOVQ ldo+64(FP), R9
	SHLQ $2, R9
	REDUCE_TILE(DI, R9)
	VZEROUPPER
	RET

// SEQROW dots one whole weight row (at DX, advanced by a row) with x into
// one accumulator: reg receives the weights, enc is the DPBF ModRM byte for
// acc += Z20·reg. Each iteration prefetches the line 2 KB ahead in the
// weight stream (into the next row or group: the rows are contiguous): the
// hardware prefetcher alone kept too few lines in flight, and with both
// cores streaming the kernel drew ~0.8 of a plain read's GB per CPU-second;
// 2 KB ahead it matches the read (1, 2, 4, 8 and 16 KB measured: 2-4 KB
// best; prefetching past the end of the weight is harmless). The prefetch
// is non-temporal: each weight line is read once, and PREFETCHT0 let the
// stream push x (9.7 KB at in-width 4,864) out of L1. In the whole 0.5B
// step (bench/decode -regions, alternated builds) NTA took 5 of 6 pairs,
// median +6% tokens/s, the down projection most.
#define SEQROW(reg, enc, lbl) \
	XORQ       AX, AX; \
lbl: \
	PREFETCHNTA 2048(DX)(AX*1); \
	VMOVDQU16 (SI)(AX*1), Z20; \
	VMOVDQU16 (DX)(AX*1), reg; \
	DPBF(0xb2, 0x5e, enc); \
	ADDQ      $64, AX; \
	CMPQ      AX, CX; \
	JLT       lbl; \
	ADDQ      R9, DX

// func dot1x4BF16DP(k int, x *uint16, w *uint16, ldw, groups int, out *float32)
//
// dot1x4AVX512 for bf16 x and w; k is a positive multiple of 32. The four
// rows of a group are walked one after the other, not side by side: the
// rows are contiguous, so the weight streams as one sequential read, which
// the hardware prefetcher follows closer to the machine's read bandwidth
// than four interleaved streams (a 256 MB [OC, 896] weight, one core: 0.88
// of a plain streaming read's GB per CPU-second, against 0.77 side by
// side). Each row still has its one accumulator walked in k order, so the
// results are those of the side-by-side tiles bit for bit.
TEXT ·dot1x4BF16DP(SB), NOSPLIT, $0-48
	MOVQ k+0(FP), CX
	SHLQ $1, CX
	MOVQ x+8(FP), SI
	MOVQ w+16(FP), DX
	MOVQ ldw+24(FP), R9
	SHLQ $1, R9
	MOVQ groups+32(FP), R8
	MOVQ out+40(FP), DI

group:
	VXORPS Z0, Z0, Z0
	VXORPS Z1, Z1, Z1
	VXORPS Z2, Z2, Z2
	VXORPS Z3, Z3, Z3
	SEQROW(Z16, 0xc0, row0)
	SEQROW(Z17, 0xc9, row1)
	SEQROW(Z18, 0xd2, row2)
	SEQROW(Z19, 0xdb, row3)
	REDUCE4(Z0, Y0, X0, Z1, Y1, X1, Z2, Y2, Z3, Y3, (DI))
	ADDQ $16, DI
	DECQ R8
	JNZ  group
	VZEROUPPER
	RET

// func dot4x4BF16Cvt(k int, x *float32, ldx int, w *uint16, ldw int, state *float32, mode int, out *float32, ldo int, pf *uint16)
//
// dot4x4AVX512 for f32 x and bf16 w (widened in registers); k is a positive
// multiple of 16. AX walks the weight bytes; x is at twice that offset.
TEXT ·dot4x4BF16Cvt(SB), NOSPLIT, $0-80
	MOVQ  mode+48(FP), AX
	MOVQ  state+40(FP), DI
	TESTQ $1, AX
	JNZ   loadState
	ZERO_ACC
	JMP   ready

loadState:
	LOAD_ACC(DI)

ready:
	MOVQ k+0(FP), CX
	SHLQ $1, CX
	MOVQ x+8(FP), SI
	MOVQ ldx+16(FP), R8
	SHLQ $2, R8
	LEAQ (SI)(R8*1), R12
	LEAQ (R12)(R8*1), R13
	LEAQ (R13)(R8*1), R8
	MOVQ w+24(FP), DX
	MOVQ ldw+32(FP), R9
	SHLQ $1, R9
	LEAQ (DX)(R9*1), R10
	LEAQ (R10)(R9*1), R11
	LEAQ (R11)(R9*1), BX
	MOVQ pf+72(FP), DI
	XORQ AX, AX

loop:
	PREFETCHT0 (DI)(AX*1)
	WIDEN4
	VMOVUPS    (SI)(AX*2), Z20
	FMAROW(Z20, Z0, Z1, Z2, Z3)
	VMOVUPS    (R12)(AX*2), Z21
	FMAROW(Z21, Z4, Z5, Z6, Z7)
	VMOVUPS    (R13)(AX*2), Z22
	FMAROW(Z22, Z8, Z9, Z10, Z11)
	VMOVUPS    (R8)(AX*2), Z23
	FMAROW(Z23, Z12, Z13, Z14, Z15)
	ADDQ       $32, AX
	CMPQ       AX, CX
	JLT        loop

	MOVQ  mode+48(FP), AX
	TESTQ $2, AX
	JNZ   finish
	MOVQ  state+40(FP), DI
	STORE_ACC(DI)
	VZEROUPPER
	RET

finish:
	MOVQ out+56(FP), DI
	MOVQ ldo+64(FP), R9
	SHLQ $2, R9
	REDUCE_TILE(DI, R9)
	VZEROUPPER
	RET

// SEQCVT is SEQROW for the Cvt kernel: one whole weight row (at DX,
// advanced by a row) widened 16 weights at a time and dotted with the f32 x
// (AX walks the weight bytes; x is at twice that offset) into acc, with the
// same 2 KB prefetch.
#define SEQCVT(acc, lbl) \
	XORQ        AX, AX; \
lbl: \
	PREFETCHT0  2048(DX)(AX*1); \
	VPMOVZXWD   (DX)(AX*1), Z16; \
	VPSLLD      $16, Z16, Z16; \
	VFMADD231PS (SI)(AX*2), Z16, acc; \
	ADDQ        $32, AX; \
	CMPQ        AX, CX; \
	JLT         lbl; \
	ADDQ        R9, DX

// func dot1x4BF16Cvt(k int, x *float32, w *uint16, ldw, groups int, out *float32)
//
// dot1x4AVX512 for f32 x and bf16 w; k is a positive multiple of 16. Rows
// one after the other with a prefetch, as dot1x4BF16DP (two threads over a
// 176 MB weight: 1.54x the four rows side by side per CPU-second, whose
// four streams stalled it); each row's one accumulator in k order, so the
// results are dot4x4BF16Cvt's bit for bit.
TEXT ·dot1x4BF16Cvt(SB), NOSPLIT, $0-48
	MOVQ k+0(FP), CX
	SHLQ $1, CX
	MOVQ x+8(FP), SI
	MOVQ w+16(FP), DX
	MOVQ ldw+24(FP), R9
	SHLQ $1, R9
	MOVQ groups+32(FP), R8
	MOVQ out+40(FP), DI

group:
	VXORPS Z0, Z0, Z0
	VXORPS Z1, Z1, Z1
	VXORPS Z2, Z2, Z2
	VXORPS Z3, Z3, Z3
	SEQCVT(Z0, row0)
	SEQCVT(Z1, row1)
	SEQCVT(Z2, row2)
	SEQCVT(Z3, row3)
	REDUCE4(Z0, Y0, X0, Z1, Y1, X1, Z2, Y2, Z3, Y3, (DI))
	ADDQ $16, DI
	DECQ R8
	JNZ  group
	VZEROUPPER
	RET
