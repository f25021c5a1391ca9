package tensor

import (
	"sync"
	"sync/atomic"
)

// A parallel Gemm cuts C into chunks claimed from an atomic counter with
// guided self-scheduling: each claim takes 1/(2·threads) of what is left, so
// chunks start large (few passes over A) and shrink towards the end, where
// they even out the finish when a goroutine started late or lost its core
// for a while (another process, the GC) instead of leaving one holding a
// fixed half. The goroutines are Share's pooled workers; the job itself is
// pooled too (with its work method bound once), so a parallel Gemm does not
// allocate.

type gemmJob struct {
	im      *sgemmImpl
	g       gemmArgs
	splitN  bool
	unit    int // columns (splitN) or rows per scheduling unit
	units   int // units in all
	threads int
	next    atomic.Int64 // first unclaimed unit
	workFn  func()       // j.work, bound once
}

var jobPool = sync.Pool{New: func() any {
	j := &gemmJob{}
	j.workFn = j.work
	return j
}}

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
	Share(min(t, units)-1, j.workFn)
	j.g = gemmArgs{} // drop references to the caller's slices
	jobPool.Put(j)
	return true
}
