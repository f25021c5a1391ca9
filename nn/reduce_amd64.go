//go:build !purego

package nn

//go:noescape
func sum64AVX512(x *float32, n int) float64

//go:noescape
func sumSqDev64AVX512(x *float32, n int, m float64) float64

//go:noescape
func lnApplyAVX512(o, x, w, b *float32, n int, mf, rf float32)
