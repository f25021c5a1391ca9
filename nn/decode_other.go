//go:build !amd64 || purego

package nn

var haveDecodeAsm = false

func dot4x4AVX512(k int, x *float32, ldx int, w *float32, ldw int, state *float32, mode int, out *float32, ldo int, pf *float32) {
	panic("unreachable")
}

func dot1x4AVX512(k int, x *float32, w *float32, ldw, groups int, out *float32) {
	panic("unreachable")
}

func axpyRowsAVX512(n, s int, p *float32, v *float32, ldv int, out *float32) { panic("unreachable") }
