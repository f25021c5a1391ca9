package nn

import (
	"slices"
	"testing"

	"github.com/align-go/align/internal/cputest"
)

// TestKernelDispatch: on a CPU with the features (read from the OS, not from
// the dispatch's own source) every assembly kernel family is selected, and
// bf16 decoding defaults to the fastest. The kernel tests that skip without
// a feature rely on this never being silently false.
func TestKernelDispatch(t *testing.T) {
	cputest.Check(t, haveDecodeAsm, "AVX-512 decode tiles", "avx512f", "avx512vl")
	cputest.Check(t, haveBF16Asm, "AVX512_BF16 decode tiles", "avx512f", "avx512vl", "avx512_bf16")
	cputest.Check(t, useExpAVX2, "AVX2 exp/GELU", "avx2", "fma")
	cputest.Check(t, slices.Contains(BF16Kernels(), "vdpbf16ps") && BF16Kernel() == "vdpbf16ps",
		"vdpbf16ps as the default bf16 kernel", "avx512f", "avx512vl", "avx512_bf16")
	cputest.Check(t, slices.Contains(BF16Kernels(), "widen"), "the widening bf16 kernel", "avx512f", "avx512vl")
}
