package tensor

import "unsafe"

// The portable kernels: plain Go over the same strided contract as the
// assembly, so the driver is shared. Used on non-amd64 builds, on amd64
// without AVX2+FMA, and as a second oracle-checked path in tests.

const goMR, goNR = 4, 8

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
		if k > 0 {
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
