package tensor

import (
	"runtime"
	"sync/atomic"
)

// maxThreads bounds the goroutines ParallelFor and the matmul kernels use.
var maxThreads = runtime.GOMAXPROCS(0)

// SetThreads sets how many goroutines the kernels may use (n <= 0 restores GOMAXPROCS).
func SetThreads(n int) {
	if n <= 0 {
		n = runtime.GOMAXPROCS(0)
	}
	maxThreads = n
}

// Threads reports the current kernel thread count.
func Threads() int { return maxThreads }

// ParallelFor splits [0,n) into at most Threads() contiguous chunks and runs fn on
// each, on the calling goroutine and Share's workers: a chunk goes to whoever
// is free, so a worker that is slow to arrive never holds one up. minChunk
// keeps tiny loops on the calling goroutine, where handing out would cost
// more than the work.
func ParallelFor(n, minChunk int, fn func(lo, hi int)) {
	if n <= 0 {
		return
	}
	if minChunk < 1 {
		minChunk = 1
	}
	t := maxThreads
	if c := n / minChunk; c < t {
		t = c
	}
	if t <= 1 {
		fn(0, n)
		return
	}
	chunk := (n + t - 1) / t
	chunks := (n + chunk - 1) / chunk
	var next atomic.Int64
	Share(chunks-1, func() {
		for {
			c := int(next.Add(1)) - 1
			if c >= chunks {
				return
			}
			fn(c*chunk, min(c*chunk+chunk, n))
		}
	})
}
