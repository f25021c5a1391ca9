//go:build !purego

#include "textflag.h"
#include "decode_amd64.h"

// Dot tiles for decode: out[i][j] = Σp x[i][p]·w[j][p] with every row
// contiguous in p. Each output keeps ONE 16-lane accumulator walked in p order
// and is reduced by the same tree in every kernel, so a row's result is
// bit-identical whether it is computed in a 4-row tile or alone.

// func dot4x4AVX512(k int, x *float32, ldx int, w *float32, ldw int, state *float32, mode int, out *float32, ldo int, pf *float32)
//
// One k-block of a 4×4 tile. The sixteen 16-lane accumulators start at zero
// (mode&1 == 0) or from state[:256] (mode&1 == 1), and end up back in state
// (mode&2 == 0) or reduced into out (mode&2 == 2). Splitting k into blocks
// keeps a block of every input row in L1 while the weight rows go by, and
// does not change any lane's order of additions. k is a positive multiple
// of 16. pf[:k] is prefetched along the way: the caller points it at a
// weight row it will need next, so that row streams in from memory while
// this tile computes from cache.
TEXT ·dot4x4AVX512(SB), NOSPLIT, $0-80
	MOVQ mode+48(FP), AX
	MOVQ state+40(FP), DI
	TESTQ $1, AX
	JNZ  loadState
	ZERO_ACC
	JMP  ready

loadState:
	LOAD_ACC(DI)

ready:
	MOVQ k+0(FP), CX
	SHLQ $2, CX
	MOVQ x+8(FP), SI
	MOVQ ldx+16(FP), R8
	SHLQ $2, R8
	LEAQ (SI)(R8*1), R12
	LEAQ (R12)(R8*1), R13
	LEAQ (R13)(R8*1), R8
	MOVQ w+24(FP), DX
	MOVQ ldw+32(FP), R9
	SHLQ $2, R9
	LEAQ (DX)(R9*1), R10
	LEAQ (R10)(R9*1), R11
	LEAQ (R11)(R9*1), BX
	MOVQ pf+72(FP), DI
	XORQ AX, AX

loop4:
	PREFETCHT0  (DI)(AX*1)
	VMOVUPS     (DX)(AX*1), Z16
	VMOVUPS     (R10)(AX*1), Z17
	VMOVUPS     (R11)(AX*1), Z18
	VMOVUPS     (BX)(AX*1), Z19
	VMOVUPS     (SI)(AX*1), Z20
	VFMADD231PS Z16, Z20, Z0
	VFMADD231PS Z17, Z20, Z1
	VFMADD231PS Z18, Z20, Z2
	VFMADD231PS Z19, Z20, Z3
	VMOVUPS     (R12)(AX*1), Z21
	VFMADD231PS Z16, Z21, Z4
	VFMADD231PS Z17, Z21, Z5
	VFMADD231PS Z18, Z21, Z6
	VFMADD231PS Z19, Z21, Z7
	VMOVUPS     (R13)(AX*1), Z22
	VFMADD231PS Z16, Z22, Z8
	VFMADD231PS Z17, Z22, Z9
	VFMADD231PS Z18, Z22, Z10
	VFMADD231PS Z19, Z22, Z11
	VMOVUPS     (R8)(AX*1), Z23
	VFMADD231PS Z16, Z23, Z12
	VFMADD231PS Z17, Z23, Z13
	VFMADD231PS Z18, Z23, Z14
	VFMADD231PS Z19, Z23, Z15
	ADDQ        $64, AX
	CMPQ        AX, CX
	JLT         loop4

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

// SEQF32 dots one whole weight row (at DX, advanced by a row) with x into
// the accumulator acc, prefetching the line 2 KB ahead in the weight stream
// (see SEQROW in decode_bf16_amd64.s).
#define SEQF32(acc, lbl) \
	XORQ        AX, AX; \
lbl: \
	PREFETCHT0  2048(DX)(AX*1); \
	VMOVUPS     (SI)(AX*1), Z20; \
	VFMADD231PS (DX)(AX*1), Z20, acc; \
	ADDQ        $64, AX; \
	CMPQ        AX, CX; \
	JLT         lbl; \
	ADDQ        R9, DX

