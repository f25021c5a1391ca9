package nn

import (
	"fmt"
	"runtime"
	"sort"
	"sync"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/align-go/align/internal/membw"
	"github.com/align-go/align/tensor"
)

// BenchmarkDecodeRowKernels sets the batch-1 decode kernels beside a plain
// streaming read of the same bytes (internal/membw's), pass by pass: each
// pass, every variant streams a 176 MB weight ([98304, 896] bf16, or half
// as many f32 rows) split between `threads` OS-locked goroutines, and is
// charged the threads' own CPU time (CLOCK_THREAD_CPUTIME_ID), which
// waiting for a core on a shared machine does not inflate. Reported:
// the median over passes of GB per thread-CPU-second, and of its ratio to
// the read in the same pass (the figure to compare: both see the same
// memory traffic of other processes).
//
//	go test ./nn -run '^$' -bench DecodeRowKernels -benchtime 30x
func BenchmarkDecodeRowKernels(b *testing.B) {
	const K, OC = 896, 96 * 1024
	r := newRNG(5)
	w16 := make([]uint16, K*OC)
	tensor.ToBF16(w16, randn(r, len(w16), 1))
	w32 := make([]float32, K*OC/2)
	FromBF16(w32, w16[:len(w32)])
	x := randn(r, K, 1)
	x16 := make([]uint16, K)
	tensor.ToBF16(x16, x)
	raw := unsafe.Slice((*byte)(unsafe.Pointer(&w16[0])), 2*len(w16))
	oldK := bf16Kernel
	defer func() { bf16Kernel = oldK }()
	type variant struct {
		name string
		kern int // the bf16 kernel family, set before the threads start
		run  func(h, nh int, out []float32)
	}
	vs := []variant{{"read", kernF32, func(h, nh int, _ []float32) {
		sinkU64 += membw.Read(raw[h*len(raw)/nh : (h+1)*len(raw)/nh])
	}}, {"f32", kernF32, func(h, nh int, out []float32) {
		n := OC / 2 / nh
		dotRows(out, n, x, K, w32[h*n*K:], K, 1, n, K)
	}}}
	for _, k := range bf16Kernels() {
		if k == kernF32 {
			continue // the portable loop: far from the read
		}
		vs = append(vs, variant{"bf16-" + bf16KernelName[k], k, func(h, nh int, out []float32) {
			n := OC / nh
			dotRowsBF16(out, n, x, x16, K, w16[h*n*K:], K, 1, n, K)
		}})
	}
	for _, threads := range []int{1, 2} {
		b.Run(fmt.Sprintf("threads=%d", threads), func(b *testing.B) {
			gbs := make([][]float64, len(vs))
			outs := make([][]float32, threads)
			for h := range outs {
				outs[h] = make([]float32, OC)
			}
			for b.Loop() {
				for i, v := range vs {
					bf16Kernel = v.kern
					cpu := make([]float64, threads)
					var wg sync.WaitGroup
					for h := range threads {
						wg.Add(1)
						go func() {
							defer wg.Done()
							runtime.LockOSThread()
							defer runtime.UnlockOSThread()
							t0 := threadCPU()
							v.run(h, threads, outs[h])
							cpu[h] = threadCPU() - t0
						}()
					}
					wg.Wait()
					sum := 0.0
					for _, c := range cpu {
						sum += c
					}
					gbs[i] = append(gbs[i], float64(len(raw))/sum/1e9)
				}
			}
			for i, v := range vs {
				ratio := make([]float64, len(gbs[i]))
				for p := range ratio {
					ratio[p] = gbs[i][p] / gbs[0][p]
				}
				b.ReportMetric(median(gbs[i]), v.name+"-GB/cpu-s")
				if i > 0 {
					b.ReportMetric(median(ratio), v.name+"/read")
				}
			}
		})
	}
}

var sinkU64 uint64

func threadCPU() float64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
		return 0
	}
	return float64(ts.Nano()) / 1e9
}

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	return s[len(s)/2]
}
