//go:build !purego

#include "textflag.h"
#include "decode_wide_amd64.h"

// Wide decode tiles with bfloat16 weights and inputs (decode_wide.go), for
// CPUs with AVX512_BF16: the f32 tiles' 12×32 and 12×16 outer products over
// pairs of k instead of single k. A panel row holds, for each of its W
// columns, the input's bf16 values at k = 2p and 2p+1 as one 32-bit word
// (packed with packXT on the input rounded to bf16, read as 32-bit words), a
// weight row's pair at p is the 32-bit word at byte 4p of the row, and
// VDPBF16PS adds both products of each lane's pair to its f32 accumulator:
// twice the multiply-adds of an FMA per instruction, half the weight bytes.
// k, ldw and the prefetch walk count pairs, so the addressing, the prefetch
// and the c layout are the f32 kernels'.
//
// Go's assembler lacks VDPBF16PS; each DPi macro spells out the EVEX form
// VDPBF16PS Zacc, Zx, Zb (register operands: acc Z0–Z23, panel Z24/Z25,
// broadcast Z26/Z27) as bytes: 62, P0 = inverted R,X,B,R' of acc and b then
// map 0F38, P1 = W0, inverted low four bits of x, pp F3, P2 = 512-bit with
// V' of x, then opcode 52 and ModRM 11·acc·b (low three bits each).

#define DP32_0 BYTE $0x62; BYTE $0x92; BYTE $0x3e; BYTE $0x40; BYTE $0x52; BYTE $0xc2; BYTE $0x62; BYTE $0x92; BYTE $0x36; BYTE $0x40; BYTE $0x52; BYTE $0xca
#define DP32_1 BYTE $0x62; BYTE $0x92; BYTE $0x3e; BYTE $0x40; BYTE $0x52; BYTE $0xd3; BYTE $0x62; BYTE $0x92; BYTE $0x36; BYTE $0x40; BYTE $0x52; BYTE $0xdb
#define DP32_2 BYTE $0x62; BYTE $0x92; BYTE $0x3e; BYTE $0x40; BYTE $0x52; BYTE $0xe2; BYTE $0x62; BYTE $0x92; BYTE $0x36; BYTE $0x40; BYTE $0x52; BYTE $0xea
#define DP32_3 BYTE $0x62; BYTE $0x92; BYTE $0x3e; BYTE $0x40; BYTE $0x52; BYTE $0xf3; BYTE $0x62; BYTE $0x92; BYTE $0x36; BYTE $0x40; BYTE $0x52; BYTE $0xfb
#define DP32_4 BYTE $0x62; BYTE $0x12; BYTE $0x3e; BYTE $0x40; BYTE $0x52; BYTE $0xc2; BYTE $0x62; BYTE $0x12; BYTE $0x36; BYTE $0x40; BYTE $0x52; BYTE $0xca
#define DP32_5 BYTE $0x62; BYTE $0x12; BYTE $0x3e; BYTE $0x40; BYTE $0x52; BYTE $0xd3; BYTE $0x62; BYTE $0x12; BYTE $0x36; BYTE $0x40; BYTE $0x52; BYTE $0xdb
#define DP32_6 BYTE $0x62; BYTE $0x12; BYTE $0x3e; BYTE $0x40; BYTE $0x52; BYTE $0xe2; BYTE $0x62; BYTE $0x12; BYTE $0x36; BYTE $0x40; BYTE $0x52; BYTE $0xea
#define DP32_7 BYTE $0x62; BYTE $0x12; BYTE $0x3e; BYTE $0x40; BYTE $0x52; BYTE $0xf3; BYTE $0x62; BYTE $0x12; BYTE $0x36; BYTE $0x40; BYTE $0x52; BYTE $0xfb
#define DP32_8 BYTE $0x62; BYTE $0x82; BYTE $0x3e; BYTE $0x40; BYTE $0x52; BYTE $0xc2; BYTE $0x62; BYTE $0x82; BYTE $0x36; BYTE $0x40; BYTE $0x52; BYTE $0xca
#define DP32_9 BYTE $0x62; BYTE $0x82; BYTE $0x3e; BYTE $0x40; BYTE $0x52; BYTE $0xd3; BYTE $0x62; BYTE $0x82; BYTE $0x36; BYTE $0x40; BYTE $0x52; BYTE $0xdb
#define DP32_10 BYTE $0x62; BYTE $0x82; BYTE $0x3e; BYTE $0x40; BYTE $0x52; BYTE $0xe2; BYTE $0x62; BYTE $0x82; BYTE $0x36; BYTE $0x40; BYTE $0x52; BYTE $0xea
#define DP32_11 BYTE $0x62; BYTE $0x82; BYTE $0x3e; BYTE $0x40; BYTE $0x52; BYTE $0xf3; BYTE $0x62; BYTE $0x82; BYTE $0x36; BYTE $0x40; BYTE $0x52; BYTE $0xfb
#define DP16_0 BYTE $0x62; BYTE $0x92; BYTE $0x3e; BYTE $0x40; BYTE $0x52; BYTE $0xc2
#define DP16_1 BYTE $0x62; BYTE $0x92; BYTE $0x3e; BYTE $0x40; BYTE $0x52; BYTE $0xcb
#define DP16_2 BYTE $0x62; BYTE $0x92; BYTE $0x3e; BYTE $0x40; BYTE $0x52; BYTE $0xd2
#define DP16_3 BYTE $0x62; BYTE $0x92; BYTE $0x3e; BYTE $0x40; BYTE $0x52; BYTE $0xdb
#define DP16_4 BYTE $0x62; BYTE $0x92; BYTE $0x3e; BYTE $0x40; BYTE $0x52; BYTE $0xe2
#define DP16_5 BYTE $0x62; BYTE $0x92; BYTE $0x3e; BYTE $0x40; BYTE $0x52; BYTE $0xeb
#define DP16_6 BYTE $0x62; BYTE $0x92; BYTE $0x3e; BYTE $0x40; BYTE $0x52; BYTE $0xf2
#define DP16_7 BYTE $0x62; BYTE $0x92; BYTE $0x3e; BYTE $0x40; BYTE $0x52; BYTE $0xfb
#define DP16_8 BYTE $0x62; BYTE $0x12; BYTE $0x3e; BYTE $0x40; BYTE $0x52; BYTE $0xc2
#define DP16_9 BYTE $0x62; BYTE $0x12; BYTE $0x3e; BYTE $0x40; BYTE $0x52; BYTE $0xcb
#define DP16_10 BYTE $0x62; BYTE $0x12; BYTE $0x3e; BYTE $0x40; BYTE $0x52; BYTE $0xd2
#define DP16_11 BYTE $0x62; BYTE $0x12; BYTE $0x3e; BYTE $0x40; BYTE $0x52; BYTE $0xdb

