// Shared by the decode dot kernels (decode_amd64.s, decode_bf16_amd64.s).

// REDUCE4 sums the lanes of za..zd (Z0–Z15 only: VHADDPS has no EVEX form)
// and stores the four totals at dst. Clobbers za, zb, zc, zd and Y24.
#define REDUCE4(za, ya, xa, zb, yb, xb, zc, yc, zd, yd, dst) \
	VEXTRACTF64X4 $1, za, Y24; \
	VADDPS        Y24, ya, ya; \
	VEXTRACTF64X4 $1, zb, Y24; \
	VADDPS        Y24, yb, yb; \
	VEXTRACTF64X4 $1, zc, Y24; \
	VADDPS        Y24, yc, yc; \
	VEXTRACTF64X4 $1, zd, Y24; \
	VADDPS        Y24, yd, yd; \
	VHADDPS       yb, ya, ya; \
	VHADDPS       yd, yc, yc; \
	VHADDPS       yc, ya, ya; \
	VEXTRACTF128  $1, ya, xb; \
	VADDPS        xb, xa, xa; \
	VMOVUPS       xa, dst

// ZERO_ACC clears the sixteen accumulators Z0–Z15 of a 4×4 tile.
#define ZERO_ACC \
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
	VXORPS Z11, Z11, Z11; \
	VXORPS Z12, Z12, Z12; \
	VXORPS Z13, Z13, Z13; \
	VXORPS Z14, Z14, Z14; \
	VXORPS Z15, Z15, Z15

// LOAD_ACC and STORE_ACC move the accumulators from and to r[0:1024].
#define LOAD_ACC(r) \
	VMOVUPS 0(r), Z0; \
	VMOVUPS 64(r), Z1; \
	VMOVUPS 128(r), Z2; \
	VMOVUPS 192(r), Z3; \
	VMOVUPS 256(r), Z4; \
	VMOVUPS 320(r), Z5; \
	VMOVUPS 384(r), Z6; \
	VMOVUPS 448(r), Z7; \
	VMOVUPS 512(r), Z8; \
	VMOVUPS 576(r), Z9; \
	VMOVUPS 640(r), Z10; \
	VMOVUPS 704(r), Z11; \
	VMOVUPS 768(r), Z12; \
	VMOVUPS 832(r), Z13; \
	VMOVUPS 896(r), Z14; \
	VMOVUPS 960(r), Z15

#define STORE_ACC(r) \
	VMOVUPS Z0, 0(r); \
	VMOVUPS Z1, 64(r); \
	VMOVUPS Z2, 128(r); \
	VMOVUPS Z3, 192(r); \
	VMOVUPS Z4, 256(r); \
	VMOVUPS Z5, 320(r); \
	VMOVUPS Z6, 384(r); \
	VMOVUPS Z7, 448(r); \
	VMOVUPS Z8, 512(r); \
	VMOVUPS Z9, 576(r); \
	VMOVUPS Z10, 640(r); \
	VMOVUPS Z11, 704(r); \
	VMOVUPS Z12, 768(r); \
	VMOVUPS Z13, 832(r); \
	VMOVUPS Z14, 896(r); \
	VMOVUPS Z15, 960(r)

// REDUCE_TILE reduces the 4×4 tile's accumulators into four rows of four
// outputs: row i at r + i*ld (ld in bytes; r is advanced).
#define REDUCE_TILE(r, ld) \
	REDUCE4(Z0, Y0, X0, Z1, Y1, X1, Z2, Y2, Z3, Y3, (r)); \
	ADDQ ld, r; \
	REDUCE4(Z4, Y4, X4, Z5, Y5, X5, Z6, Y6, Z7, Y7, (r)); \
	ADDQ ld, r; \
	REDUCE4(Z8, Y8, X8, Z9, Y9, X9, Z10, Y10, Z11, Y11, (r)); \
	ADDQ ld, r; \
	REDUCE4(Z12, Y12, X12, Z13, Y13, X13, Z14, Y14, Z15, Y15, (r))
