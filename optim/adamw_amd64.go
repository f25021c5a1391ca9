//go:build !purego

package optim

import "golang.org/x/sys/cpu"

//go:noescape
func adamwAVX2(p, grad, m, v *float32, n int, k *[8]float32)

var useAdamAVX2 = cpu.X86.HasAVX2

// adamwVec updates the longest multiple-of-8 prefix with AVX2 and returns how
// many elements it did; the scalar loop finishes the rest.
func adamwVec(p, g, m, v []float32, k *[8]float32) int {
	n := len(p) &^ 7
	if !useAdamAVX2 || n == 0 {
		return 0
	}
	adamwAVX2(&p[0], &g[0], &m[0], &v[0], n, k)
	return n
}
