package nn

import (
	"math"
	"testing"
)

// TestRowReductions: sum64 and sumSqDev64 (assembly for the multiple-of-16
// part where the CPU has AVX-512, Go for the rest) against plain float64
// loops, for lengths around the 16- and 32-element steps; and LayerNorm's
// apply pass, assembly and Go, against its formula in float64.
func TestRowReductions(t *testing.T) {
	r := newRNG(51)
	for _, n := range []int{0, 1, 15, 16, 17, 31, 32, 33, 48, 63, 64, 65, 100, 768, 3072, 3077} {
		x := randn(r, n, 3)
		for i := range x {
			x[i] += 5 // a mean far from zero: the two-pass variance matters
		}
		var s, sq float64
		for _, v := range x {
			s += float64(v)
		}
		m := 0.0
		if n > 0 {
			m = s / float64(n)
		}
		for _, v := range x {
			d := float64(v) - m
			sq += d * d
		}
		if got := sum64(x); math.Abs(got-s) > 1e-12*(1+math.Abs(s)) {
			t.Errorf("n=%d: sum64 %v, want %v", n, got, s)
		}
		if got := sumSqDev64(x, m); math.Abs(got-sq) > 1e-12*(1+sq) {
			t.Errorf("n=%d: sumSqDev64 %v, want %v", n, got, sq)
		}
	}
	for _, C := range []int{8, 16, 40, 768} {
		const N = 3
		inp, w, b := randn(r, N*C, 2), randn(r, C, 1), randn(r, C, 1)
		for _, bias := range []bool{false, true} {
			var bb []float32
			if bias {
				bb = b
			}
			out, mean, rstd := make([]float32, N*C), make([]float32, N), make([]float32, N)
			LayerNormForward(out, mean, rstd, inp, w, bb, N, C, 1e-5)
			for i := 0; i < N; i++ {
				for j := 0; j < C; j++ {
					// The apply pass rounds as the Go loop does: (x-m), ·r, ·w, +b.
					want := (inp[i*C+j] - mean[i]) * rstd[i] * w[j]
					if bias {
						want += b[j]
					}
					if got := out[i*C+j]; got != want {
						t.Fatalf("C=%d bias=%v [%d,%d]: %v, want %v", C, bias, i, j, got, want)
					}
				}
			}
		}
	}
}
