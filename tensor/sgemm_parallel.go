package tensor

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Gemm's goroutines are long-lived workers fed through a channel rather than
// fresh goroutines per call: a task is a small struct sent by value and the
// job comes from a pool, so a parallel Gemm does not allocate.
//
// C is cut into chunks claimed from an atomic counter with guided
// self-scheduling: each claim takes 1/(2·threads) of what is left, so chunks
// start large (few passes over A) and shrink towards the end, where they even
// out the finish when a goroutine started late or lost its core for a while
// (another process, the GC) instead of leaving one holding a fixed half.

type gemmJob struct {
	im      *sgemmImpl
	g       gemmArgs
	splitN  bool
	unit    int // columns (splitN) or rows per scheduling unit
	units   int // units in all
	threads int
	next    atomic.Int64 // first unclaimed unit
	wg      sync.WaitGroup
}

var (
	jobPool  = sync.Pool{New: func() any { return new(gemmJob) }}
	workMu   sync.Mutex
	workCh   = make(chan *gemmJob, 64)
	nWorkers int
)

func ensureWorkers(n int) {
	workMu.Lock()
	for nWorkers < n {
		nWorkers++
		go worker()
	}
	workMu.Unlock()
}

// spinFor is how long an idle worker keeps polling for the next job before
// parking. Waking a parked goroutine's thread took 50-100 µs on the 2-vCPU
// build VM, a fifth of a 1024×256×768 multiply; training issues Gemm calls
// back to back, so a short spin keeps the second core in the game.
const spinFor = 200 * time.Microsecond

func worker() {
	for {
		j := <-workCh
		for j != nil {
			j.work()
			j.wg.Done()
			j = nil
			for t0 := time.Now(); time.Since(t0) < spinFor; {
				select {
				case j = <-workCh:
				default:
					runtime.Gosched()
					continue
				}
				break
			}
		}
	}
}

// work claims and computes chunks until none are left.
func (j *gemmJob) work() {
	buf := getBuf(j.im)
	for {
		u := j.next.Load()
		left := int64(j.units) - u
		if left <= 0 {
			break
		}
		size := max(1, left/int64(2*j.threads))
		if !j.next.CompareAndSwap(u, u+size) {
			continue
		}
		lo, hi := int(u)*j.unit, int(u+size)*j.unit
		var g gemmArgs
		if j.splitN {
			g = j.g.cols(lo, min(hi, j.g.n))
		} else {
			g = j.g.rows(lo, min(hi, j.g.m))
		}
		j.im.run(&g, *buf)
	}
	putBuf(j.im, buf)
}

// runParallel splits C into column chunks (whole NR panels, so no packing is
// duplicated) or, when C is too narrow, row chunks. It reports false when
// neither split gives each goroutine a useful share.
func runParallel(im *sgemmImpl, g *gemmArgs) bool {
	t := Threads()
	var splitN bool
	var unit, units int
	switch {
	case g.n >= 2*t*im.nr || (g.n >= t*im.nr && g.m < 2*t*im.mr):
		unit = im.nr
		if g.m == 1 && im.rowNR > 0 {
			unit = im.rowNR // keep chunks whole for the row kernel
		}
		splitN, units = true, (g.n+unit-1)/unit
	case g.m >= 2*t*im.mr:
		unit = im.mr
		splitN, units = false, (g.m+unit-1)/unit
	}
	if units < 2 {
		return false
	}
	j := jobPool.Get().(*gemmJob)
	j.im, j.g, j.splitN, j.unit, j.units, j.threads = im, *g, splitN, unit, units, t
	j.next.Store(0)
	helpers := min(t, units) - 1
	ensureWorkers(helpers)
	j.wg.Add(helpers)
	for i := 0; i < helpers; i++ {
		workCh <- j
	}
	j.work()
	j.wg.Wait()
	j.g = gemmArgs{} // drop references to the caller's slices
	jobPool.Put(j)
	return true
}
