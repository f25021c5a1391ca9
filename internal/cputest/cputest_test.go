package cputest

import (
	"runtime"
	"testing"

	"golang.org/x/sys/cpu"
)

// The operating system's view and x/sys/cpu's agree on the features the
// kernels use; a disagreement means one of them is misread.
func TestHasAgreesWithCPUID(t *testing.T) {
	if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" || procFlags() == nil {
		t.Skip("needs /proc/cpuinfo on linux/amd64")
	}
	for name, has := range map[string]bool{"avx2": cpu.X86.HasAVX2, "fma": cpu.X86.HasFMA,
		"avx512f": cpu.X86.HasAVX512F, "avx512vl": cpu.X86.HasAVX512VL, "avx512_bf16": cpu.X86.HasAVX512BF16} {
		if Has(name) != has {
			t.Errorf("%s: /proc/cpuinfo %v, CPUID %v", name, Has(name), has)
		}
	}
	if Has("no_such_flag") {
		t.Error("an unknown flag reads as present")
	}
}
