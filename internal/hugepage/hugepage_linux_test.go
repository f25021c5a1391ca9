package hugepage

import (
	"bufio"
	"fmt"
	"os"
	"strings"
	"testing"
	"unsafe"
)

// TestBytesGetsHugePages: a buffer from Bytes, once written, is backed by
// huge pages in /proc/self/smaps. Only meaningful in the kernel's "madvise"
// mode (in "always" every buffer gets them, in "never" none does).
func TestBytesGetsHugePages(t *testing.T) {
	mode, err := os.ReadFile("/sys/kernel/mm/transparent_hugepage/enabled")
	if err != nil || !strings.Contains(string(mode), "[madvise]") {
		t.Skipf("transparent huge pages not in madvise mode (%q, %v)", mode, err)
	}
	b := Bytes(16 << 20)
	for i := range b {
		b[i] = 1
	}
	p := uintptr(unsafe.Pointer(&b[0]))
	kb, err := anonHugeKB(p, p+uintptr(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	// At least six of the buffer's seven or eight whole 2 MiB pages (the
	// kernel may be short of free huge pages for some).
	if kb < 6*2048 {
		t.Errorf("AnonHugePages of the buffer's mapping = %d kB, want ≥ %d", kb, 6*2048)
	}
	t.Logf("AnonHugePages %d kB", kb)
}

// anonHugeKB returns the AnonHugePages of the /proc/self/smaps mappings
// that overlap [lo, hi) (the advice splits a buffer's mapping in parts).
func anonHugeKB(lo, hi uintptr) (int, error) {
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	in, total, found := false, 0, false
	for sc.Scan() {
		l := sc.Text()
		var a, b uintptr
		if n, _ := fmt.Sscanf(l, "%x-%x", &a, &b); n == 2 && !strings.HasSuffix(strings.Fields(l)[0], ":") {
			in = a < hi && lo < b
			found = found || in
			continue
		}
		if in && strings.HasPrefix(l, "AnonHugePages:") {
			var kb int
			fmt.Sscanf(strings.TrimPrefix(l, "AnonHugePages:"), "%d", &kb)
			total += kb
		}
	}
	if !found {
		return 0, fmt.Errorf("no mapping holds %#x-%#x", lo, hi)
	}
	return total, sc.Err()
}
