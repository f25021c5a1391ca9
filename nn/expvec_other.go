//go:build !amd64 || purego

package nn

const useExpAVX2 = false

// expShift sets dst[i] = exp((src[i]-a)*scale - b); see the amd64 version.
func expShift(dst, src []float32, a, scale, b float32) {
	dst = dst[:len(src)]
	for i, x := range src {
		dst[i] = expf(min((x-a)*scale-b, expHi))
	}
}
