package tensor

import "testing"

// TestRaggedPanelLongK is the regression test for a crash: with few rows
// (B read in place) and a ragged last column panel, k beyond one cache block
// overflowed the spare panel. LoRA's weight gradients (m = rank) hit it.
func TestRaggedPanelLongK(t *testing.T) {
	for _, m := range []int{1, 2, 4, 8} {
		for _, n := range []int{5, 13, 37, 1000} {
			for _, k := range []int{255, 257, 300, 1200} {
				a := make([]float32, m*k)
				b := make([]float32, k*n)
				for i := range a {
					a[i] = float32(i%7) - 3
				}
				for i := range b {
					b[i] = float32(i%5) - 2
				}
				for _, transA := range []bool{false, true} {
					lda := k
					if transA {
						lda = m
					}
					got := make([]float32, m*n)
					want := make([]float32, m*n)
					GemmSerial(transA, false, m, n, k, a, lda, b, n, got, n, false)
					gemmRef(transA, false, m, n, k, a, lda, b, n, want, n, false)
					for i := range got {
						if got[i] != want[i] {
							t.Fatalf("m=%d n=%d k=%d transA=%v: C[%d] = %g, want %g", m, n, k, transA, i, got[i], want[i])
						}
					}
				}
			}
		}
	}
}
