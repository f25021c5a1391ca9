// Shared by the wide decode tiles (decode_wide_amd64.s, f32, and
// decode_wide_bf16_amd64.s, bf16 pairs): weight-row addressing, argument
// setup, the prefetch of the next group and the accumulators (the first
// sixteen of which are the dot tiles', from decode_amd64.h).
//
// Registers: AX = weight row 0, SI = row 7, R8/R9/R10 = 1/3/5 rows in bytes,
// DX = panel, R11 = prefetch pointer, CX = p left; Z24/Z25 panel, Z26/Z27
// broadcasts.

#include "decode_amd64.h"

// Wi(off) is the address of weight row i at byte offset off.
#define W0(off) off(AX)
#define W1(off) off(AX)(R8*1)
#define W2(off) off(AX)(R8*2)
#define W3(off) off(AX)(R9*1)
#define W4(off) off(AX)(R8*4)
#define W5(off) off(AX)(R10*1)
#define W6(off) off(AX)(R9*2)
#define W7(off) off(SI)
#define W8(off) off(SI)(R8*1)
#define W9(off) off(SI)(R8*2)
#define W10(off) off(SI)(R9*1)
#define W11(off) off(SI)(R8*4)

// Setup shared by the kernels: the arguments into the registers above.
#define WIDE_SETUP \
	MOVQ k+0(FP), CX; \
	MOVQ w+8(FP), AX; \
	MOVQ ldw+16(FP), R8; \
	SHLQ $2, R8; \
	LEAQ (R8)(R8*2), R9; \
	LEAQ (R8)(R8*4), R10; \
	LEAQ (AX)(R8*4), SI; \
	LEAQ (SI)(R9*1), SI; \
	MOVQ xt+24(FP), DX; \
	MOVQ pf+48(FP), R11

// Per four p, 192 bytes from pf on go to L2 (PREFETCHT1: measured ~2%
// faster than T0 on the 64-row step), so a call prefetches 48·(k&^3)
// bytes: the caller points pf at the same k block of the next group of
// twelve weight rows, which are contiguous.
#define WIDE_PREFETCH \
	PREFETCHT1 (R11); \
	PREFETCHT1 64(R11); \
	PREFETCHT1 128(R11); \
	ADDQ       $192, R11

// The accumulators of a 12×32 tile (Z0–Z23, c rows of 32 floats: two vectors
// a row; the first sixteen as the dot tiles' 4×4 accumulators) and of a 12×16
// tile (Z0–Z11, the first vector of each c row): zeroed, loaded from and
// stored to c at DI.
#define ZERO_ACC32 \
	ZERO_ACC; \
	VXORPS Z16, Z16, Z16; \
	VXORPS Z17, Z17, Z17; \
	VXORPS Z18, Z18, Z18; \
	VXORPS Z19, Z19, Z19; \
	VXORPS Z20, Z20, Z20; \
	VXORPS Z21, Z21, Z21; \
	VXORPS Z22, Z22, Z22; \
	VXORPS Z23, Z23, Z23

#define LOAD_ACC32 \
	LOAD_ACC(DI); \
	VMOVUPS 1024(DI), Z16; \
	VMOVUPS 1088(DI), Z17; \
	VMOVUPS 1152(DI), Z18; \
	VMOVUPS 1216(DI), Z19; \
	VMOVUPS 1280(DI), Z20; \
	VMOVUPS 1344(DI), Z21; \
	VMOVUPS 1408(DI), Z22; \
	VMOVUPS 1472(DI), Z23

#define STORE_ACC32 \
	STORE_ACC(DI); \
	VMOVUPS Z16, 1024(DI); \
	VMOVUPS Z17, 1088(DI); \
	VMOVUPS Z18, 1152(DI); \
	VMOVUPS Z19, 1216(DI); \
	VMOVUPS Z20, 1280(DI); \
	VMOVUPS Z21, 1344(DI); \
	VMOVUPS Z22, 1408(DI); \
	VMOVUPS Z23, 1472(DI)

#define ZERO_ACC16 \
	VXORPS Z0, Z0, Z0; \
	VXORPS Z1, Z1, Z1; \
	VXORPS Z2, Z2, Z2; \
	VXORPS Z3, Z3, Z3; \
	VXORPS Z4, Z4, Z4; \
	VXORPS Z5, Z5, Z5; \
	VXORPS Z6, Z6, Z6; \
	VXORPS Z7, Z7, Z7; \
	VXORPS Z8, Z8, Z8; \
	VXORPS Z9, Z9, Z9; \
	VXORPS Z10, Z10, Z10; \
	VXORPS Z11, Z11, Z11

#define LOAD_ACC16 \
	VMOVUPS 0(DI), Z0; \
	VMOVUPS 128(DI), Z1; \
	VMOVUPS 256(DI), Z2; \
	VMOVUPS 384(DI), Z3; \
	VMOVUPS 512(DI), Z4; \
	VMOVUPS 640(DI), Z5; \
	VMOVUPS 768(DI), Z6; \
	VMOVUPS 896(DI), Z7; \
	VMOVUPS 1024(DI), Z8; \
	VMOVUPS 1152(DI), Z9; \
	VMOVUPS 1280(DI), Z10; \
	VMOVUPS 1408(DI), Z11

#define STORE_ACC16 \
	VMOVUPS Z0, 0(DI); \
	VMOVUPS Z1, 128(DI); \
	VMOVUPS Z2, 256(DI); \
	VMOVUPS Z3, 384(DI); \
	VMOVUPS Z4, 512(DI); \
	VMOVUPS Z5, 640(DI); \
	VMOVUPS Z6, 768(DI); \
	VMOVUPS Z7, 896(DI); \
	VMOVUPS Z8, 1024(DI); \
	VMOVUPS Z9, 1152(DI); \
	VMOVUPS Z10, 1280(DI); \
	VMOVUPS Z11, 1408(DI)
