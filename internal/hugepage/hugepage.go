// Package hugepage allocates the big, long-lived buffers that hold model
// weights on transparent huge pages where the kernel offers them.
//
// A weight buffer is written once while loading and then streamed end to
// end on every decode step. On 4 KiB pages, filling a 1 GB bf16 checkpoint
// took ~262,000 page faults (about half of `align generate`'s 4.4 s start
// on a 0.5B model here), and each step's stream crosses a TLB page every
// 4 KiB. Linux's default transparent-huge-page mode, "madvise", gives 2 MiB
// pages only to memory that asks (MADV_HUGEPAGE), and the Go runtime does
// not ask for its heap, so the weights ask here.
package hugepage

import "unsafe"

// Size is the huge page size the advice is aligned to.
const Size = 2 << 20

// Bytes returns a zeroed []byte of length n whose whole 2 MiB pages are
// advised onto huge pages (before anything touches them).
func Bytes(n int) []byte {
	b := make([]byte, n)
	Advise(b)
	return b
}

// Uint16s is Bytes for n 16-bit values.
func Uint16s(n int) []uint16 {
	if n == 0 {
		return []uint16{}
	}
	b := Bytes(2 * n)
	return unsafe.Slice((*uint16)(unsafe.Pointer(&b[0])), n)
}

// Advise asks for huge pages for the whole 2 MiB pages inside b; buffers
// under two huge pages are left alone. A no-op off Linux and where the
// kernel refuses.
func Advise(b []byte) {
	if len(b) < 2*Size {
		return
	}
	p := uintptr(unsafe.Pointer(&b[0]))
	start := (p + Size - 1) &^ (Size - 1)
	end := (p + uintptr(len(b))) &^ (Size - 1)
	if end > start {
		advise(b[start-p : end-p])
	}
}
