package main

import (
	"fmt"
	"go/format"
	"strings"
)

// The bf16 GEMM (GemmPrec(BF16)) kernels: AVX512_BF16's VDPBF16PS adds, in
// each f32 lane, the products of a pair of bf16 values from each source, so
// both operands are laid out in pairs along k:
//
//   - A: row i's pair q (elements 2q, 2q+1, as one 32-bit word) at
//     a + i*rs + q*ps (uint16 elements), broadcast to all lanes;
//   - B: a packed panel, for each pair q, NR 32-bit words (column j's pair).
//
// Go's assembler knows neither VDPBF16PS nor VCVTNE2PS2BF16, so they are
// emitted as bytes (EVEX encodings, checked against GNU as by hand:
// `echo 'vdpbf16ps %zmm26,%zmm24,%zmm0' | as -o x.o && objdump -d x.o`).

var mrBF16, nvBF16 = 12, 2 // 12×32 f32 accumulators, as the f32 kernel

// evex returns the bytes of an EVEX.512.0F38.W0 register-form instruction
// with opcode op, prefix pp (2: F3, 3: F2), ModRM.reg = dst, vvvv = src1,
// ModRM.rm = src2.
func evex(pp, op, dst, src1, src2 int) string {
	p0 := (^dst>>3&1)<<7 | (^src2>>4&1)<<6 | (^src2>>3&1)<<5 | (^dst>>4&1)<<4 | 0x2
	p1 := (^src1&15)<<3 | 1<<2 | pp
	p2 := 0x40 | (^src1>>4&1)<<3
	modrm := 0xc0 | (dst&7)<<3 | src2&7
	return fmt.Sprintf("BYTE $0x62; BYTE $0x%02x; BYTE $0x%02x; BYTE $0x%02x; BYTE $0x%02x; BYTE $0x%02x", p0, p1, p2, op, modrm)
}

// dpbf is VDPBF16PS Z(src2), Z(src1), Z(dst): Zdst += Σpairs Zsrc1·Zsrc2.
func dpbf(dst, src1, src2 int) string { return evex(2, 0x52, dst, src1, src2) }

// cvt2bf is VCVTNE2PS2BF16: Zdst's low 16 words are Zlo rounded to bf16,
// its high 16 words Zhi rounded.
func cvt2bf(dst, hi, lo int) string { return evex(3, 0x72, dst, hi, lo) }

