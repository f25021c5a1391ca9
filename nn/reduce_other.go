//go:build !amd64 || purego

package nn

func sum64AVX512(x *float32, n int) float64 { panic("unreachable") }

func sumSqDev64AVX512(x *float32, n int, m float64) float64 { panic("unreachable") }

func lnApplyAVX512(o, x, w, b *float32, n int, mf, rf float32) { panic("unreachable") }
