//go:build !purego

#include "textflag.h"
#include "decode_wide_amd64.h"

// Wide decode tiles (decode_wide.go): c[r][col] (+)= Σ_{p<k} w[r*ldw+p]·xt[p*W+col]
// for 12 weight rows r read in place (torch's [out,in] layout) and W = 32 or
// 16 columns of a packed, transposed input panel xt[k][W]. Per p: one or two
// 16-lane loads of the panel, one broadcast from each weight row, 24 (12)
// FMAs into Z0–Z23 (Z0–Z11). Each output is one FMA chain in p order, so
// splitting k into blocks does not change a result.
//
// Registers and shared macros: decode_wide_amd64.h.

// ROW32 and ROW16: one weight row's broadcast and FMAs at one p.
#define ROW32(addr, zb, za, zc) \
	VBROADCASTSS addr, zb; \
	VFMADD231PS  Z24, zb, za; \
	VFMADD231PS  Z25, zb, zc

#define ROW16(addr, zb, za) \
	VBROADCASTSS addr, zb; \
	VFMADD231PS  Z24, zb, za

// STEP32(wo, xo, xo2): one p of the 12×32 tile, weights at byte offset wo,
// panel row at xo (and xo2 = xo+64).
#define STEP32(wo, xo, xo2) \
	VMOVUPS xo(DX), Z24; \
	VMOVUPS xo2(DX), Z25; \
	ROW32(W0(wo), Z26, Z0, Z1); \
	ROW32(W1(wo), Z27, Z2, Z3); \
	ROW32(W2(wo), Z26, Z4, Z5); \
	ROW32(W3(wo), Z27, Z6, Z7); \
	ROW32(W4(wo), Z26, Z8, Z9); \
	ROW32(W5(wo), Z27, Z10, Z11); \
	ROW32(W6(wo), Z26, Z12, Z13); \
	ROW32(W7(wo), Z27, Z14, Z15); \
	ROW32(W8(wo), Z26, Z16, Z17); \
	ROW32(W9(wo), Z27, Z18, Z19); \
	ROW32(W10(wo), Z26, Z20, Z21); \
	ROW32(W11(wo), Z27, Z22, Z23)

#define STEP16(wo, xo) \
	VMOVUPS xo(DX), Z24; \
	ROW16(W0(wo), Z26, Z0); \
	ROW16(W1(wo), Z27, Z1); \
	ROW16(W2(wo), Z26, Z2); \
	ROW16(W3(wo), Z27, Z3); \
	ROW16(W4(wo), Z26, Z4); \
	ROW16(W5(wo), Z27, Z5); \
	ROW16(W6(wo), Z26, Z6); \
	ROW16(W7(wo), Z27, Z7); \
	ROW16(W8(wo), Z26, Z8); \
	ROW16(W9(wo), Z27, Z9); \
	ROW16(W10(wo), Z26, Z10); \
	ROW16(W11(wo), Z27, Z11)

// func decW12x32AVX512(k int, w *float32, ldw int, xt *float32, c *float32, acc int, pf *float32)
//
// The accumulators start at zero (acc == 0) or from c (acc != 0) and end in
// c, which is [12][32] floats. k >= 0.
TEXT ·decW12x32AVX512(SB), NOSPLIT, $0-56
	MOVQ  c+32(FP), DI
	MOVQ  acc+40(FP), BX
	TESTQ BX, BX
	JNZ   load
	ZERO_ACC32
	JMP   ready

load:
	LOAD_ACC32

ready:
	WIDE_SETUP
	CMPQ CX, $4
	JLT  tail

loop4:
	WIDE_PREFETCH
	STEP32(0, 0, 64)
	STEP32(4, 128, 192)
	STEP32(8, 256, 320)
	STEP32(12, 384, 448)
	ADDQ $16, AX
	ADDQ $16, SI
	ADDQ $512, DX
	SUBQ $4, CX
	CMPQ CX, $4
	JGE  loop4

tail:
	TESTQ CX, CX
	JZ    store

tail1:
	STEP32(0, 0, 64)
	ADDQ $4, AX
	ADDQ $4, SI
	ADDQ $128, DX
	DECQ CX
	JNZ  tail1