// kernelBF16 emits C[mr×32] (+)= A·B over kq pairs of k.
//
//	func name(kq int, a *uint16, rs, ps int, b *uint16, c *float32, ldc, nr, acc int)
func (g *gen) kernelBF16(name string, mr, nv int) {
	const w = 16
	// VDPBF16PS has a latency of several cycles on two pipes: with few rows,
	// independent accumulator sets over alternating pairs keep both busy.
	sets := 1
	for mr*nv*sets < 12 && sets < 4 && mr*nv*(sets+1)+nv+2 <= 32 {
		sets++
	}
	nacc := mr * nv * sets
	breg := nacc
	bc := breg + nv
	nbc := min(2, 32-bc)
	if nbc < 1 {
		panic(name + ": too many registers")
	}
	acc := func(set, row, v int) int { return set*mr*nv + row*nv + v }
	z := func(n int) string { return fmt.Sprintf("Z%d", n) }

	g.p("// func %s(kq int, a *uint16, rs, ps int, b *uint16, c *float32, ldc, nr, acc int)", name)
	g.p("TEXT ·%s(SB), NOSPLIT, $0-72", name)
	g.i("MOVQ kq+0(FP), CX")
	g.i("MOVQ a+8(FP), AX")
	g.i("MOVQ rs+16(FP), R8")
	g.i("SHLQ $1, R8")
	g.i("LEAQ (R8)(R8*2), R9")
	g.i("LEAQ (R8)(R8*4), R10")
	if mr > 7 {
		g.i("LEAQ (AX)(R8*4), SI")
		g.i("LEAQ (SI)(R9*1), SI") // AX + 7rs
	}
	if mr > 14 {
		panic(name + ": more than 14 rows")
	}
	g.i("MOVQ ps+24(FP), R11")
	g.i("SHLQ $1, R11")
	g.i("MOVQ b+32(FP), DX")
	g.i("MOVQ c+40(FP), DI")
	g.i("MOVQ ldc+48(FP), R13")
	g.i("SHLQ $2, R13")
	g.i("MOVQ DI, BX")
	for r := 0; r < mr; r++ {
		g.i("PREFETCHT0 (BX)")
		g.i("PREFETCHT0 %d(BX)", nv*w*4-4)
		if r != mr-1 {
			g.i("ADDQ R13, BX")
		}
	}
	for a := 0; a < nacc; a++ {
		g.i("VPXORD %s, %s, %s", z(a), z(a), z(a))
	}
	step := func(set int) {
		for v := 0; v < nv; v++ {
			g.i("VMOVDQU32 %d(DX), %s", v*64, z(breg+v))
		}
		for row := 0; row < mr; row++ {
			b := bc + row%nbc
			g.i("VPBROADCASTD %s, %s", rowAddr(row, 0), z(b))
			for v := 0; v < nv; v++ {
				g.i("%s // VDPBF16PS Z%d, Z%d, Z%d", dpbf(acc(set, row, v), b, breg+v), breg+v, b, acc(set, row, v))
			}
		}
		g.i("ADDQ R11, AX")
		if mr > 7 {
			g.i("ADDQ R11, SI")
		}
		g.i("ADDQ $%d, DX", nv*64)
	}
	if sets > 1 {
		g.i("CMPQ CX, $%d", sets)
		g.i("JL tail")
		g.p("loop:")
		for set := 0; set < sets; set++ {
			step(set)
		}
		g.i("SUBQ $%d, CX", sets)
		g.i("CMPQ CX, $%d", sets)
		g.i("JGE loop")
		g.p("tail:")
		g.i("TESTQ CX, CX")
		g.i("JEQ reduce")
		step(0)
		g.i("DECQ CX")
		g.i("JMP tail")
		g.p("reduce:")
		for set := 1; set < sets; set++ {
			for row := 0; row < mr; row++ {
				for v := 0; v < nv; v++ {
					g.i("VADDPS %s, %s, %s", z(acc(set, row, v)), z(acc(0, row, v)), z(acc(0, row, v)))
				}
			}
		}
	} else {
		g.i("TESTQ CX, CX")
		g.i("JEQ store")
		g.p("loop:")
		step(0)
		g.i("DECQ CX")
		g.i("JNE loop")
	}
	// The store always goes through masks (K1, K2 all ones for a full
	// tile): its cost is per tile, not per pair.
	g.p("store:")
	g.i("MOVQ nr+56(FP), CX")
	g.i("MOVQ $1, BX")
	g.i("SHLQ CX, BX")
	g.i("DECQ BX")
	g.i("KMOVW BX, K1")
	g.i("SHRQ $16, BX")
	g.i("KMOVW BX, K2")
	g.i("MOVQ acc+64(FP), R11")
	tmp := z(mr * nv)
	part := func(add bool) {
		for row := 0; row < mr; row++ {
			for v := 0; v < nv; v++ {
				a := z(acc(0, row, v))
				k := fmt.Sprintf("K%d", v+1)
				if add {
					g.i("VMOVUPS.Z %d(DI), %s, %s", v*64, k, tmp)
					g.i("VADDPS %s, %s, %s", tmp, a, a)
				}
				g.i("VMOVUPS %s, %s, %d(DI)", a, k, v*64)
			}
			if row != mr-1 {
				g.i("ADDQ R13, DI")
			}
		}
		g.i("VZEROUPPER")
		g.i("RET")
	}
	g.i("TESTQ R11, R11")
	g.i("JNE add")
	part(false)
	g.p("add:")
	part(true)
	g.p("")
}

// packBF16T emits the pack of op(B) = Bᵀ for the bf16 kernels: B is n×k
// (rows j, contiguous k) and the panel wants, for each pair q, the 32-bit
// pairs of NR consecutive rows j. It converts (f32 sources) and transposes
// 16 rows × 16 pairs at a time: 16 zmm of 16 pairs each become 16 zmm of
// 16 rows each by the usual four rounds of unpacks and 128-bit shuffles.
// kq16 is the pairs to pack, a positive multiple of 16; all NR rows must
// exist.
//
//	func name(kq16 int, src unsafe.Pointer, ld int, dst *uint16)   ld in elements
func (g *gen) packBF16T(name string, f32 bool) {
	g.p("// func %s(kq16 int, src unsafe.Pointer, ld int, dst *uint16)", name)
	g.p("TEXT ·%s(SB), NOSPLIT, $0-32", name)
	g.i("MOVQ kq16+0(FP), CX")
	g.i("MOVQ src+8(FP), SI")
	g.i("MOVQ ld+16(FP), R8")
	if f32 {
		g.i("SHLQ $2, R8")
	} else {
		g.i("SHLQ $1, R8")
	}
	g.i("MOVQ dst+24(FP), DI")
	g.i("SHRQ $4, CX")
	g.p("loop:")
	// Two halves of the 32 rows: rows h*16.. go to bytes h*64.. of each pair row.
	for h := 0; h < nvBF16; h++ {
		g.i("MOVQ SI, R9")
		if h > 0 {
			g.i("MOVQ R8, R10")
			g.i("SHLQ $4, R10")
			g.i("ADDQ R10, R9")
		}
		for r := 0; r < 16; r++ {
			if f32 {
				g.i("VMOVUPS (R9), Z16")
				g.i("VMOVUPS 64(R9), Z17")
				g.i("%s", cvt2bf(r, 17, 16))
			} else {
				g.i("VMOVDQU32 (R9), Z%d", r)
			}
			if r != 15 {
				g.i("ADDQ R8, R9")
			}
		}
		transpose16(g)
		for q := 0; q < 16; q++ {
			g.i("VMOVDQU32 Z%d, %d(DI)", q, q*nvBF16*64+h*64)
		}
	}
	if f32 {
		g.i("ADDQ $128, SI")
	} else {
		g.i("ADDQ $64, SI")
	}
	g.i("ADDQ $%d, DI", 16*nvBF16*64)
	g.i("DECQ CX")
	g.i("JNE loop")
	g.i("VZEROUPPER")
	g.i("RET")
	g.p("")
}

