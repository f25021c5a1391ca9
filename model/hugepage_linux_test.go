package model

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"unsafe"
)

// vmaHugeKB is the AnonHugePages of the mapping in /proc/self/smaps that
// holds addr. Counting only that mapping keeps the figure independent of
// whatever the Go heap does elsewhere (smaps_rollup moved by megabytes
// between reads while other tests freed memory).
func vmaHugeKB(t *testing.T, addr uintptr) int {
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
		if in && fs[0] == "AnonHugePages:" && len(fs) >= 2 {
			n, _ := strconv.Atoi(fs[1])
			return n
		}
	}
	t.Skip(fmt.Sprintf("no mapping holds %#x in /proc/self/smaps", addr))
	return 0
}

// TestAdviseHuge: a large slice advised before first touch is backed by huge
// pages once written (where the kernel offers THP at all).
func TestAdviseHuge(t *testing.T) {
	if b, err := os.ReadFile("/sys/kernel/mm/transparent_hugepage/enabled"); err != nil || bytes.Contains(b, []byte("[never]")) {
		t.Skip("transparent huge pages unavailable")
	}
	s := make([]float32, 16<<20) // 64 MB
	adviseHuge(s)
	for i := range s {
		s[i] = 1
	}
	// madvise splits the mapping at the advised range, which starts at the
	// first 2 MB boundary inside s, so look at the mapping around s's middle.
	got := vmaHugeKB(t, uintptr(unsafe.Pointer(&s[len(s)/2])))
	if got < 32<<10 {
		t.Fatalf("the mapping of an advised, written 64 MB slice has %d kB of AnonHugePages, want >= 32 MB", got)
	}
	_ = s[len(s)-1]
}
