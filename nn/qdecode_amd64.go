//go:build !purego

package nn

import "golang.org/x/sys/cpu"

// haveQ4Asm: the 4-bit kernel spreads codes to lanes with AVX512_VBMI's
// VPERMB (Ice Lake and later, Zen 4 and 5).
var haveQ4Asm = haveDecodeAsm && cpu.X86.HasAVX512VBMI

//go:noescape
func dot1x4Int8AVX512(k int, x *float32, w *byte, ldw, groups int, absmax *float32, out *float32)

//go:noescape
func dot1x4Q4VBMI(k int, x *float32, w *byte, ldw, groups int, absmax *float32, lda int, lv *[16]float32, c *[320]byte, out *float32)

// haveVNNIAsm: the int8-activation kernel's integer dot products are
// AVX512_VNNI's VPDPBUSD (Ice Lake and later, Zen 4 and 5).
var haveVNNIAsm = haveDecodeAsm && cpu.X86.HasAVX512VNNI

//go:noescape
func dot1x4Int8VNNI(k int, xa *q8Block, w *byte, ldw, groups int, absmax *float32, out *float32)

//go:noescape
func quantizeActAVX512(xa *q8Block, x *float32, nb int)
