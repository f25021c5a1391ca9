//go:build ignore

// gen_asm writes the amd64 assembly for the sgemm micro-kernels. Go assembly has
// no loops or register arithmetic at assembly time, and the kernels come in many
// row/column variants, so they are generated rather than hand-written.
//
//	go run gen_asm.go   (run by go generate in package tensor)
package main

import (
	"bytes"
	"fmt"
	"go/format"
	"os"
	"strings"
)

// isa describes one vector instruction set the kernels are emitted for.
type isa struct {
	name  string // function-name suffix
	w     int    // float32 lanes per vector
	reg   string // vector register prefix: Z or Y
	nregs int    // architectural vector registers
	mask  bool   // AVX-512 opmask registers (else VMASKMOVPS with a table)
}

var (
	avx512 = isa{name: "Avx512", w: 16, reg: "Z", nregs: 32, mask: true}
	avx2   = isa{name: "Avx2", w: 8, reg: "Y", nregs: 16}
)

// Kernel shapes. Kept in sync with the Go-side tables by emitting those too.
var (
	mr512, nv512 = 12, 2 // 12×32
	mr2, nv2     = 6, 2  // 6×16
	// Row-vector kernels (m = 1, B in place): wide so each B row is read
	// in long contiguous runs.
	wide512, wide2 = 8, 8 // 1×128, 1×64
)

type gen struct{ b bytes.Buffer }

func (g *gen) p(format string, args ...any) { fmt.Fprintf(&g.b, format+"\n", args...) }
func (g *gen) i(format string, args ...any) { g.p("\t"+format, args...) }

func (s isa) r(n int) string { return fmt.Sprintf("%s%d", s.reg, n) }

// rowAddr is the address of row r of A (rows are rs bytes apart) from the
// base register holding rows 7*(r/7)...: offsets 0..6 rows are reachable with
// R8=rs, R9=3rs, R10=5rs and the 1/2/4 index scales.
func rowAddr(r, disp int) string {
	bases := []string{"AX", "SI", "BX"}
	base := bases[r/7]
	idx := []string{"", "(R8*1)", "(R8*2)", "(R9*1)", "(R8*4)", "(R10*1)", "(R9*2)"}[r%7]
	d := ""
	if disp != 0 {
		d = fmt.Sprint(disp)
	}
	return fmt.Sprintf("%s(%s)%s", d, base, idx)
}