// transpose16 transposes the 16×16 32-bit matrix in Z0..Z15 (row r in Zr)
// in place, using Z16..Z31.
func transpose16(g *gen) {
	z := func(n int) string { return fmt.Sprintf("Z%d", n) }
	// Round 1: interleave dwords of row pairs.
	for i := 0; i < 8; i++ {
		g.i("VPUNPCKLDQ %s, %s, %s", z(2*i+1), z(2*i), z(16+2*i))
		g.i("VPUNPCKHDQ %s, %s, %s", z(2*i+1), z(2*i), z(16+2*i+1))
	}
	// Round 2: interleave qwords; u[4g+x] lane L holds element 4L+x of rows 4g..4g+3.
	for gr := 0; gr < 4; gr++ {
		t := 16 + 4*gr
		u := 4 * gr
		g.i("VPUNPCKLQDQ %s, %s, %s", z(t+2), z(t), z(u))
		g.i("VPUNPCKHQDQ %s, %s, %s", z(t+2), z(t), z(u+1))
		g.i("VPUNPCKLQDQ %s, %s, %s", z(t+3), z(t+1), z(u+2))
		g.i("VPUNPCKHQDQ %s, %s, %s", z(t+3), z(t+1), z(u+3))
	}
	// Round 3: for each x, v = lanes 0,2 and w = lanes 1,3 of (u[x], u[4+x]) and (u[8+x], u[12+x]).
	for x := 0; x < 4; x++ {
		g.i("VSHUFI32X4 $0x88, %s, %s, %s", z(4+x), z(x), z(16+4*x))
		g.i("VSHUFI32X4 $0xdd, %s, %s, %s", z(4+x), z(x), z(16+4*x+1))
		g.i("VSHUFI32X4 $0x88, %s, %s, %s", z(12+x), z(8+x), z(16+4*x+2))
		g.i("VSHUFI32X4 $0xdd, %s, %s, %s", z(12+x), z(8+x), z(16+4*x+3))
	}
	// Round 4: column 4L+x.
	for x := 0; x < 4; x++ {
		v, w, v2, w2 := 16+4*x, 16+4*x+1, 16+4*x+2, 16+4*x+3
		g.i("VSHUFI32X4 $0x88, %s, %s, %s", z(v2), z(v), z(x))    // L = 0
		g.i("VSHUFI32X4 $0xdd, %s, %s, %s", z(v2), z(v), z(8+x))  // L = 2
		g.i("VSHUFI32X4 $0x88, %s, %s, %s", z(w2), z(w), z(4+x))  // L = 1
		g.i("VSHUFI32X4 $0xdd, %s, %s, %s", z(w2), z(w), z(12+x)) // L = 3
	}
}

// packBF16N emits the pack of op(B) = B (k×n, rows p contiguous in j): for
// each pair q, rows 2q and 2q+1 are converted (f32 sources) and their words
// interleaved with VPERMW, 16 columns per vector. kq is the pairs to pack;
// all 2kq rows and NR columns must exist.
//
//	func name(kq int, src unsafe.Pointer, ld int, dst *uint16, ldd int)   ld, ldd in elements
//
// ldd is dst's stride from one pair row to the next (2·NR for a B panel;
// a transposed-A block is wider).
func (g *gen) packBF16N(name string, f32 bool) {
	g.p("// func %s(kq int, src unsafe.Pointer, ld int, dst *uint16, ldd int)", name)
	g.p("TEXT ·%s(SB), NOSPLIT, $0-40", name)
	g.i("MOVQ kq+0(FP), CX")
	g.i("MOVQ src+8(FP), SI")
	g.i("MOVQ ld+16(FP), R8")
	if f32 {
		g.i("SHLQ $2, R8")
	} else {
		g.i("SHLQ $1, R8")
	}
	g.i("MOVQ dst+24(FP), DI")
	g.i("MOVQ ldd+32(FP), R10")
	g.i("SHLQ $1, R10")
	g.i("VMOVDQU16 interleaveW<>(SB), Z31")
	g.i("TESTQ CX, CX")
	g.i("JEQ done")
	g.p("loop:")
	g.i("LEAQ (SI)(R8*1), R9")
	for h := 0; h < nvBF16; h++ {
		if f32 {
			g.i("VMOVUPS %d(SI), Z16", h*64)
			g.i("VMOVUPS %d(R9), Z17", h*64)
			g.i("%s", cvt2bf(h, 17, 16))
		} else {
			g.i("VMOVDQU %d(SI), Y%d", h*32, h)
			g.i("VINSERTI64X4 $1, %d(R9), Z%d, Z%d", h*32, h, h)
		}
		g.i("VPERMW Z%d, Z31, Z%d", h, h)
		g.i("VMOVDQU32 Z%d, %d(DI)", h, h*64)
	}
	g.i("LEAQ (R9)(R8*1), SI")
	g.i("ADDQ R10, DI")
	g.i("DECQ CX")
	g.i("JNE loop")
	g.p("done:")
	g.i("VZEROUPPER")
	g.i("RET")
	g.p("")
}

