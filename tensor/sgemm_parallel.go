package tensor

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Gemm's helpers are long-lived workers fed through a channel rather than
// fresh goroutines per call: a message is a pointer to a pooled job, so a
// parallel Gemm does not allocate.
//
// C is cut into chunks claimed from an atomic counter with guided
// self-scheduling: each claim takes 1/(2·threads) of what is left, so chunks
// start large (few passes over A) and shrink towards the end, where they even
// out the finish when a goroutine started late or lost its core for a while
// (another process, the GC) instead of leaving one holding a fixed half.
//
// The caller never waits for a helper that has not started: helpers join a
// job only while it is open, and the caller closes it once every chunk is
// claimed, then waits just for those that joined. Waking a parked worker's
// thread took 50-100 µs on the build VM, longer than a small multiply, so a
// helper that arrives late finds the job closed and goes back to waiting. A
// message that outlives its call may find the job pooled and reused by a
// later call; joining that one is just as correct.

const (
	jobClosed = 1 << 40       // state bit: no more helpers may join
	jobCount  = jobClosed - 1 // state bits: helpers inside work()
)

type gemmJob struct {
	im      *sgemmImpl
	g       gemmArgs
	splitN  bool
	unit    int // columns (splitN) or rows per scheduling unit
	units   int // units in all
	threads int
	next    atomic.Int64 // first unclaimed unit
	state   atomic.Int64 // jobClosed | number of helpers that joined and are working
	done    chan struct{}
}

var (
	jobPool = sync.Pool{New: func() any {
		j := &gemmJob{done: make(chan struct{}, 1)}
		j.state.Store(jobClosed)
		return j
	}}
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
// parking: training issues Gemm calls back to back, and a spinning worker
// joins the next one within microseconds instead of after a thread wake-up.
const spinFor = 200 * time.Microsecond

func worker() {
	for {
		j := <-workCh
		for j != nil {
			j.help()
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

// help joins j if it is still open, works, and signals the caller if it was
// the last helper out of a closed job.
func (j *gemmJob) help() {
	for {
		s := j.state.Load()
		if s&jobClosed != 0 {
			return
		}
		if j.state.CompareAndSwap(s, s+1) {
			break
		}
	}
	j.work()
	if j.state.Add(-1) == jobClosed {
		j.done <- struct{}{}
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
	j.state.Store(0) // open: set up before helpers can see it
	helpers := min(t, units) - 1
	ensureWorkers(helpers)
	for i := 0; i < helpers; i++ {
		select {
		case workCh <- j:
		default: // workers are backed up; do it ourselves
		}
	}
	j.work()
	// Every chunk is claimed; wait only for helpers still computing theirs.
	if j.state.Or(jobClosed)&jobCount != 0 {
		<-j.done
	}
	j.g = gemmArgs{} // drop references to the caller's slices
	jobPool.Put(j)
	return true
}
