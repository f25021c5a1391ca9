// Package cputest tells kernel tests which vector instruction sets this CPU
// has, read from the operating system (Linux's /proc/cpuinfo flags) rather
// than from x/sys/cpu, the source the kernels' runtime dispatch reads. A
// kernel test that would skip on a CPU without the feature calls Require:
// on a CPU that has it, a dispatch left off (a wrong feature check, a flag
// a test forgot to restore) fails the test instead of silently skipping it.
package cputest

import (
	"bufio"
	"os"
	"strings"
	"sync"
	"testing"

	"golang.org/x/sys/cpu"
)

var (
	flagsOnce sync.Once
	osFlags   map[string]bool // nil where /proc/cpuinfo cannot be read
)

// procFlags parses the first "flags" line of /proc/cpuinfo.
func procFlags() map[string]bool {
	flagsOnce.Do(func() {
		f, err := os.Open("/proc/cpuinfo")
		if err != nil {
			return
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			k, v, ok := strings.Cut(sc.Text(), ":")
			if !ok || strings.TrimSpace(k) != "flags" {
				continue
			}
			osFlags = map[string]bool{}
			for _, fl := range strings.Fields(v) {
				osFlags[fl] = true
			}
			return
		}
	})
	return osFlags
}

// fallback maps the flag names used here to x/sys/cpu, for systems without
// /proc/cpuinfo.
var fallback = map[string]bool{
	"avx2":        cpu.X86.HasAVX2,
	"fma":         cpu.X86.HasFMA,
	"avx512f":     cpu.X86.HasAVX512F,
	"avx512vl":    cpu.X86.HasAVX512VL,
	"avx512_bf16": cpu.X86.HasAVX512BF16,
}

// Has reports whether the CPU has every named feature, by Linux's
// /proc/cpuinfo flag names ("avx2", "fma", "avx512f", "avx512vl",
// "avx512_bf16"). The kernel lists a flag only when it also saves that
// register state, the same condition x/sys/cpu checks.
func Has(flags ...string) bool {
	set := procFlags()
	for _, f := range flags {
		if set != nil {
			if !set[f] {
				return false
			}
		} else if !fallback[f] {
			return false
		}
	}
	return true
}

// Require skips t when the kernel cannot run here (the build has no
// assembly, or the CPU lacks one of flags) and fails it when the CPU has
// every flag but taken, the dispatch's own choice, is false.
func Require(t testing.TB, taken bool, kernel string, flags ...string) {
	t.Helper()
	if !AsmBuild {
		t.Skipf("%s: this build has no assembly (purego or not amd64)", kernel)
	}
	if !Has(flags...) {
		t.Skipf("%s: the CPU lacks one of %v", kernel, flags)
	}
	if !taken {
		t.Fatalf("%s: the CPU has %v but the kernel is not selected", kernel, flags)
	}
}

// Check is Require for tests that also cover the portable path and so never
// skip: it fails only when the kernel should run here and is not selected.
func Check(t testing.TB, taken bool, kernel string, flags ...string) {
	t.Helper()
	if AsmBuild && Has(flags...) && !taken {
		t.Errorf("%s: the CPU has %v but the kernel is not selected", kernel, flags)
	}
}
