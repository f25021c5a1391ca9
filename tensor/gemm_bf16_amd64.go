//go:build !purego

package tensor

import "golang.org/x/sys/cpu"

// haveBF16DP: the VDPBF16PS kernels and their packers, which also use
// AVX512BW word permutes.
var haveBF16DP = cpu.X86.HasAVX512F && cpu.X86.HasAVX512VL && cpu.X86.HasAVX512BW && cpu.X86.HasAVX512BF16
