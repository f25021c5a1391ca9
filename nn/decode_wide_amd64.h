// Shared by the wide decode tiles (decode_wide_amd64.s, f32, and
// decode_wide_bf16_amd64.s, bf16 pairs): weight-row addressing, argument
// setup and the prefetch of the next group.
//
// Registers: AX = weight row 0, SI = row 7, R8/R9/R10 = 1/3/5 rows in bytes,
// DX = panel, R11 = prefetch pointer, CX = p left; Z24/Z25 panel, Z26/Z27
// broadcasts.

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