// func dot1x4AVX512(k int, x *float32, w *float32, ldw, groups int, out *float32)
// For each of groups groups of four w rows (group g starts at row 4g):
// out[4g+j] = x[:k]·w[(4g+j)*ldw:][:k]. k is a positive multiple of 16,
// groups >= 1. One call covers a whole row of outputs: at one input row the
// work per group is small enough that per-call overhead would show. The
// rows are walked one after the other with a software prefetch, as in
// dot1x4BF16DP (two threads over a 176 MB f32 weight: 1.14x the four rows
// side by side per CPU-second, about a plain read's rate); each row keeps
// its one accumulator in k order, so the results are dot4x4AVX512's.
TEXT ·dot1x4AVX512(SB), NOSPLIT, $0-48
	MOVQ k+0(FP), CX
	SHLQ $2, CX
	MOVQ x+8(FP), SI
	MOVQ w+16(FP), DX
	MOVQ ldw+24(FP), R9
	SHLQ $2, R9
	MOVQ groups+32(FP), R8
	MOVQ out+40(FP), DI

group1:
	VXORPS Z0, Z0, Z0
	VXORPS Z1, Z1, Z1
	VXORPS Z2, Z2, Z2
	VXORPS Z3, Z3, Z3
	SEQF32(Z0, row0)
	SEQF32(Z1, row1)
	SEQF32(Z2, row2)
	SEQF32(Z3, row3)
	REDUCE4(Z0, Y0, X0, Z1, Y1, X1, Z2, Y2, Z3, Y3, (DI))
	ADDQ $16, DI
	DECQ R8
	JNZ  group1
	VZEROUPPER
	RET

// func axpyRowsAVX512(n, s int, p *float32, v *float32, ldv int, out *float32)
// out[:n] = Σ_{r<s} p[r]·v[r*ldv : r*ldv+n]; n is a positive multiple of 16, s >= 1.
TEXT ·axpyRowsAVX512(SB), NOSPLIT, $0-48
	MOVQ n+0(FP), CX
	MOVQ s+8(FP), R8
	MOVQ p+16(FP), SI
	MOVQ v+24(FP), DX
	MOVQ ldv+32(FP), R9
	SHLQ $2, R9
	MOVQ out+40(FP), DI

wide:
	// Columns in blocks of 64, two value rows per step into separate
	// accumulators: eight independent FMA chains instead of four.
	CMPQ   CX, $64
	JLT    narrow
	VXORPS Z0, Z0, Z0
	VXORPS Z1, Z1, Z1
	VXORPS Z2, Z2, Z2
	VXORPS Z3, Z3, Z3
	VXORPS Z4, Z4, Z4
	VXORPS Z5, Z5, Z5
	VXORPS Z6, Z6, Z6
	VXORPS Z7, Z7, Z7
	MOVQ   SI, AX
	MOVQ   DX, BX
	MOVQ   R8, R10

wideRow:
	CMPQ         R10, $2
	JLT          wideTail
	VBROADCASTSS (AX), Z8
	VBROADCASTSS 4(AX), Z9
	LEAQ         (BX)(R9*1), R11
	VFMADD231PS  (BX), Z8, Z0
	VFMADD231PS  64(BX), Z8, Z1
	VFMADD231PS  128(BX), Z8, Z2
	VFMADD231PS  192(BX), Z8, Z3
	VFMADD231PS  (R11), Z9, Z4
	VFMADD231PS  64(R11), Z9, Z5
	VFMADD231PS  128(R11), Z9, Z6
	VFMADD231PS  192(R11), Z9, Z7
	ADDQ         $8, AX
	LEAQ         (R11)(R9*1), BX
	SUBQ         $2, R10
	JMP          wideRow

wideTail:
	TESTQ        R10, R10
	JZ           wideStore
	VBROADCASTSS (AX), Z8
	VFMADD231PS  (BX), Z8, Z0
	VFMADD231PS  64(BX), Z8, Z1
	VFMADD231PS  128(BX), Z8, Z2
	VFMADD231PS  192(BX), Z8, Z3

wideStore:
	VADDPS  Z4, Z0, Z0
	VADDPS  Z5, Z1, Z1
	VADDPS  Z6, Z2, Z2
	VADDPS  Z7, Z3, Z3
	VMOVUPS Z0, (DI)
	VMOVUPS Z1, 64(DI)
	VMOVUPS Z2, 128(DI)
	VMOVUPS Z3, 192(DI)
	ADDQ    $256, DX
	ADDQ    $256, DI
	SUBQ    $64, CX
	JMP     wide

narrow:
	CMPQ   CX, $16
	JLT    done
	VXORPS Z0, Z0, Z0
	MOVQ   SI, AX
	MOVQ   DX, BX
	MOVQ   R8, R10

narrowRow:
	VBROADCASTSS (AX), Z8
	VFMADD231PS  (BX), Z8, Z0
	ADDQ         $4, AX
	ADDQ         R9, BX
	DECQ         R10
	JNZ          narrowRow
	VMOVUPS      Z0, (DI)
	ADDQ         $64, DX
	ADDQ         $64, DI
	SUBQ         $16, CX
	JMP          narrow

done:
	VZEROUPPER
	RET
