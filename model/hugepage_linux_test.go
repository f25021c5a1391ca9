package model

import (
	"bytes"
	"os"
	"strconv"
	"strings"
	"testing"
)

// anonHugeKB is this process's AnonHugePages from /proc/self/smaps_rollup.
func anonHugeKB(t *testing.T) int {
	b, err := os.ReadFile("/proc/self/smaps_rollup")
	if err != nil {
		t.Skip(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "AnonHugePages:" {
			n, _ := strconv.Atoi(f[1])
			return n
		}
	}
	t.Skip("no AnonHugePages in smaps_rollup")
	return 0
}

// TestAdviseHuge: a large slice advised before first touch is backed by huge
// pages once written (where the kernel offers THP at all).
func TestAdviseHuge(t *testing.T) {
	if b, err := os.ReadFile("/sys/kernel/mm/transparent_hugepage/enabled"); err != nil || bytes.Contains(b, []byte("[never]")) {
		t.Skip("transparent huge pages unavailable")
	}
	before := anonHugeKB(t)
	s := make([]float32, 16<<20) // 64 MB
	adviseHuge(s)
	for i := range s {
		s[i] = 1
	}
	got := anonHugeKB(t) - before
	if got < 32<<10 {
		t.Fatalf("AnonHugePages grew by %d kB after writing an advised 64 MB slice, want >= 32 MB", got)
	}
	_ = s[len(s)-1]
}
