//go:build !purego

package nn

//go:noescape
func decW12x32AVX512(k int, w *float32, ldw int, xt *float32, c *float32, acc int, pf *float32)

//go:noescape
func decW12x16AVX512(k int, w *float32, ldw int, xt *float32, c *float32, acc int, pf *float32)

//go:noescape
func packXT16AVX512(k16 int, x *float32, ldx int, dst *float32, ldd int)

//go:noescape
func wideStoreT(c *float32, n int, out *float32, ldo int, bias *float32)
