//go:build !amd64 || purego

package nn

var haveBF16Asm = false

var bf16Kernel = kernF32 // Go only

func dot4x4BF16DP(k int, x *uint16, ldx int, w *uint16, ldw int, state *float32, mode int, out *float32, ldo int, pf *uint16) {
	panic("unreachable")
}

func dot1x4BF16DP(k int, x *uint16, w *uint16, ldw, groups int, out *float32) { panic("unreachable") }

func dot4x4BF16Cvt(k int, x *float32, ldx int, w *uint16, ldw int, state *float32, mode int, out *float32, ldo int, pf *uint16) {
	panic("unreachable")
}

func dot1x4BF16Cvt(k int, x *float32, w *uint16, ldw, groups int, out *float32) { panic("unreachable") }
