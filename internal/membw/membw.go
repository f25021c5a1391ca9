// Package membw measures how fast this machine streams memory into the
// cores: the bound on anything that reads each byte once, such as batch-1
// decoding, which reads every weight once per token. It reads a buffer much
// larger than any cache from several goroutines at once (as the decode
// kernels do) and reports the best pass.
package membw

import (
	"fmt"
	"sync"
	"time"
)

// Result is one measurement.
type Result struct {
	BytesPerSec float64 // best pass: bytes read ÷ wall time
	Bytes       int64   // buffer size
	Threads     int     // goroutines reading at once
	Passes      int     // timed passes (after one untimed)
	Kernel      string  // the read loop: "avx512", "avx2" or "go"
}

func (r Result) String() string {
	return fmt.Sprintf("%.1f GB/s (%s read of %d MiB, %d threads, best of %d)",
		r.BytesPerSec/1e9, r.Kernel, r.Bytes>>20, r.Threads, r.Passes)
}

// DefaultBytes is the buffer Measure reads unless told otherwise: 512 MiB,
// sixteen times the 32 MB L3 of a Zen 4/5 CCD and larger than any x86 L3.
const DefaultBytes = 512 << 20

// chunk is the unit the read loops take (every kernel's multiple).
const chunk = 256

// Measure reads a buffer of size bytes (DefaultBytes if <= 0) with threads
// goroutines (1 if <= 0), each streaming its contiguous share, once untimed
// (to fault the pages in and warm the TLB) and then passes times (3 if <= 0),
// and returns the fastest pass. The buffer is freed when Measure returns.
func Measure(size int64, threads, passes int) Result {
	if size <= 0 {
		size = DefaultBytes
	}
	threads = max(threads, 1)
	if passes <= 0 {
		passes = 3
	}
	per := size / int64(threads) / chunk * chunk
	size = per * int64(threads)
	buf := make([]byte, size)
	for i := 0; i < len(buf); i += 4096 {
		buf[i] = byte(i >> 12)
	}
	best := 0.0
	var sink uint64
	for p := 0; p <= passes; p++ {
		sums := make([]uint64, threads)
		var wg sync.WaitGroup
		t0 := time.Now()
		for t := 0; t < threads; t++ {
			wg.Add(1)
			go func(t int) {
				defer wg.Done()
				sums[t] = readSum(buf[int64(t)*per : int64(t+1)*per])
			}(t)
		}
		wg.Wait()
		el := time.Since(t0).Seconds()
		for _, s := range sums {
			sink += s
		}
		if p > 0 && float64(size)/el > best {
			best = float64(size) / el
		}
	}
	sinkHole = sink
	return Result{BytesPerSec: best, Bytes: size, Threads: threads, Passes: passes, Kernel: Kernel()}
}

// sinkHole keeps the sums alive, so no read can be dropped.
var sinkHole uint64

// readSum returns the wrapping sum of b's little-endian 64-bit words
// (len(b) a multiple of chunk) with the best kernel this CPU runs: the sum
// makes every load count.
func readSum(b []byte) uint64 {
	switch kernel {
	case kAVX512:
		return readSumAVX512(&b[0], len(b))
	case kAVX2:
		return readSumAVX2(&b[0], len(b))
	}
	return readSumGo(b)
}

// readSumGo is the portable loop: eight independent sums, so the adds do
// not serialise on one register.
func readSumGo(b []byte) uint64 {
	var s [8]uint64
	for i := 0; i+64 <= len(b); i += 64 {
		w := b[i : i+64 : i+64]
		for j := range s {
			s[j] += uint64(w[8*j]) | uint64(w[8*j+1])<<8 | uint64(w[8*j+2])<<16 | uint64(w[8*j+3])<<24 |
				uint64(w[8*j+4])<<32 | uint64(w[8*j+5])<<40 | uint64(w[8*j+6])<<48 | uint64(w[8*j+7])<<56
		}
	}
	return s[0] + s[1] + s[2] + s[3] + s[4] + s[5] + s[6] + s[7]
}

const (
	kGo = iota
	kAVX2
	kAVX512
)

var kernelNames = [...]string{"go", "avx2", "avx512"}

// Kernel names the read loop in use.
func Kernel() string { return kernelNames[kernel] }

// Kernels lists the read loops this CPU runs, best first.
func Kernels() []string {
	var ks []string
	for k := best(); k >= kGo; k-- {
		ks = append(ks, kernelNames[k])
	}
	return ks
}

// SetKernel picks the read loop (one of Kernels), for tests.
func SetKernel(name string) error {
	for k := best(); k >= kGo; k-- {
		if kernelNames[k] == name {
			kernel = k
			return nil
		}
	}
	return fmt.Errorf("membw: kernel %q: this CPU runs %v", name, Kernels())
}

var kernel = best()

// Read streams b once with the kernel Measure uses (len(b) a multiple of
// 256 bytes) and returns the wrapping sum of its 64-bit words, so that a
// benchmark can set a kernel's reading of the same buffer beside a plain
// read, pass by pass.
func Read(b []byte) uint64 { return readSum(b) }
