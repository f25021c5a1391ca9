package hugepage

import (
	"bufio"
	"errors"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
)

func advise(b []byte) { _ = syscall.Madvise(b, syscall.MADV_HUGEPAGE) }

// Advised reports whether the mapping holding addr carries MADV_HUGEPAGE
// (VmFlags "hg" in /proc/self/smaps), for tests of the packages that call
// Advise. It reads only that mapping, so the answer does not depend on what
// the Go heap does elsewhere; an error means it could not tell (no smaps,
// or transparent huge pages switched off).
func Advised(addr uintptr) (bool, error) {
	if b, err := os.ReadFile("/sys/kernel/mm/transparent_hugepage/enabled"); err != nil || strings.Contains(string(b), "[never]") {
		return false, errors.New("transparent huge pages unavailable")
	}
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		return false, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	in := false
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) == 0 {
			continue
		}
		if lo, hi, ok := strings.Cut(fs[0], "-"); ok && !strings.HasSuffix(fs[0], ":") {
			a, err1 := strconv.ParseUint(lo, 16, 64)
			b, err2 := strconv.ParseUint(hi, 16, 64)
			if err1 == nil && err2 == nil {
				in = uint64(addr) >= a && uint64(addr) < b
				continue
			}
		}
		if in && fs[0] == "VmFlags:" {
			return slices.Contains(fs[1:], "hg"), nil
		}
	}
	if err := sc.Err(); err != nil {
		return false, err
	}
	return false, errors.New("no mapping holds the address")
}
