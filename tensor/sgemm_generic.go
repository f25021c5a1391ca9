package tensor

import "unsafe"

// The portable kernels: plain Go over the same strided contract as the
// assembly, so the driver is shared. Used on non-amd64 builds, on amd64
// without AVX2+FMA, and as a second oracle-checked path in tests.

const goMR, goNR = 4, 4

func goImpl() *sgemmImpl {
	im := &sgemmImpl{
		name: "go", mr: goMR, nr: goNR,
		kc: 256, mc: 128, nc: 1024,
		directB: goMR, dotM: dotMax, dotMR: dotMax, dotNR: dotMax,
	}
	for r := 1; r <= goMR; r++ {
		im.kern[r] = kernGo(r)
	}
	for i := 1; i <= dotMax; i++ {
		for j := 1; j <= dotMax; j++ {
			im.dot[i][j] = dotGo(i, j)
		}
	}
	return im
}

// span views n float32s from p. The driver has bounds-checked every access a
// kernel makes against the caller's slices before passing pointers.
func span(p *float32, n int) []float32 { return unsafe.Slice(p, n) }

func kernGo(mr int) kernFn {
	return func(k int, a *float32, rs, ps int, b *float32, bs int, c *float32, ldc, nr, acc int) {
		var t [goMR][goNR]float32
		if mr == goMR {
			t = tile4(k, a, rs, ps, b, bs)
		} else if k > 0 {
			av := span(a, (mr-1)*rs+(k-1)*ps+1)
			bv := span(b, (k-1)*bs+goNR)
			for p := 0; p < k; p++ {
				brow := (*[goNR]float32)(bv[p*bs:])
				for i := 0; i < mr; i++ {
					x := av[i*rs+p*ps]
					ti := &t[i]
					for j := range ti {
						ti[j] += x * brow[j]
					}
				}
			}
		}
		cv := span(c, (mr-1)*ldc+nr)
		for i := 0; i < mr; i++ {
			row := cv[i*ldc : i*ldc+nr]
			if acc != 0 {
				for j := range row {
					row[j] += t[i][j]
				}
			} else {
				copy(row, t[i][:nr])
			}
		}
	}
}

// tile4 is the full-height tile with the accumulators in locals, which the
// compiler keeps in registers where the architecture has enough (arm64).
func tile4(k int, a *float32, rs, ps int, b *float32, bs int) (t [goMR][goNR]float32) {
	if k == 0 {
		return
	}
	av := span(a, 3*rs+(k-1)*ps+1)
	bv := span(b, (k-1)*bs+goNR)
	var c00, c01, c02, c03, c10, c11, c12, c13, c20, c21, c22, c23, c30, c31, c32, c33 float32
	for p := 0; p < k; p++ {
		br := (*[goNR]float32)(bv[p*bs:])
		b0, b1, b2, b3 := br[0], br[1], br[2], br[3]
		o := p * ps
		a0, a1, a2, a3 := av[o], av[o+rs], av[o+2*rs], av[o+3*rs]
		c00 += a0 * b0
		c01 += a0 * b1
		c02 += a0 * b2
		c03 += a0 * b3
		c10 += a1 * b0
		c11 += a1 * b1
		c12 += a1 * b2
		c13 += a1 * b3
		c20 += a2 * b0
		c21 += a2 * b1
		c22 += a2 * b2
		c23 += a2 * b3
		c30 += a3 * b0
		c31 += a3 * b1
		c32 += a3 * b2
		c33 += a3 * b3
	}
	t[0] = [goNR]float32{c00, c01, c02, c03}
	t[1] = [goNR]float32{c10, c11, c12, c13}
	t[2] = [goNR]float32{c20, c21, c22, c23}
	t[3] = [goNR]float32{c30, c31, c32, c33}
	return
}

func dotGo(mb, nb int) dotFn {
	return func(k int, a *float32, lda int, b *float32, ldb int, c *float32, ldc, acc int) {
		av := span(a, (mb-1)*lda+k)
		bv := span(b, (nb-1)*ldb+k)
		cv := span(c, (mb-1)*ldc+nb)
		for i := 0; i < mb; i++ {
			ar := av[i*lda : i*lda+k]
			for j := 0; j < nb; j++ {
				br := bv[j*ldb : j*ldb+k]
				var s float32
				for p, x := range ar {
					s += x * br[p]
				}
				if acc != 0 {
					cv[i*ldc+j] += s
				} else {
					cv[i*ldc+j] = s
				}
			}
		}
	}
}
