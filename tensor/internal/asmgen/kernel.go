package main

import "fmt"

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
