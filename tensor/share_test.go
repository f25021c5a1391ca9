package tensor

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// claimAll is a Share work function over n pieces: each piece is claimed
// once from a shared counter and marked done.
func claimAll(n int, next *atomic.Int64, done []atomic.Int32, inner func(i int)) func() {
	return func() {
		for {
			i := int(next.Add(1)) - 1
			if i >= n {
				return
			}
			done[i].Add(1)
			if inner != nil {
				inner(i)
			}
		}
	}
}

// TestShareRunsEveryPieceOnce: every piece runs exactly once however many
// helpers join, and Share returns only after the pieces helpers took are
// finished (a piece that sleeps must be done when Share returns).
func TestShareRunsEveryPieceOnce(t *testing.T) {
	for _, helpers := range []int{0, 1, 3, 8} {
		for rep := 0; rep < 50; rep++ {
			const n = 37
			var next atomic.Int64
			done := make([]atomic.Int32, n)
			var finished atomic.Int32
			Share(helpers, claimAll(n, &next, done, func(i int) {
				if i%5 == 0 {
					time.Sleep(20 * time.Microsecond)
				}
				finished.Add(1)
			}))
			if got := finished.Load(); got != n {
				t.Fatalf("helpers %d: Share returned with %d of %d pieces finished", helpers, got, n)
			}
			for i := range done {
				if c := done[i].Load(); c != 1 {
					t.Fatalf("helpers %d: piece %d ran %d times", helpers, i, c)
				}
			}
		}
	}
}

// TestShareNested: work that itself calls Share (a parallel loop inside a
// parallel loop) and Shares from several goroutines at once finish without
// deadlock, even though the pool's workers may all be busy.
func TestShareNested(t *testing.T) {
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for rep := 0; rep < 20; rep++ {
				const n = 8
				var next atomic.Int64
				done := make([]atomic.Int32, n)
				var inner atomic.Int64
				Share(2, claimAll(n, &next, done, func(int) {
					ParallelFor(64, 1, func(lo, hi int) { inner.Add(int64(hi - lo)) })
				}))
				if got := inner.Load(); got != n*64 {
					t.Errorf("nested ParallelFor covered %d of %d", got, n*64)
				}
			}
		}()
	}
	wg.Wait()
}

// TestParallelForCovers: ParallelFor's chunks cover [0,n) exactly once for
// sizes around the thread count.
func TestParallelForCovers(t *testing.T) {
	old := Threads()
	defer SetThreads(old)
	for _, threads := range []int{1, 2, 3, 7} {
		SetThreads(threads)
		for n := 0; n < 40; n++ {
			for _, minChunk := range []int{0, 1, 3, 50} {
				seen := make([]atomic.Int32, n)
				ParallelFor(n, minChunk, func(lo, hi int) {
					for i := lo; i < hi; i++ {
						seen[i].Add(1)
					}
				})
				for i := range seen {
					if c := seen[i].Load(); c != 1 {
						t.Fatalf("threads %d n %d minChunk %d: index %d covered %d times", threads, n, minChunk, i, c)
					}
				}
			}
		}
	}
}

// TestShareStats: with collection on, each region is counted with its
// caller's and helpers' working time (each piece sleeps 1 ms, so the sum of
// all working time is at least the pieces' total), ReadShareStats restarts
// the count, and with collection off nothing is counted.
func TestShareStats(t *testing.T) {
	defer CollectShareStats(false)
	CollectShareStats(true)
	ReadShareStats()
	const n, regions = 6, 3
	for r := 0; r < regions; r++ {
		var next atomic.Int64
		done := make([]atomic.Int32, n)
		Share(1, claimAll(n, &next, done, func(int) { time.Sleep(time.Millisecond) }))
	}
	s := ReadShareStats()
	if s.Regions != regions {
		t.Errorf("regions %d, want %d", s.Regions, regions)
	}
	if work := s.CallerWork + s.HelperWork; work < regions*n*time.Millisecond {
		t.Errorf("caller %v + helpers %v working, want at least %v", s.CallerWork, s.HelperWork, regions*n*time.Millisecond)
	}
	if s.CallerWork > time.Minute || s.CallerWait < 0 || s.CallerWait > time.Minute {
		t.Errorf("implausible accounting %+v", s)
	}
	if s := ReadShareStats(); s != (ShareStats{}) {
		t.Errorf("after a read: %+v, want zeros", s)
	}
	CollectShareStats(false)
	var next atomic.Int64
	Share(1, claimAll(n, &next, make([]atomic.Int32, n), nil))
	if s := ReadShareStats(); s != (ShareStats{}) {
		t.Errorf("collection off: %+v, want zeros", s)
	}
}
