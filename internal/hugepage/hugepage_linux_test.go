package hugepage

import (
	"bufio"
	"bytes"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unsafe"
)

// vmaField returns the fields after key (e.g. "VmFlags:") in the mapping of
// /proc/self/smaps that holds addr. Reading only that mapping keeps the
// answer independent of whatever the Go heap does elsewhere.
func vmaField(t *testing.T, addr uintptr, key string) []string {
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		t.Skip(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	in := false
	for sc.Scan() {
		l := sc.Text()
		fs := strings.Fields(l)
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
		if in && fs[0] == key {
			return fs[1:]
		}
	}
	t.Fatalf("no %s for the mapping holding %#x in /proc/self/smaps", key, addr)
	return nil
}

// TestAdvise: a large slice's 2 MiB-aligned interior is advised
// MADV_HUGEPAGE (VmFlags "hg"), whether from Advise or Bytes. Whether the
// kernel then finds free huge pages depends on the machine's memory state
// (after hours of heavy use it gave 8 MB of 64), so the test checks the
// advice, which is what this package controls; the speed it buys is
// measured in BENCHMARKS.md.
func TestAdvise(t *testing.T) {
	if b, err := os.ReadFile("/sys/kernel/mm/transparent_hugepage/enabled"); err != nil || bytes.Contains(b, []byte("[never]")) {
		t.Skip("transparent huge pages unavailable")
	}
	s := make([]float32, 16<<20) // 64 MB
	Advise(s)
	// madvise splits the mapping at the advised range (the 2 MiB-aligned
	// interior), so look at the mapping around the middle.
	if !slices.Contains(vmaField(t, uintptr(unsafe.Pointer(&s[len(s)/2])), "VmFlags:"), "hg") {
		t.Fatal("the middle of an advised 64 MB slice is not MADV_HUGEPAGE")
	}
	b := Bytes(16 << 20)
	if !slices.Contains(vmaField(t, uintptr(unsafe.Pointer(&b[len(b)/2])), "VmFlags:"), "hg") {
		t.Fatal("the middle of a 16 MB Bytes buffer is not MADV_HUGEPAGE")
	}
}
