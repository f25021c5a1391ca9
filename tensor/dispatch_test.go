package tensor

import (
	"testing"

	"github.com/align-go/align/internal/cputest"
)

// TestGemmDispatch: on a CPU with the features (read from the OS, not from
// x/sys/cpu, which archImpls reads) the AVX-512 and AVX2 kernels are among
// the implementations TestGemmKernels and TestGemmParallel iterate, and
// AVX-512 is the default. Without this a wrong feature check would shrink
// those tests to the portable kernel and still pass.
func TestGemmDispatch(t *testing.T) {
	has := func(name string) bool {
		for _, im := range impls {
			if im.name == name {
				return true
			}
		}
		return false
	}
	cputest.Check(t, has("avx512"), "AVX-512 sgemm", "avx512f", "avx512vl")
	cputest.Check(t, has("avx2"), "AVX2 sgemm", "avx2", "fma")
	cputest.Check(t, impls[0].name == "avx512", "AVX-512 sgemm as the default", "avx512f", "avx512vl")
	if impls[len(impls)-1].name != "go" {
		t.Errorf("the portable kernel is not last in %d impls", len(impls))
	}
}
