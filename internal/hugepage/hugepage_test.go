package hugepage

import "testing"

// TestInterior: the advised range is the whole 2 MiB pages inside a
// buffer, worked by hand; nothing under two huge pages.
func TestInterior(t *testing.T) {
	const M = 1 << 20
	for _, c := range []struct{ base, n, lo, hi uintptr }{
		{0, 4 * M, 0, 4 * M},                // aligned: both pages
		{1 * M, 4 * M, 2 * M, 4 * M},        // 1..5 MiB: the page at 2..4
		{1 * M, 6 * M, 2 * M, 6 * M},        // 1..7 MiB: pages at 2 and 4
		{2*M + 1, 4*M + 4096, 4 * M, 6 * M}, // just past a boundary
		{0, 4*M - 1, 0, 0},                  // one byte short of two pages: left alone
		{1 * M, 5*M + 1, 2 * M, 6 * M},      // 1..6 MiB+1
		{0, 3 * M, 0, 0},                    // under two huge pages
		{0, 2*M - 1, 0, 0},
	} {
		lo, hi := interior(c.base, c.n)
		if lo != c.lo || hi != c.hi {
			t.Errorf("interior(%#x, %#x) = [%#x, %#x), want [%#x, %#x)", c.base, c.n, lo, hi, c.lo, c.hi)
		}
	}
}
