package optim

import (
	"testing"
	"unsafe"

	"github.com/align-go/align/internal/hugepage"
)

// TestMomentsOnHugePages: AdamW's two moments (8 bytes a parameter, read
// and written in full every step) are advised onto huge pages: on 4 KiB
// pages a 0.5B full fine-tune's first step spent seconds faulting in its
// 4 GB of moments (BENCHMARKS.md).
func TestMomentsOnHugePages(t *testing.T) {
	n := 4 << 20 // 16 MB a moment
	o, err := NewAdamW(DefaultAdamWConfig(), []Span{{Name: "w", Offset: 0, Size: n, Decay: true}}, n)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range []struct {
		what string
		s    []float32
	}{{"first moment", o.m}, {"second moment", o.v}} {
		ok, err := hugepage.Advised(uintptr(unsafe.Pointer(&b.s[len(b.s)/2])))
		if err != nil {
			t.Skip(err)
		}
		if !ok {
			t.Errorf("the middle of the %s is not MADV_HUGEPAGE", b.what)
		}
	}
}
