package tensor

import (
	"sync"
	"sync/atomic"
)

// Gemm's goroutines are long-lived workers fed through a channel rather than
// fresh goroutines per call: a task is a small struct sent by value and the
// job comes from a pool, so a parallel Gemm does not allocate.
//
// C is cut into several chunks per thread, claimed from an atomic counter, so
// a goroutine that loses its core for a while (another process, the GC) only
// delays its current chunk instead of holding up a fixed half of the work.

type gemmJob struct {
	im     *sgemmImpl
	g      gemmArgs
	splitN bool
	step   int // columns (splitN) or rows per chunk
	chunks int
	next   atomic.Int64
	wg     sync.WaitGroup
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
		go func() {
			for j := range workCh {
				j.work()
				j.wg.Done()
			}
		}()
	}
	workMu.Unlock()
}

// work claims and computes chunks until none are left.
func (j *gemmJob) work() {
	buf := getBuf(j.im)
	for {
		c := int(j.next.Add(1)) - 1
		if c >= j.chunks {
			break
		}
		lo := c * j.step
		var g gemmArgs
		if j.splitN {
			g = j.g.cols(lo, min(lo+j.step, j.g.n))
		} else {
			g = j.g.rows(lo, min(lo+j.step, j.g.m))
		}
		j.im.run(&g, *buf)
	}
	putBuf(j.im, buf)
}

// chunksPerThread trades scheduling slack against per-chunk overhead (each
// chunk packs its own B columns; A is read in place, so nothing is repacked).
const chunksPerThread = 4

// runParallel splits C into column chunks (whole NR panels, so no packing is
// duplicated) or, when C is too narrow, row chunks. It reports false when
// neither split gives each goroutine a useful share.
func runParallel(im *sgemmImpl, g *gemmArgs) bool {
	t := Threads()
	var splitN bool
	var step, chunks int
	switch {
	case g.n >= 2*t*im.nr || (g.n >= t*im.nr && g.m < 2*t*im.mr):
		unit := im.nr
		if g.m == 1 && im.rowNR > 0 {
			unit = im.rowNR // keep chunks whole for the row kernel
		}
		units := (g.n + unit - 1) / unit
		splitN, step = true, max(1, units/(chunksPerThread*t))*unit
		chunks = (g.n + step - 1) / step
	case g.m >= 2*t*im.mr:
		blocks := (g.m + im.mr - 1) / im.mr
		splitN, step = false, max(1, blocks/(chunksPerThread*t))*im.mr
		chunks = (g.m + step - 1) / step
	}
	if chunks < 2 {
		return false
	}
	j := jobPool.Get().(*gemmJob)
	j.im, j.g, j.splitN, j.step, j.chunks = im, *g, splitN, step, chunks
	j.next.Store(0)
	helpers := min(t, chunks) - 1
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