store:
	STORE_ACC32
	VZEROUPPER
	RET

// func decW12x16AVX512(k int, w *float32, ldw int, xt *float32, c *float32, acc int, pf *float32)
//
// decW12x32AVX512 for a panel of 16 columns: c's rows are still 32 floats
// apart, of which the first 16 are used.
TEXT ·decW12x16AVX512(SB), NOSPLIT, $0-56
	MOVQ  c+32(FP), DI
	MOVQ  acc+40(FP), BX
	TESTQ BX, BX
	JNZ   load
	ZERO_ACC16
	JMP   ready

load:
	LOAD_ACC16

ready:
	WIDE_SETUP
	CMPQ CX, $4
	JLT  tail

loop4:
	WIDE_PREFETCH
	STEP16(0, 0)
	STEP16(4, 64)
	STEP16(8, 128)
	STEP16(12, 192)
	ADDQ $16, AX
	ADDQ $16, SI
	ADDQ $256, DX
	SUBQ $4, CX
	CMPQ CX, $4
	JGE  loop4

tail:
	TESTQ CX, CX
	JZ    store

tail1:
	STEP16(0, 0)
	ADDQ $4, AX
	ADDQ $4, SI
	ADDQ $64, DX
	DECQ CX
	JNZ  tail1

store:
	STORE_ACC16
	VZEROUPPER
	RET

// TRANSPOSE16 transposes the 16×16 block in Z0–Z15 (row i in Zi) in place
// (column j ends in Zj), through Z16–Z31: unpack pairs of singles, then of
// doubles, then two rounds of 128-bit lane shuffles.
#define TRANSPOSE16 \
	VUNPCKLPS  Z1, Z0, Z16; \
	VUNPCKHPS  Z1, Z0, Z17; \
	VUNPCKLPS  Z3, Z2, Z18; \
	VUNPCKHPS  Z3, Z2, Z19; \
	VUNPCKLPS  Z5, Z4, Z20; \
	VUNPCKHPS  Z5, Z4, Z21; \
	VUNPCKLPS  Z7, Z6, Z22; \
	VUNPCKHPS  Z7, Z6, Z23; \
	VUNPCKLPS  Z9, Z8, Z24; \
	VUNPCKHPS  Z9, Z8, Z25; \
	VUNPCKLPS  Z11, Z10, Z26; \
	VUNPCKHPS  Z11, Z10, Z27; \
	VUNPCKLPS  Z13, Z12, Z28; \
	VUNPCKHPS  Z13, Z12, Z29; \
	VUNPCKLPS  Z15, Z14, Z30; \
	VUNPCKHPS  Z15, Z14, Z31; \
	VUNPCKLPD  Z18, Z16, Z0; \
	VUNPCKHPD  Z18, Z16, Z1; \
	VUNPCKLPD  Z19, Z17, Z2; \
	VUNPCKHPD  Z19, Z17, Z3; \
	VUNPCKLPD  Z22, Z20, Z4; \
	VUNPCKHPD  Z22, Z20, Z5; \
	VUNPCKLPD  Z23, Z21, Z6; \
	VUNPCKHPD  Z23, Z21, Z7; \
	VUNPCKLPD  Z26, Z24, Z8; \
	VUNPCKHPD  Z26, Z24, Z9; \
	VUNPCKLPD  Z27, Z25, Z10; \
	VUNPCKHPD  Z27, Z25, Z11; \
	VUNPCKLPD  Z30, Z28, Z12; \
	VUNPCKHPD  Z30, Z28, Z13; \
	VUNPCKLPD  Z31, Z29, Z14; \
	VUNPCKHPD  Z31, Z29, Z15; \
	VSHUFF32X4 $0x88, Z4, Z0, Z16; \
	VSHUFF32X4 $0xdd, Z4, Z0, Z17; \
	VSHUFF32X4 $0x88, Z12, Z8, Z18; \
	VSHUFF32X4 $0xdd, Z12, Z8, Z19; \
	VSHUFF32X4 $0x88, Z5, Z1, Z20; \
	VSHUFF32X4 $0xdd, Z5, Z1, Z21; \
	VSHUFF32X4 $0x88, Z13, Z9, Z22; \
	VSHUFF32X4 $0xdd, Z13, Z9, Z23; \
	VSHUFF32X4 $0x88, Z6, Z2, Z24; \
	VSHUFF32X4 $0xdd, Z6, Z2, Z25; \
	VSHUFF32X4 $0x88, Z14, Z10, Z26; \
	VSHUFF32X4 $0xdd, Z14, Z10, Z27; \
	VSHUFF32X4 $0x88, Z7, Z3, Z28; \
	VSHUFF32X4 $0xdd, Z7, Z3, Z29; \
	VSHUFF32X4 $0x88, Z15, Z11, Z30; \
	VSHUFF32X4 $0xdd, Z15, Z11, Z31; \
	VSHUFF32X4 $0x88, Z18, Z16, Z0; \
	VSHUFF32X4 $0xdd, Z18, Z16, Z8; \
	VSHUFF32X4 $0x88, Z19, Z17, Z4; \
	VSHUFF32X4 $0xdd, Z19, Z17, Z12; \
	VSHUFF32X4 $0x88, Z22, Z20, Z1; \
	VSHUFF32X4 $0xdd, Z22, Z20, Z9; \
	VSHUFF32X4 $0x88, Z23, Z21, Z5; \
	VSHUFF32X4 $0xdd, Z23, Z21, Z13; \
	VSHUFF32X4 $0x88, Z26, Z24, Z2; \
	VSHUFF32X4 $0xdd, Z26, Z24, Z10; \
	VSHUFF32X4 $0x88, Z27, Z25, Z6; \
	VSHUFF32X4 $0xdd, Z27, Z25, Z14; \
	VSHUFF32X4 $0x88, Z30, Z28, Z3; \
	VSHUFF32X4 $0xdd, Z30, Z28, Z11; \
	VSHUFF32X4 $0x88, Z31, Z29, Z7; \
	VSHUFF32X4 $0xdd, Z31, Z29, Z15

