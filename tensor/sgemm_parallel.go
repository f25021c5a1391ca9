package tensor

import "sync"

// Gemm's goroutines are long-lived workers fed through a channel rather than
// fresh goroutines per call: a task is a small struct sent by value and the
// job comes from a pool, so a parallel Gemm does not allocate.

type gemmJob struct {
	im     *sgemmImpl
	g      gemmArgs
	splitN bool
	step   int // columns (splitN) or rows per part
	wg     sync.WaitGroup
}

type gemmTask struct {
	job  *gemmJob
	part int
}

var (
	jobPool  = sync.Pool{New: func() any { return new(gemmJob) }}
	workMu   sync.Mutex
	workCh   = make(chan gemmTask, 64)
	nWorkers int
)

func ensureWorkers(n int) {
	workMu.Lock()
	for nWorkers < n {
		nWorkers++
		go func() {
			for t := range workCh {
				t.job.do(t.part)
				t.job.wg.Done()
			}
		}()
	}
	workMu.Unlock()
}

func (j *gemmJob) do(part int) {
	lo := part * j.step
	var g gemmArgs
	if j.splitN {
		g = j.g.cols(lo, min(lo+j.step, j.g.n))
	} else {
		g = j.g.rows(lo, min(lo+j.step, j.g.m))
	}
	buf := getBuf(j.im)
	j.im.run(&g, *buf)
	putBuf(j.im, buf)
}

// runParallel splits C into Threads() column blocks (whole NR panels, so each
// goroutine packs only its own B and no packing is duplicated: A is read in
// place), or row blocks when C is too narrow. It reports false when neither
// split leaves each goroutine a useful share.
func runParallel(im *sgemmImpl, g *gemmArgs) bool {
	t := Threads()
	j := jobPool.Get().(*gemmJob)
	j.im, j.g = im, *g
	var parts int
	switch {
	case g.n >= 2*t*im.nr || (g.n >= t*im.nr && g.m < 2*t*im.mr):
		panels := (g.n + im.nr - 1) / im.nr
		j.splitN, j.step = true, (panels+t-1)/t*im.nr
		parts = (g.n + j.step - 1) / j.step
	case g.m >= 2*t*im.mr:
		blocks := (g.m + im.mr - 1) / im.mr
		j.splitN, j.step = false, (blocks+t-1)/t*im.mr
		parts = (g.m + j.step - 1) / j.step
	default:
		jobPool.Put(j)
		return false
	}
	ensureWorkers(t - 1)
	j.wg.Add(parts - 1)
	for p := 1; p < parts; p++ {
		workCh <- gemmTask{j, p}
	}
	j.do(0)
	j.wg.Wait()
	j.g = gemmArgs{} // drop references to the caller's slices
	jobPool.Put(j)
	return true
}
