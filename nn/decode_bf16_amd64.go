//go:build !purego

package nn

import "golang.org/x/sys/cpu"

// haveBF16Asm: AVX512_BF16 (VDPBF16PS, VCVTNEPS2BF16) beside the AVX-512
// the other decode kernels need (Zen 4 and 5, Sapphire Rapids and later).
var haveBF16Asm = haveDecodeAsm && cpu.X86.HasAVX512BF16

// bf16Kernel is the kernel family dotRowsBF16 uses (tests switch it).
var bf16Kernel = bestBF16Kernel()

func bestBF16Kernel() int {
	switch {
	case haveBF16Asm:
		return kernBF16DP
	case haveDecodeAsm:
		return kernBF16Cvt
	}
	return kernF32 // no assembly: dotRowsBF16 runs Go only
}

//go:noescape
func dot4x4BF16DP(k int, x *uint16, ldx int, w *uint16, ldw int, state *float32, mode int, out *float32, ldo int, pf *uint16)

//go:noescape
func dot1x4BF16DP(k int, x *uint16, w *uint16, ldw, groups int, out *float32)

//go:noescape
func dot4x4BF16Cvt(k int, x *float32, ldx int, w *uint16, ldw int, state *float32, mode int, out *float32, ldo int, pf *uint16)

//go:noescape
func dot1x4BF16Cvt(k int, x *float32, w *uint16, ldw, groups int, out *float32)
