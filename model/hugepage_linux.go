package model

import (
	"syscall"
	"unsafe"
)

// hugePage is the x86-64 transparent huge page size.
const hugePage = 2 << 20

// adviseHuge asks the kernel to back the 2 MB-aligned interior of s with
// transparent huge pages (MADV_HUGEPAGE). Decoding streams every weight and
// the KV cache each step; on 4 KB pages the walk costs TLB misses (measured:
// a batch-16 GPT-2-small step's Linears 22.6 → 21.7 ms over a MADV_HUGEPAGE
// copy of the weights, BENCHMARKS.md). Where THP is "madvise" only (the
// default on many distributions) nothing else gets huge pages. Call it before
// the memory is first written: pages already faulted in stay small until
// khugepaged collapses them. Small slices and errors are ignored (it is a
// hint).
func adviseHuge[T any](s []T) {
	if len(s) == 0 {
		return
	}
	n := uintptr(len(s)) * unsafe.Sizeof(s[0])
	if n < 2*hugePage {
		return
	}
	p := unsafe.Pointer(&s[0])
	base := uintptr(p)
	lo := (base + hugePage - 1) &^ (hugePage - 1)
	hi := (base + n) &^ (hugePage - 1)
	if hi <= lo {
		return
	}
	// syscall.Madvise takes the range as a []byte over the same memory.
	b := unsafe.Slice((*byte)(unsafe.Add(p, lo-base)), hi-lo)
	_ = syscall.Madvise(b, syscall.MADV_HUGEPAGE)
}