// kernel emits C[mr×nr] (+)= A·B for one micro-tile.
//
//	func name(k int, a *float32, rs, ps int, b *float32, bs int, c *float32, ldc, nr, acc int)
//
// A element (i,p) is at a + i*rs + p*ps, B element (p,j) at b + p*bs + j; both
// strides are in elements so the same kernel reads packed panels, A in place
// (transposed or not) and B in place. B is always read NV full vectors wide; nr
// only masks the C update.
//
// With mr == 1 each B vector is used once, so the FMAs take B straight from
// memory. partial=false omits the masked store (callers pass only full tiles).
func (g *gen) kernel(s isa, name string, mr, nv int, partial bool) {
	nr := nv * s.w
	nb := nv // B registers
	if mr == 1 {
		nb = 0
	}
	// Independent accumulator sets over alternating p hide FMA latency (4
	// cycles, 2 pipes) when the tile alone has fewer than 8 accumulators.
	sets := 1
	for mr*nv*sets < 8 && sets < 4 && mr*nv*(sets+1)+nb+2 <= s.nregs {
		sets++
	}
	nacc := mr * nv * sets
	breg := nacc    // B vectors
	bc := breg + nb // broadcast registers
	nbc := 2
	if bc+2 > s.nregs {
		nbc = 1
	}
	if bc+nbc > s.nregs {
		panic(name + ": too many registers")
	}
	acc := func(set, row, v int) string { return s.r(set*mr*nv + row*nv + v) }

	g.p("// func %s(k int, a *float32, rs, ps int, b *float32, bs int, c *float32, ldc, nr, acc int)", name)
	g.p("TEXT ·%s(SB), NOSPLIT, $0-80", name)
	g.i("MOVQ k+0(FP), CX")
	g.i("MOVQ a+8(FP), AX")
	g.i("MOVQ rs+16(FP), R8")
	g.i("SHLQ $2, R8")
	g.i("LEAQ (R8)(R8*2), R9")
	g.i("LEAQ (R8)(R8*4), R10")
	if mr > 7 {
		g.i("LEAQ (AX)(R8*4), SI")
		g.i("LEAQ (SI)(R9*1), SI") // AX + 7rs
	}
	if mr > 14 {
		g.i("LEAQ (SI)(R8*4), BX")
		g.i("LEAQ (BX)(R9*1), BX")
	}
	g.i("MOVQ ps+24(FP), R11")
	g.i("SHLQ $2, R11")
	g.i("MOVQ b+32(FP), DX")
	g.i("MOVQ bs+40(FP), R12")
	g.i("SHLQ $2, R12")
	g.i("MOVQ c+48(FP), DI")
	g.i("MOVQ ldc+56(FP), R13")
	g.i("SHLQ $2, R13")
	// Warm the C tile while the loop runs; it is touched only at the end.
	if mr > 14 || nv > 7 && partial {
		panic(name + ": BX prefetch walker or K1..K7 masks exhausted")
	}
	g.i("MOVQ DI, BX")
	for r := 0; r < mr; r++ {
		g.i("PREFETCHT0 (BX)")
		g.i("PREFETCHT0 %d(BX)", nr*4-4)
		if r != mr-1 {
			g.i("ADDQ R13, BX")
		}
	}
	for a := 0; a < nacc; a++ {
		g.i("VXORPS %s, %s, %s", s.r(a), s.r(a), s.r(a))
	}
	step := func(set int) {
		for v := 0; v < nb; v++ {
			g.i("VMOVUPS %d(DX), %s", v*s.w*4, s.r(breg+v))
		}
		for row := 0; row < mr; row++ {
			b := s.r(bc + row%nbc)
			g.i("VBROADCASTSS %s, %s", rowAddr(row, 0), b)
			for v := 0; v < nv; v++ {
				src := fmt.Sprintf("%d(DX)", v*s.w*4)
				if nb > 0 {
					src = s.r(breg + v)
				}
				g.i("VFMADD231PS %s, %s, %s", src, b, acc(set, row, v))
			}
		}
		g.i("ADDQ R11, AX")
		if mr > 7 {
			g.i("ADDQ R11, SI")
		}
		if mr > 14 {
			g.i("ADDQ R11, BX")
		}
		g.i("ADDQ R12, DX")
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
					g.i("VADDPS %s, %s, %s", acc(set, row, v), acc(0, row, v), acc(0, row, v))
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
	g.p("store:")
	g.i("MOVQ acc+72(FP), R11")
	if partial {
		g.i("MOVQ nr+64(FP), CX")
		g.i("CMPQ CX, $%d", nr)
		g.i("JLT partial")
	}
	// After the loop only set 0 is live: masks and a temporary go above it.
	free := mr * nv
	tmp := s.r(free + nv)
	if partial && free+nv >= s.nregs {
		panic(name + ": no registers for the store")
	}
	full := func(add bool) {
		for row := 0; row < mr; row++ {
			for v := 0; v < nv; v++ {
				if add {
					g.i("VADDPS %d(DI), %s, %s", v*s.w*4, acc(0, row, v), acc(0, row, v))
				}
				g.i("VMOVUPS %s, %d(DI)", acc(0, row, v), v*s.w*4)
			}
			if row != mr-1 {
				g.i("ADDQ R13, DI")
			}
		}
		g.i("VZEROUPPER")
		g.i("RET")
	}
	g.i("TESTQ R11, R11")
	g.i("JNE fulladd")
	full(false)
	g.p("fulladd:")
	full(true)
	if !partial {
		g.p("")
		return
	}

	g.p("partial:")
	// Columns ≥ nr of the tile must not be touched: they belong to the
	// neighbouring tile or lie past the end of C.
	var mask []string
	if s.mask {
		g.i("MOVL $1, BX")
		g.i("SHLQ CX, BX")
		g.i("DECQ BX")
		for v := 0; v < nv; v++ {
			k := fmt.Sprintf("K%d", v+1)
			mask = append(mask, k)
			g.i("KMOVW BX, %s", k)
			if v != nv-1 {
				g.i("SHRQ $16, BX")
			}
		}
	} else {
		// maskTab<>+4*(N-nr) starts (nr) all-ones lanes before the zeros.
		g.i("LEAQ maskTab%d<>(SB), BX", nr)
		g.i("NEGQ CX")
		g.i("LEAQ %d(BX)(CX*4), BX", nr*4)
		for v := 0; v < nv; v++ {
			m := s.r(free + v)
			mask = append(mask, m)
			g.i("VMOVUPS %d(BX), %s", v*s.w*4, m)
		}
	}
	part := func(add bool) {
		for row := 0; row < mr; row++ {
			for v := 0; v < nv; v++ {
				a := acc(0, row, v)
				off := v * s.w * 4
				if s.mask {
					if add {
						g.i("VMOVUPS.Z %d(DI), %s, %s", off, mask[v], tmp)
						g.i("VADDPS %s, %s, %s", tmp, a, a)
					}
					g.i("VMOVUPS %s, %s, %d(DI)", a, mask[v], off)
				} else {
					if add {
						g.i("VMASKMOVPS %d(DI), %s, %s", off, mask[v], tmp)
						g.i("VADDPS %s, %s, %s", tmp, a, a)
					}
					g.i("VMASKMOVPS %s, %s, %d(DI)", a, mask[v], off)
				}
			}
			if row != mr-1 {
				g.i("ADDQ R13, DI")
			}
		}
		g.i("VZEROUPPER")
		g.i("RET")
	}
	g.i("TESTQ R11, R11")
	g.i("JNE partialadd")
	part(false)
	g.p("partialadd:")
	part(true)
	g.p("")
}

// maskTab emits n all-ones float32 lanes followed by n zero lanes.
func (g *gen) maskTab(n int) {
	for j := 0; j < n; j++ {
		g.p("DATA maskTab%d<>+%d(SB)/4, $0xffffffff", n, j*4)
	}
	for j := 0; j < n; j++ {
		g.p("DATA maskTab%d<>+%d(SB)/4, $0", n, (n+j)*4)
	}
	g.p("GLOBL maskTab%d<>(SB), RODATA|NOPTR, $%d", n, n*8)
	g.p("")
}

// packNN emits a copy of a kc×NR block of B (row stride ld) into a packed
// panel (row stride NR).
//
//	func name(kc int, src *float32, ld int, dst *float32)
func (g *gen) packNN(s isa, name string, nv int) {
	g.p("// func %s(kc int, src *float32, ld int, dst *float32)", name)
	g.p("TEXT ·%s(SB), NOSPLIT, $0-32", name)
	g.i("MOVQ kc+0(FP), CX")
	g.i("MOVQ src+8(FP), SI")
	g.i("MOVQ ld+16(FP), R8")
	g.i("SHLQ $2, R8")
	g.i("MOVQ dst+24(FP), DI")
	g.i("TESTQ CX, CX")
	g.i("JEQ done")
	g.p("loop:")
	for v := 0; v < nv; v++ {
		g.i("VMOVUPS %d(SI), %s", v*s.w*4, s.r(v))
	}
	for v := 0; v < nv; v++ {
		g.i("VMOVUPS %s, %d(DI)", s.r(v), v*s.w*4)
	}
	g.i("ADDQ R8, SI")
	g.i("ADDQ $%d, DI", nv*s.w*4)
	g.i("DECQ CX")
	g.i("JNE loop")
	g.p("done:")
	g.i("VZEROUPPER")
	g.i("RET")
	g.p("")
}

// packNT emits the transposing pack for op(B)=Bᵀ: B is n×k with row stride ld
// and the panel wants, for each p, NR consecutive j. It works in 8×8 blocks
// (AVX2 shuffles, also fine on AVX-512 parts) over kc8 = kc rounded down to 8;
// the caller packs the remaining p scalarly.
//
//	func name(kc8 int, src *float32, ld int, dst *float32)
func (g *gen) packNT(name string, nr int) {
	g.p("// func %s(kc8 int, src *float32, ld int, dst *float32)", name)
	g.p("TEXT ·%s(SB), NOSPLIT, $0-32", name)
	g.i("MOVQ kc8+0(FP), CX")
	g.i("MOVQ src+8(FP), SI")
	g.i("MOVQ ld+16(FP), R8")
	g.i("SHLQ $2, R8")
	g.i("LEAQ (R8)(R8*2), R9")  // 3 rows
	g.i("LEAQ (R8)(R8*4), R10") // 5 rows
	g.i("LEAQ (R9)(R8*4), R11") // 7 rows
	g.i("MOVQ dst+24(FP), DI")
	g.i("SHRQ $3, CX")
	g.i("JEQ done")
	g.p("loop:")
	for jb := 0; jb < nr/8; jb++ {
		if jb == 0 {
			g.i("MOVQ SI, DX")
		} else {
			g.i("LEAQ (DX)(R8*8), DX")
		}
		rows := []string{"(DX)", "(DX)(R8*1)", "(DX)(R8*2)", "(DX)(R9*1)", "(DX)(R8*4)", "(DX)(R10*1)", "(DX)(R9*2)", "(DX)(R11*1)"}
		for i, a := range rows {
			g.i("VMOVUPS %s, Y%d", a, i)
		}
		for i := 0; i < 8; i += 2 {
			g.i("VUNPCKLPS Y%d, Y%d, Y%d", i+1, i, 8+i)
			g.i("VUNPCKHPS Y%d, Y%d, Y%d", i+1, i, 9+i)
		}
		// Y8..Y15 = t0..t7; s0..s7 into Y0..Y7.
		for h := 0; h < 2; h++ {
			t := 8 + 4*h
			g.i("VSHUFPS $0x44, Y%d, Y%d, Y%d", t+2, t, 4*h+0)
			g.i("VSHUFPS $0xEE, Y%d, Y%d, Y%d", t+2, t, 4*h+1)
			g.i("VSHUFPS $0x44, Y%d, Y%d, Y%d", t+3, t+1, 4*h+2)
			g.i("VSHUFPS $0xEE, Y%d, Y%d, Y%d", t+3, t+1, 4*h+3)
		}
		for q := 0; q < 4; q++ {
			g.i("VPERM2F128 $0x20, Y%d, Y%d, Y%d", q+4, q, 8+q)
			g.i("VPERM2F128 $0x31, Y%d, Y%d, Y%d", q+4, q, 12+q)
		}
		for q := 0; q < 8; q++ {
			g.i("VMOVUPS Y%d, %d(DI)", 8+q, q*nr*4+jb*32)
		}
	}
	g.i("ADDQ $32, SI")
	g.i("ADDQ $%d, DI", 8*nr*4)
	g.i("DECQ CX")
	g.i("JNE loop")
	g.p("done:")
	g.i("VZEROUPPER")
	g.i("RET")
	g.p("")
}

// dot emits a tile of C = A·Bᵀ for A not transposed: mb rows of A and nb
// rows of B, both contiguous in k, reduced horizontally at the end.
//
//	func name(k int, a *float32, lda int, b *float32, ldb int, c *float32, ldc, acc int)
func (g *gen) dot(s isa, name string, mb, nb int) {
	sets := 1
	for mb*nb*sets < 8 && sets < 4 && mb*nb*(sets+1)+mb+nb+1 <= s.nregs {
		sets++
	}
	nacc := mb * nb * sets
	areg, breg := nacc, nacc+mb
	mreg := breg + nb // AVX2 tail mask
	if mreg >= s.nregs {
		panic(name + ": too many registers")
	}
	acc := func(set, i, j int) string { return s.r(set*mb*nb + i*nb + j) }
	vb := s.w * 4 // bytes per vector
	rows := func(base string, i, disp int) string {
		idx := []string{"", "(R8*1)", "(R8*2)", "(R9*1)"}[i]
		if base == "DX" {
			idx = []string{"", "(R10*1)", "(R10*2)", "(R11*1)"}[i]
		}
		return fmt.Sprintf("%d(%s)%s", disp, base, idx)
	}
	g.p("// func %s(k int, a *float32, lda int, b *float32, ldb int, c *float32, ldc, acc int)", name)
	g.p("TEXT ·%s(SB), NOSPLIT, $0-64", name)
	g.i("MOVQ k+0(FP), CX")
	g.i("MOVQ a+8(FP), AX")
	g.i("MOVQ lda+16(FP), R8")
	g.i("SHLQ $2, R8")
	g.i("LEAQ (R8)(R8*2), R9")
	g.i("MOVQ b+24(FP), DX")
	g.i("MOVQ ldb+32(FP), R10")
	g.i("SHLQ $2, R10")
	g.i("LEAQ (R10)(R10*2), R11")
	for a := 0; a < nacc; a++ {
		g.i("VXORPS %s, %s, %s", s.r(a), s.r(a), s.r(a))
	}
	chunk := func(set, disp int, masked bool) {
		for i := 0; i < mb; i++ {
			switch {
			case !masked:
				g.i("VMOVUPS %s, %s", rows("AX", i, disp), s.r(areg+i))
			case s.mask:
				g.i("VMOVUPS.Z %s, K1, %s", rows("AX", i, disp), s.r(areg+i))
			default:
				g.i("VMASKMOVPS %s, %s, %s", rows("AX", i, disp), s.r(mreg), s.r(areg+i))
			}
		}
		for j := 0; j < nb; j++ {
			switch {
			case !masked:
				g.i("VMOVUPS %s, %s", rows("DX", j, disp), s.r(breg+j))
			case s.mask:
				g.i("VMOVUPS.Z %s, K1, %s", rows("DX", j, disp), s.r(breg+j))
			default:
				g.i("VMASKMOVPS %s, %s, %s", rows("DX", j, disp), s.r(mreg), s.r(breg+j))
			}
		}
		for i := 0; i < mb; i++ {
			for j := 0; j < nb; j++ {
				g.i("VFMADD231PS %s, %s, %s", s.r(breg+j), s.r(areg+i), acc(set, i, j))
			}
		}
	}
	if sets > 1 {
		g.i("CMPQ CX, $%d", s.w*sets)
		g.i("JLT single")
		g.p("loop:")
		for set := 0; set < sets; set++ {
			chunk(set, set*vb, false)
		}
		g.i("ADDQ $%d, AX", vb*sets)
		g.i("ADDQ $%d, DX", vb*sets)
		g.i("SUBQ $%d, CX", s.w*sets)
		g.i("CMPQ CX, $%d", s.w*sets)
		g.i("JGE loop")
	}
	g.p("single:")
	g.i("CMPQ CX, $%d", s.w)
	g.i("JLT tail")
	chunk(0, 0, false)
	g.i("ADDQ $%d, AX", vb)
	g.i("ADDQ $%d, DX", vb)
	g.i("SUBQ $%d, CX", s.w)
	g.i("JMP single")
	g.p("tail:")
	g.i("TESTQ CX, CX")
	g.i("JEQ reduce")
	if s.mask {
		g.i("MOVL $1, BX")
		g.i("SHLL CX, BX")
		g.i("DECL BX")
		g.i("KMOVW BX, K1")
	} else {
		g.i("LEAQ maskTab%d<>(SB), BX", s.w)
		g.i("NEGQ CX")
		g.i("VMOVUPS %d(BX)(CX*4), %s", s.w*4, s.r(mreg))
	}
	chunk(0, 0, true)
	g.p("reduce:")
	for set := 1; set < sets; set++ {
		for i := 0; i < mb; i++ {
			for j := 0; j < nb; j++ {
				g.i("VADDPS %s, %s, %s", acc(set, i, j), acc(0, i, j), acc(0, i, j))
			}
		}
	}
	// Fold every accumulator to 4 lanes, then hadd a row's nb of them into
	// one XMM whose lane j is C(i, j). VHADDPS has no EVEX form, so the hadds
	// stay in X0..X15: accumulators (set 0) live there, and when nb < 4 the
	// register after them is free (A/B vectors are dead) to serve as zero.
	x := func(n int) string { return fmt.Sprintf("X%d", n) }
	y := func(n int) string { return fmt.Sprintf("Y%d", n) }
	tmp := mreg
	if s.w == 16 {
		tmp = s.nregs - 1
	}
	zero := mb * nb
	if nb < 4 {
		g.i("VXORPS %s, %s, %s", x(zero), x(zero), x(zero))
	}
	for i := 0; i < mb; i++ {
		base := i * nb
		for j := 0; j < nb; j++ {
			n := base + j
			if s.w == 16 {
				g.i("VEXTRACTF64X4 $1, Z%d, Y%d", n, tmp)
				g.i("VADDPS Y%d, Y%d, Y%d", tmp, n, n)
				g.i("VEXTRACTF32X4 $1, %s, %s", y(n), x(tmp))
			} else {
				g.i("VEXTRACTF128 $1, %s, %s", y(n), x(tmp))
			}
			g.i("VADDPS %s, %s, %s", x(tmp), x(n), x(n))
		}
		src := func(j int) string {
			if j < nb {
				return x(base + j)
			}
			return x(zero)
		}
		g.i("VHADDPS %s, %s, %s", src(1), src(0), x(base))
		hi := x(zero)
		if nb >= 3 {
			hi = x(base + 2)
			g.i("VHADDPS %s, %s, %s", src(3), src(2), hi)
		}
		g.i("VHADDPS %s, %s, %s", hi, x(base), x(base))
	}
	g.i("MOVQ c+40(FP), DI")
	g.i("MOVQ ldc+48(FP), R8")
	g.i("SHLQ $2, R8")
	g.i("MOVQ acc+56(FP), R9")
	store := func(add bool) {
		for i := 0; i < mb; i++ {
			v := x(i * nb)
			if nb == 4 {
				if add {
					g.i("VADDPS (DI), %s, %s", v, v)
				}
				g.i("VMOVUPS %s, (DI)", v)
			} else {
				for j := 0; j < nb; j++ {
					t := v
					if j > 0 {
						t = x(tmp)
						g.i("VPERMILPS $%d, %s, %s", j, v, t)
					}
					if add {
						g.i("VADDSS %d(DI), %s, %s", 4*j, t, t)
					}
					g.i("VMOVSS %s, %d(DI)", t, 4*j)
				}
			}
			if i != mb-1 {
				g.i("ADDQ R8, DI")
			}
		}
		g.i("VZEROUPPER")
		g.i("RET")
	}
	g.i("TESTQ R9, R9")
	g.i("JNE add")
	store(false)
	g.p("add:")
	store(true)
	g.p("")
}

// decls writes the Go declarations matching the generated assembly.
func decls(isas []isa, mrs []int) []byte {
	var g gen
	g.p("// Code generated by gen_asm.go; DO NOT EDIT.")
	g.p("")
	g.p("//go:build !purego")
	g.p("")
	g.p("package tensor")
	g.p("")
	for x, s := range isas {
		for r := 1; r <= mrs[x]; r++ {
			g.p("//go:noescape")
			g.p("func kern%s_%d(k int, a *float32, rs, ps int, b *float32, bs int, c *float32, ldc, nr, acc int)", s.name, r)
			g.p("")
		}
		g.p("//go:noescape")
		g.p("func packNN%s(kc int, src *float32, ld int, dst *float32)", s.name)
		g.p("")
		g.p("//go:noescape")
		g.p("func packNT%s(kc8 int, src *float32, ld int, dst *float32)", s.name)
		g.p("")
		dm, dn := dotTile(s)
		var rowsOf []string
		for i := 1; i <= dm; i++ {
			var cols []string
			for j := 1; j <= dn; j++ {
				g.p("//go:noescape")
				g.p("func dot%s_%dx%d(k int, a *float32, lda int, b *float32, ldb int, c *float32, ldc, acc int)", s.name, i, j)
				g.p("")
				cols = append(cols, fmt.Sprintf("dot%s_%dx%d", s.name, i, j))
			}
			rowsOf = append(rowsOf, fmt.Sprintf("{nil, %s}", strings.Join(cols, ", ")))
		}
		g.p("var dots%s = [...][%d]dotFn{{}, %s}", s.name, dn+1, strings.Join(rowsOf, ", "))
		g.p("")
		g.p("//go:noescape")
		g.p("func kern%s_row(k int, a *float32, rs, ps int, b *float32, bs int, c *float32, ldc, nr, acc int)", s.name)
		g.p("")
		var names []string
		for r := 1; r <= mrs[x]; r++ {
			names = append(names, fmt.Sprintf("kern%s_%d", s.name, r))
		}
		g.p("var kerns%s = [...]kernFn{nil, %s}", s.name, strings.Join(names, ", "))
		g.p("")
	}
	g.p("const (")
	g.p("mrAvx512, nrAvx512 = %d, %d", mr512, nv512*16)
	g.p("mrAvx2, nrAvx2 = %d, %d", mr2, nv2*8)
	g.p("rowNRAvx512, rowNRAvx2 = %d, %d", wide512*16, wide2*8)
	g.p(")")
	out, err := format.Source(g.b.Bytes())
	if err != nil {
		panic(err)
	}
	return out
}

// dotTile is the largest dot tile (rows of A × rows of B) each ISA's
// registers hold: mb·nb accumulators plus mb+nb loaded vectors.
func dotTile(s isa) (int, int) {
	if s.nregs == 32 {
		return 4, 4
	}
	return 2, 4
}

func main() {
	if len(os.Args) == 3 { // experiments: go run gen_asm.go MR NV
		fmt.Sscan(os.Args[1], &mr512)
		fmt.Sscan(os.Args[2], &nv512)
	}
	var g gen
	g.p("// Code generated by gen_asm.go; DO NOT EDIT.")
	g.p("")
	g.p("//go:build !purego")
	g.p("")
	g.p("#include \"textflag.h\"")
	g.p("")
	for r := 1; r <= mr512; r++ {
		g.kernel(avx512, fmt.Sprintf("kernAvx512_%d", r), r, nv512, true)
	}
	g.kernel(avx512, "kernAvx512_row", 1, wide512, false)
	g.packNN(avx512, "packNNAvx512", nv512)
	g.packNT("packNTAvx512", nv512*16)
	for i := 1; i <= 4; i++ {
		for j := 1; j <= 4; j++ {
			g.dot(avx512, fmt.Sprintf("dotAvx512_%dx%d", i, j), i, j)
		}
	}
	if err := os.WriteFile("sgemm_avx512_amd64.s", g.b.Bytes(), 0o644); err != nil {
		panic(err)
	}

	var h gen
	h.p("// Code generated by gen_asm.go; DO NOT EDIT.")
	h.p("")
	h.p("//go:build !purego")
	h.p("")
	h.p("#include \"textflag.h\"")
	h.p("")
	h.maskTab(nv2 * 8)
	for r := 1; r <= mr2; r++ {
		h.kernel(avx2, fmt.Sprintf("kernAvx2_%d", r), r, nv2, true)
	}
	h.kernel(avx2, "kernAvx2_row", 1, wide2, false)
	h.packNN(avx2, "packNNAvx2", nv2)
	h.packNT("packNTAvx2", nv2*8)
	h.maskTab(8)
	for i := 1; i <= 2; i++ {
		for j := 1; j <= 4; j++ {
			h.dot(avx2, fmt.Sprintf("dotAvx2_%dx%d", i, j), i, j)
		}
	}
	if err := os.WriteFile("sgemm_avx2_amd64.s", h.b.Bytes(), 0o644); err != nil {
		panic(err)
	}
	if err := os.WriteFile("sgemm_decl_amd64.go", decls([]isa{avx512, avx2}, []int{mr512, mr2}), 0o644); err != nil {
		panic(err)
	}
}
