package hugepage

import (
	"testing"
	"unsafe"
)

// advisedAt fails the test unless the mapping holding p is MADV_HUGEPAGE,
// skipping where that cannot be told.
func advisedAt(t *testing.T, p unsafe.Pointer, what string) {
	t.Helper()
	ok, err := Advised(uintptr(p))
	if err != nil {
		t.Skip(err)
	}
	if !ok {
		t.Fatalf("%s is not MADV_HUGEPAGE", what)
	}
}

// TestAdvise: a large slice's 2 MiB-aligned interior is advised
// MADV_HUGEPAGE (VmFlags "hg"), whether from Advise or Bytes, and a plain
// slice is not. Whether the kernel then finds free huge pages depends on
// the machine's memory state (after hours of heavy use it gave 8 MB of 64),
// so the test checks the advice, which is what this package controls; the
// speed it buys is measured in BENCHMARKS.md.
func TestAdvise(t *testing.T) {
	plain := make([]float32, 16<<20)
	if ok, err := Advised(uintptr(unsafe.Pointer(&plain[len(plain)/2]))); err == nil && ok {
		t.Fatal("an unadvised 64 MB slice reads as MADV_HUGEPAGE: Advised cannot tell")
	}
	s := make([]float32, 16<<20) // 64 MB
	Advise(s)
	// madvise splits the mapping at the advised range (the 2 MiB-aligned
	// interior), so look at the mapping around the middle.
	advisedAt(t, unsafe.Pointer(&s[len(s)/2]), "the middle of an advised 64 MB slice")
	b := Bytes(16 << 20)
	advisedAt(t, unsafe.Pointer(&b[len(b)/2]), "the middle of a 16 MB Bytes buffer")
}
