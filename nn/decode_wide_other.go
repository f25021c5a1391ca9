//go:build !amd64 || purego

package nn

func decW12x32AVX512(k int, w *float32, ldw int, xt *float32, c *float32, acc int, pf *float32) {
	panic("unreachable")
}

func decW12x16AVX512(k int, w *float32, ldw int, xt *float32, c *float32, acc int, pf *float32) {
	panic("unreachable")
}

func packXT16AVX512(k16 int, x *float32, ldx int, dst *float32, ldd int) { panic("unreachable") }

func wideStoreT(c *float32, n int, out *float32, ldo int, bias *float32) { panic("unreachable") }

func decWB12x32BF16(k int, w *uint16, ldw int, xt *float32, c *float32, acc int, pf *uint16) {
	panic("unreachable")
}

func decWB12x16BF16(k int, w *uint16, ldw int, xt *float32, c *float32, acc int, pf *uint16) {
	panic("unreachable")
}