// func packXT16AVX512(k16 int, x *float32, ldx int, dst *float32, ldd int)
//
// Transposes 16 input rows x[i*ldx:][:16*k16] (i < 16) into
// dst[p*ldd+i] = x[i*ldx+p]: per block of 16 p, sixteen row loads,
// TRANSPOSE16 and sixteen 64-byte stores. k16 >= 1.
TEXT ·packXT16AVX512(SB), NOSPLIT, $0-40
	MOVQ k16+0(FP), CX
	MOVQ x+8(FP), SI
	MOVQ ldx+16(FP), R8
	SHLQ $2, R8
	LEAQ (R8)(R8*2), R9  // 3 rows
	LEAQ (R8)(R8*4), R10 // 5 rows
	LEAQ (R9)(R8*4), R11 // 7 rows
	MOVQ dst+24(FP), DI
	MOVQ ldd+32(FP), DX
	SHLQ $2, DX
	LEAQ (DX)(DX*2), R12  // 3 lines
	LEAQ (DX)(DX*4), R13  // 5 lines
	LEAQ (R12)(DX*4), R14 // 7 lines

block:
	LEAQ    (SI)(R8*8), BX // row 8
	VMOVUPS (SI), Z0
	VMOVUPS (SI)(R8*1), Z1
	VMOVUPS (SI)(R8*2), Z2
	VMOVUPS (SI)(R9*1), Z3
	VMOVUPS (SI)(R8*4), Z4
	VMOVUPS (SI)(R10*1), Z5
	VMOVUPS (SI)(R9*2), Z6
	VMOVUPS (SI)(R11*1), Z7
	VMOVUPS (BX), Z8
	VMOVUPS (BX)(R8*1), Z9
	VMOVUPS (BX)(R8*2), Z10
	VMOVUPS (BX)(R9*1), Z11
	VMOVUPS (BX)(R8*4), Z12
	VMOVUPS (BX)(R10*1), Z13
	VMOVUPS (BX)(R9*2), Z14
	VMOVUPS (BX)(R11*1), Z15
	TRANSPOSE16
	VMOVUPS Z0, (DI)
	VMOVUPS Z1, (DI)(DX*1)
	VMOVUPS Z2, (DI)(DX*2)
	VMOVUPS Z3, (DI)(R12*1)
	VMOVUPS Z4, (DI)(DX*4)
	VMOVUPS Z5, (DI)(R13*1)
	VMOVUPS Z6, (DI)(R12*2)
	VMOVUPS Z7, (DI)(R14*1)
	LEAQ    (DI)(DX*8), DI
	VMOVUPS Z8, (DI)
	VMOVUPS Z9, (DI)(DX*1)
	VMOVUPS Z10, (DI)(DX*2)
	VMOVUPS Z11, (DI)(R12*1)
	VMOVUPS Z12, (DI)(DX*4)
	VMOVUPS Z13, (DI)(R13*1)
	VMOVUPS Z14, (DI)(R12*2)
	VMOVUPS Z15, (DI)(R14*1)
	LEAQ    (DI)(DX*8), DI
	ADDQ    $64, SI
	DECQ    CX
	JNZ     block
	VZEROUPPER
	RET

