package tensor

import (
	"runtime"
	"sync/atomic"
	"syscall"
	"testing"
)

// BenchmarkShareShortRegions runs back-to-back regions of the size batch-1
// decoding makes (16 pieces of a few microseconds each, ~120 regions a
// step) and reports how many of the pieces the helpers took: with every
// core free it should be near (threads-1)/threads; a helper that joins late
// leaves its share to the caller.
//
//	go test ./tensor -run '^$' -bench ShareShortRegions -benchtime 20000x
func BenchmarkShareShortRegions(b *testing.B) {
	th := Threads()
	if th < 2 {
		b.Skip("one thread")
	}
	const pieces = 16
	var sink atomic.Int64
	spin := func() { // ~3 µs of arithmetic
		x := int64(1)
		for k := 0; k < 3000; k++ {
			x = x*6364136223846793005 + 1442695040888963407
		}
		sink.Add(x & 1)
	}
	var helperPieces atomic.Int64
	runtime.LockOSThread() // the caller is the thread that calls Share
	defer runtime.UnlockOSThread()
	me := syscall.Gettid()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var next atomic.Int64
		Share(th-1, func() {
			helper := syscall.Gettid() != me
			for next.Add(1) <= pieces {
				spin()
				if helper {
					helperPieces.Add(1)
				}
			}
		})
	}
	b.ReportMetric(float64(helperPieces.Load())/float64(b.N*pieces), "helper-share")
}