// toBF16 emits the conversion of n f32 values (a positive multiple of 32)
// to bf16.
//
//	func name(n int, src *float32, dst *uint16)
func (g *gen) toBF16(name string) {
	g.p("// func %s(n int, src *float32, dst *uint16)", name)
	g.p("TEXT ·%s(SB), NOSPLIT, $0-24", name)
	g.i("MOVQ n+0(FP), CX")
	g.i("MOVQ src+8(FP), SI")
	g.i("MOVQ dst+16(FP), DI")
	g.i("SHRQ $5, CX")
	g.p("loop:")
	g.i("VMOVUPS (SI), Z16")
	g.i("VMOVUPS 64(SI), Z17")
	g.i("%s", cvt2bf(0, 17, 16))
	g.i("VMOVDQU16 Z0, (DI)")
	g.i("ADDQ $128, SI")
	g.i("ADDQ $64, DI")
	g.i("DECQ CX")
	g.i("JNE loop")
	g.i("VZEROUPPER")
	g.i("RET")
	g.p("")
}

func generateBF16(out map[string][]byte) {
	var g gen
	g.p("// Code generated by internal/asmgen; DO NOT EDIT.")
	g.p("")
	g.p("//go:build !purego")
	g.p("")
	g.p("#include \"textflag.h\"")
	g.p("")
	// VPERMW index: word 2j from row 2q's word j, word 2j+1 from row 2q+1's.
	for j := 0; j < 32; j++ {
		idx := j / 2
		if j%2 == 1 {
			idx += 16
		}
		g.p("DATA interleaveW<>+%d(SB)/2, $%d", 2*j, idx)
	}
	g.p("GLOBL interleaveW<>(SB), RODATA|NOPTR, $64")
	g.p("")
	var names []string
	for r := 1; r <= mrBF16; r++ {
		name := fmt.Sprintf("kernBF16_%d", r)
		names = append(names, name)
		g.kernelBF16(name, r, nvBF16)
	}
	g.packBF16T("packBF16TF32", true)
	g.packBF16T("packBF16TU16", false)
	g.packBF16N("packBF16NF32", true)
	g.packBF16N("packBF16NU16", false)
	g.toBF16("toBF16Asm")
	out["sgemm_bf16_amd64.s"] = g.b.Bytes()

	var d gen
	d.p("// Code generated by internal/asmgen; DO NOT EDIT.")
	d.p("")
	d.p("//go:build !purego")
	d.p("")
	d.p("package tensor")
	d.p("")
	d.p("import \"unsafe\"")
	d.p("")
	for _, n := range names {
		d.p("//go:noescape")
		d.p("func %s(kq int, a *uint16, rs, ps int, b *uint16, c *float32, ldc, nr, acc int)", n)
		d.p("")
	}
	d.p("var kernsBF16 = [...]kernBF16Fn{nil, %s}", strings.Join(names, ", "))
	d.p("")
	for _, n := range []string{"packBF16TF32", "packBF16TU16"} {
		d.p("//go:noescape")
		d.p("func %s(kq16 int, src unsafe.Pointer, ld int, dst *uint16)", n)
		d.p("")
	}
	for _, n := range []string{"packBF16NF32", "packBF16NU16"} {
		d.p("//go:noescape")
		d.p("func %s(kq int, src unsafe.Pointer, ld int, dst *uint16, ldd int)", n)
		d.p("")
	}
	d.p("//go:noescape")
	d.p("func toBF16Asm(n int, src *float32, dst *uint16)")
	d.p("")
	src, err := format.Source(d.b.Bytes())
	if err != nil {
		panic(err)
	}
	out["sgemm_bf16_decl_amd64.go"] = src
}
