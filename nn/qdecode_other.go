//go:build !amd64 || purego

package nn

var haveQ4Asm = false

func dot1x4Int8AVX512(k int, x *float32, w *byte, ldw, groups int, absmax *float32, out *float32) {
	panic("unreachable")
}

func dot1x4Q4VBMI(k int, x *float32, w *byte, ldw, groups int, absmax *float32, lda int, lv *[16]float32, c *[320]byte, out *float32) {
	panic("unreachable")
}

var haveVNNIAsm = false

func dot1x4Int8VNNI(k int, xa *q8Block, w *byte, ldw, groups int, absmax *float32, out *float32) {
	panic("unreachable")
}

func quantizeActAVX512(xa *q8Block, x *float32, nb int) { panic("unreachable") }