// STORE_COL(z, j) adds the bias (Z16) to column j of the transposed tile and
// writes its twelve rows at DI, then moves DI to the next output row; after
// column j it stops once n (CX) columns are written.
#define STORE_COL(z, j) \
	VADDPS  Z16, z, z; \
	VMOVUPS z, K1, (DI); \
	ADDQ    DX, DI; \
	CMPQ    CX, $j; \
	JLE     done

// func wideStoreT(c *float32, n int, out *float32, ldo int, bias *float32)
//
// Writes a finished tile transposed: out[i*ldo+r] = c[r*32+i] + bias[r] for
// r < 12, i < n (1 <= n <= 32); bias nil adds zeros. Per half of 16
// columns: twelve row loads and four zero rows, TRANSPOSE16, and one
// 12-lane masked store per column.
TEXT ·wideStoreT(SB), NOSPLIT, $0-40
	MOVQ  c+0(FP), SI
	MOVQ  n+8(FP), CX
	MOVQ  out+16(FP), DI
	MOVQ  ldo+24(FP), DX
	SHLQ  $2, DX
	MOVQ  bias+32(FP), BX
	MOVL  $0xfff, AX
	KMOVW AX, K1

half:
	VMOVUPS 0(SI), Z0
	VMOVUPS 128(SI), Z1
	VMOVUPS 256(SI), Z2
	VMOVUPS 384(SI), Z3
	VMOVUPS 512(SI), Z4
	VMOVUPS 640(SI), Z5
	VMOVUPS 768(SI), Z6
	VMOVUPS 896(SI), Z7
	VMOVUPS 1024(SI), Z8
	VMOVUPS 1152(SI), Z9
	VMOVUPS 1280(SI), Z10
	VMOVUPS 1408(SI), Z11
	VXORPS  Z12, Z12, Z12
	VXORPS  Z13, Z13, Z13
	VXORPS  Z14, Z14, Z14
	VXORPS  Z15, Z15, Z15
	TRANSPOSE16
	VXORPS  Z16, Z16, Z16
	TESTQ   BX, BX
	JZ      cols
	VMOVUPS.Z (BX), K1, Z16

cols:
	STORE_COL(Z0, 1)
	STORE_COL(Z1, 2)
	STORE_COL(Z2, 3)
	STORE_COL(Z3, 4)
	STORE_COL(Z4, 5)
	STORE_COL(Z5, 6)
	STORE_COL(Z6, 7)
	STORE_COL(Z7, 8)
	STORE_COL(Z8, 9)
	STORE_COL(Z9, 10)
	STORE_COL(Z10, 11)
	STORE_COL(Z11, 12)
	STORE_COL(Z12, 13)
	STORE_COL(Z13, 14)
	STORE_COL(Z14, 15)
	STORE_COL(Z15, 16)
	ADDQ $64, SI
	SUBQ $16, CX
	JMP  half

done:
	VZEROUPPER
	RET
