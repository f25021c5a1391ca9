//go:build !purego

package nn

import "golang.org/x/sys/cpu"

// useExpAVX2 selects the 8-wide exp; every AVX2 x86 also has FMA in practice,
// but both are checked.
var useExpAVX2 = cpu.X86.HasAVX2 && cpu.X86.HasFMA

//go:noescape
func expShiftAVX2(dst, src *float32, n int, a, scale, b float32)

// expShift sets dst[i] = exp((src[i]-a)*scale - b), vectorised where the CPU
// allows. Accurate to a couple of float32 ulps; arguments below about -87.34
// (including -Inf) may flush to 0, and arguments above 88.37 may saturate
// instead of overflowing: callers pass max-shifted, non-positive arguments.
// dst may alias src.
func expShift(dst, src []float32, a, scale, b float32) {
	n := len(src)
	dst = dst[:n]
	i := 0
	if useExpAVX2 && n >= 8 {
		i = n &^ 7
		expShiftAVX2(&dst[0], &src[0], i, a, scale, b)
	}
	for ; i < n; i++ {
		dst[i] = expf(min((src[i]-a)*scale-b, expHi))
	}
}