// STEP32B(wo, xo, xo2): one pair p of the 12×32 tile, weights at byte offset
// wo, panel row at xo (and xo2 = xo+64).
#define STEP32B(wo, xo, xo2) \
	VMOVUPS xo(DX), Z24; \
	VMOVUPS xo2(DX), Z25; \
	VPBROADCASTD W0(wo), Z26; \
	DP32_0; \
	VPBROADCASTD W1(wo), Z27; \
	DP32_1; \
	VPBROADCASTD W2(wo), Z26; \
	DP32_2; \
	VPBROADCASTD W3(wo), Z27; \
	DP32_3; \
	VPBROADCASTD W4(wo), Z26; \
	DP32_4; \
	VPBROADCASTD W5(wo), Z27; \
	DP32_5; \
	VPBROADCASTD W6(wo), Z26; \
	DP32_6; \
	VPBROADCASTD W7(wo), Z27; \
	DP32_7; \
	VPBROADCASTD W8(wo), Z26; \
	DP32_8; \
	VPBROADCASTD W9(wo), Z27; \
	DP32_9; \
	VPBROADCASTD W10(wo), Z26; \
	DP32_10; \
	VPBROADCASTD W11(wo), Z27; \
	DP32_11

#define STEP16B(wo, xo) \
	VMOVUPS xo(DX), Z24; \
	VPBROADCASTD W0(wo), Z26; \
	DP16_0; \
	VPBROADCASTD W1(wo), Z27; \
	DP16_1; \
	VPBROADCASTD W2(wo), Z26; \
	DP16_2; \
	VPBROADCASTD W3(wo), Z27; \
	DP16_3; \
	VPBROADCASTD W4(wo), Z26; \
	DP16_4; \
	VPBROADCASTD W5(wo), Z27; \
	DP16_5; \
	VPBROADCASTD W6(wo), Z26; \
	DP16_6; \
	VPBROADCASTD W7(wo), Z27; \
	DP16_7; \
	VPBROADCASTD W8(wo), Z26; \
	DP16_8; \
	VPBROADCASTD W9(wo), Z27; \
	DP16_9; \
	VPBROADCASTD W10(wo), Z26; \
	DP16_10; \
	VPBROADCASTD W11(wo), Z27; \
	DP16_11

// func decWB12x32BF16(k int, w *uint16, ldw int, xt *float32, c *float32, acc int, pf *uint16)
//
// k pairs, ldw in pairs; c is [12][32] floats, starting at zero (acc == 0)
// or from c (acc != 0). k >= 0.
TEXT ·decWB12x32BF16(SB), NOSPLIT, $0-56
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
	STEP32B(0, 0, 64)
	STEP32B(4, 128, 192)
	STEP32B(8, 256, 320)
	STEP32B(12, 384, 448)
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
	STEP32B(0, 0, 64)
	ADDQ $4, AX
	ADDQ $4, SI
	ADDQ $128, DX
	DECQ CX
	JNZ  tail1

store:
	STORE_ACC32
	VZEROUPPER
	RET

// func decWB12x16BF16(k int, w *uint16, ldw int, xt *float32, c *float32, acc int, pf *uint16)
//
// decWB12x32BF16 for a panel of 16 columns: c's rows are still 32 floats
// apart, of which the first 16 are used.
TEXT ·decWB12x16BF16(SB), NOSPLIT, $0-56
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
	STEP16B(0, 0)
	STEP16B(4, 64)
	STEP16B(8, 128)
	STEP16B(12, 192)
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
	STEP16B(0, 0)
	ADDQ $4, AX
	ADDQ $4, SI
	ADDQ $64, DX
	DECQ CX
	JNZ  tail1

store:
	STORE_ACC16
	VZEROUPPER
	RET
