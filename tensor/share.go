package tensor

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Every parallel loop of the engine (Gemm, ParallelFor, the decode kernels'
// schedulers) goes through Share, which feeds long-lived workers rather than
// starting goroutines per call. A fresh goroutine runs only once the runtime
// wakes an idle thread, and on the build VM that took 77-92 µs (median;
// measured by starting a goroutine while the caller stays busy): a decode
// step is ~100 parallel regions of tens to hundreds of microseconds, so each
// one ran on one core for its first 80 µs. A worker that has just finished
// keeps polling for the next job for spinFor, so back-to-back regions find it
// awake.
//
// The caller never waits for a helper that has not started: helpers join a
// job only while it is open, and the caller closes it when its own share of
// the work returns (work claims pieces until none are left, so by then every
// piece is claimed), then waits just for those that joined. A helper that
// arrives late finds the job closed and goes back to waiting. A message that
// outlives its call may find the job pooled and reused by a later call;
// joining that one is just as correct.

const (
	jobClosed = 1 << 40       // state bit: no more helpers may join
	jobCount  = jobClosed - 1 // state bits: helpers inside work
)

type shareJob struct {
	work  func()
	state atomic.Int64 // jobClosed | number of helpers that joined and are working
	done  chan struct{}
}

var (
	sharePool = sync.Pool{New: func() any {
		j := &shareJob{done: make(chan struct{}, 1)}
		j.state.Store(jobClosed)
		return j
	}}
	workMu   sync.Mutex
	workCh   = make(chan *shareJob, 64)
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
// parking. Long enough to span the serial stretches between the regions of a
// training or decode step; short enough that an idle process gives its cores
// back at once.
const spinFor = 200 * time.Microsecond

// waitSpin is how long a caller polls for its helpers' last pieces before
// blocking: the caller waits ~2 µs a region on average in batch-1 decoding
// (bench/decode's "caller waits"), so this covers nearly every wait, and
// bounds what a caller burns when a helper has lost its core.
const waitSpin = 100 * time.Microsecond

func worker() {
	for {
		j := <-workCh
		for j != nil {
			j.help()
			j = nil
			for n, t0 := 0, time.Now(); time.Since(t0) < spinFor; n++ {
				select {
				case j = <-workCh:
				default:
					// Poll without the scheduler: runtime.Gosched on every
					// poll puts this goroutine on the global run queue, from
					// where the other core's thread may take it, trading
					// places with the caller. Yield now and then only, so a
					// runnable goroutine is not kept waiting for spinFor,
					// and give the core to another thread (osYield) in
					// between, so that a busy machine loses little to the
					// spin.
					if n&255 == 255 {
						runtime.Gosched()
					} else if n&63 == 63 {
						osYield()
					}
					continue
				}
				break
			}
		}
	}
}

// help joins j if it is still open, works, and signals the caller if it was
// the last helper out of a closed job.
func (j *shareJob) help() {
	for {
		s := j.state.Load()
		if s&jobClosed != 0 {
			return
		}
		if j.state.CompareAndSwap(s, s+1) {
			break
		}
	}
	if statsOn.Load() {
		t0 := time.Now()
		j.work()
		stats.helperWork.Add(int64(time.Since(t0)))
	} else {
		j.work()
	}
	if j.state.Add(-1) == jobClosed {
		j.done <- struct{}{}
	}
}

// Share runs work on the calling goroutine and on up to helpers pool workers
// that arrive while it runs, and returns when every one that started has
// returned. work must take its pieces from state shared by all of its calls
// (an atomic counter) and return once none are left, so that whoever is
// running takes the next piece and the caller alone can finish everything.
func Share(helpers int, work func()) {
	if helpers <= 0 {
		work()
		return
	}
	j := sharePool.Get().(*shareJob)
	j.work = work
	j.state.Store(0) // open: set up before helpers can see it
	ensureWorkers(helpers)
	for i := 0; i < helpers; i++ {
		select {
		case workCh <- j:
		default: // workers are backed up; do it ourselves
		}
	}
	var t0 time.Time
	if statsOn.Load() {
		t0 = time.Now()
	}
	work()
	if !t0.IsZero() {
		t1 := time.Now()
		defer func() {
			stats.callerWork.Add(int64(t1.Sub(t0)))
			stats.callerWait.Add(int64(time.Since(t1)))
			stats.regions.Add(1)
		}()
	}
	// Every piece is claimed; wait only for helpers still computing theirs.
	// Their last pieces end within microseconds, so poll for that before
	// blocking: a caller parked on the channel gives its core up, the
	// helper's send then wakes it on the helper's core, and the helper waits
	// in the run queue for a sleeping thread to wake on the other one (tens
	// of microseconds on a VM) while the caller starts the next region alone.
	//
	// When the machine has more runnable threads than cores (go test runs
	// packages side by side), a helper may have lost its core mid-piece and
	// a caller spinning for it burns the time that helper needs: the poll
	// yields the core (osYield) every few microseconds. Polling 100 µs
	// without yielding took the test suite from 123 to 159 CPU-seconds.
	if j.state.Or(jobClosed)&jobCount != 0 {
		for n, t0 := 0, time.Now(); j.state.Load() != jobClosed && time.Since(t0) < waitSpin; n++ {
			if n&63 == 63 {
				osYield()
			}
		}
		<-j.done // the last helper out sends once; by now it is (nearly) there
	}
	j.work = nil // drop references to the caller's data
	sharePool.Put(j)
}

// ShareStats is where the time of Share's parallel regions went, summed
// since the last ReadShareStats: the callers' wall time working their own
// share and waiting for helpers still computing, and the helpers' wall time
// working. Outside a region a caller runs serial code and every helper is
// idle; inside, a caller that finished first waits. Wall time, so a thread
// the OS preempted mid-piece counts as working.
type ShareStats struct {
	Regions                            int64
	CallerWork, CallerWait, HelperWork time.Duration
}

var (
	statsOn atomic.Bool
	stats   struct{ regions, callerWork, callerWait, helperWork atomic.Int64 }
)

// CollectShareStats turns the accounting of ReadShareStats on or off (off by
// default: it reads the clock three times a region).
func CollectShareStats(on bool) { statsOn.Store(on) }

// ReadShareStats returns the accounting since the last call and restarts it.
func ReadShareStats() ShareStats {
	return ShareStats{
		Regions:    stats.regions.Swap(0),
		CallerWork: time.Duration(stats.callerWork.Swap(0)),
		CallerWait: time.Duration(stats.callerWait.Swap(0)),
		HelperWork: time.Duration(stats.helperWork.Swap(0)),
	}
}
