package tensor

import (
	"runtime"
	"sync"
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
// each in its own goroutine. minChunk keeps tiny loops on the calling goroutine,
// where spawning would cost more than the work.
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
	var wg sync.WaitGroup
	chunk := (n + t - 1) / t
	for lo := 0; lo < n; lo += chunk {
		hi := lo + chunk
		if hi > n {
			hi = n
		}
		if hi == n {
			fn(lo, hi) // the caller does the last chunk itself
			break
		}
		wg.Add(1)
		go func(lo, hi int) {
			defer wg.Done()
			fn(lo, hi)
		}(lo, hi)
	}
	wg.Wait()
}
