// Package hugepage puts the big, long-lived buffers (model weights, the KV
// cache, a training step's activations) on transparent huge pages where the
// kernel offers them.
//
// Such a buffer is written once and then streamed end to end, every decode
// step or every training step. On 4 KiB pages, filling a 1 GB bf16
// checkpoint took ~262,000 page faults (about half of `align generate`'s
// start-up on a 0.5B model here), and each pass over it crosses a TLB page
// every 4 KiB (a batch-16 GPT-2-small step's Linears: 22.6 → 21.7 ms on huge
// pages, BENCHMARKS.md). Linux's default transparent-huge-page mode on many
// distributions, "madvise", gives 2 MiB pages only to memory that asks
// (MADV_HUGEPAGE), and the Go runtime does not ask for its heap.
package hugepage

import "unsafe"

// Size is the huge page size the advice is aligned to (x86-64's 2 MiB).
const Size = 2 << 20

// Advise asks the kernel to back the whole 2 MiB pages inside s with huge
// pages. Call it before s is first written: pages already faulted in stay
// small until khugepaged collapses them. Slices under two huge pages are
// left alone, and errors are ignored (it is a hint); a no-op off Linux.
func Advise[T any](s []T) {
	if len(s) == 0 {
		return
	}
	p := unsafe.Pointer(&s[0])
	base := uintptr(p)
	lo, hi := interior(base, uintptr(len(s))*unsafe.Sizeof(s[0]))
	if hi > lo {
		advise(unsafe.Slice((*byte)(unsafe.Add(p, lo-base)), hi-lo))
	}
}

// interior returns the whole huge pages [lo, hi) inside the n bytes at
// base, or an empty range when n is under two huge pages.
func interior(base, n uintptr) (lo, hi uintptr) {
	if n < 2*Size {
		return 0, 0
	}
	lo = (base + Size - 1) &^ (Size - 1)
	hi = (base + n) &^ (Size - 1)
	return lo, max(lo, hi)
}

// Bytes returns a zeroed []byte of length n, advised before anything
// touches it.
func Bytes(n int) []byte {
	b := make([]byte, n)
	Advise(b)
	return b
}

// Uint16s returns n zeroed 16-bit values, advised before anything touches
// them.
func Uint16s(n int) []uint16 {
	s := make([]uint16, n)
	Advise(s)
	return s
}
