//go:build !purego

package nn

import "golang.org/x/sys/cpu"

// haveDecodeAsm: the decode kernels need AVX-512F, and AVX-512VL for the
// EVEX-encoded 256-bit adds of the reduction.
var haveDecodeAsm = cpu.X86.HasAVX512F && cpu.X86.HasAVX512VL

//go:noescape
func dot4x4AVX512(k int, x *float32, ldx int, w *float32, ldw int, state *float32, mode int, out *float32, ldo int, pf *float32)

//go:noescape
func dot1x4AVX512(k int, x *float32, w *float32, ldw, groups int, out *float32)

//go:noescape
func axpyRowsAVX512(n, s int, p *float32, v *float32, ldv int, out *float32)
