package main

import "fmt"

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
