//go:build !amd64 || purego

package tensor

import "unsafe"

// Without the assembly GemmPrec(BF16) takes the conversion path.
const haveBF16DP = false

var kernsBF16 [bf16MR + 1]kernBF16Fn

func packBF16TF32(kq16 int, src unsafe.Pointer, ld int, dst *uint16)        { panic("unreachable") }
func packBF16TU16(kq16 int, src unsafe.Pointer, ld int, dst *uint16)        { panic("unreachable") }
func packBF16NF32(kq int, src unsafe.Pointer, ld int, dst *uint16, ldd int) { panic("unreachable") }
func packBF16NU16(kq int, src unsafe.Pointer, ld int, dst *uint16, ldd int) { panic("unreachable") }
func toBF16Asm(n int, src *float32, dst *uint16)                            { panic("unreachable") }
