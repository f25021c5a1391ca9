//go:build openblas

// Command openblas compares tensor.Gemm with OpenBLAS's cblas_sgemm on the
// same shapes, in the same process, with the same thread count. It needs cgo
// and Debian's libopenblas-dev, so it is behind the openblas build tag and
// never part of the default build:
//
//	go run -tags openblas ./bench/openblas -threads 2
package main

/*
#cgo LDFLAGS: -lopenblas
#include <cblas.h>
void openblas_set_num_threads(int);
char* openblas_get_corename(void);
*/
import "C"

import (
	"flag"
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/align-go/align/tensor"
)

type shape struct {
	transA, transB bool
	m, k, n        int
}

func (s shape) String() string {
	t := func(b bool) string {
		if b {
			return "T"
		}
		return "N"
	}
	return fmt.Sprintf("%s%s %dx%dx%d", t(s.transA), t(s.transB), s.m, s.k, s.n)
}

func main() {
	threads := flag.Int("threads", 2, "threads for both libraries")
	rounds := flag.Int("rounds", 5, "alternating rounds per shape")
	reps := flag.Int("reps", 3, "calls per library per round")
	only := flag.String("only", "", "run only shapes whose name contains this")
	flag.Parse()

	tensor.SetThreads(*threads)
	C.openblas_set_num_threads(C.int(*threads))
	fmt.Println(cpuLine())
	fmt.Printf("OpenBLAS core: %s, threads: %d, load average: %s\n", C.GoString(C.openblas_get_corename()), *threads, loadavg())
	fmt.Printf("%-22s %10s %10s %10s %10s %7s\n", "shape (m×k×n)", "ours best", "ours med", "blas best", "blas med", "ratio")

	big := []shape{{m: 1024, k: 768, n: 3072}, {m: 1024, k: 3072, n: 768}, {m: 1024, k: 768, n: 50257}}
	var shapes []shape
	for _, tr := range [][2]bool{{false, false}, {false, true}, {true, false}} {
		for _, s := range big {
			s.transA, s.transB = tr[0], tr[1]
			shapes = append(shapes, s)
		}
	}
	shapes = append(shapes,
		shape{m: 1024, k: 256, n: 768, transB: true},
		shape{m: 1024, k: 256, n: 8192, transB: true},
		shape{m: 768, k: 1024, n: 256, transA: true},
		shape{m: 1, k: 768, n: 768, transB: true},
		shape{m: 1, k: 768, n: 768},
		shape{m: 16, k: 768, n: 3072, transB: true},
	)
	worst := math.Inf(1)
	for _, s := range shapes {
		if *only != "" && !strings.Contains(s.String(), *only) {
			continue
		}
		ours, blas, diff := compare(s, *rounds, *reps)
		ob, om := best(ours), median(ours)
		bb, bm := best(blas), median(blas)
		ratio := om / bm
		fmt.Printf("%-22s %10.1f %10.1f %10.1f %10.1f %6.2fx   (max |diff| %.2g)\n", s, ob, om, bb, bm, ratio, diff)
		if s.m >= 1024 && s.k >= 768 && s.n >= 768 {
			worst = min(worst, ratio)
		}
	}
	fmt.Printf("worst median ratio on the big shapes: %.2fx (load average now %s)\n", worst, loadavg())
	if worst < 0.9 {
		os.Exit(1)
	}
}

// compare times both libraries in alternating rounds, sleeping between
// rounds so OpenBLAS's spinning worker threads have parked before ours run.
func compare(s shape, rounds, reps int) (ours, blas []float64, maxDiff float64) {
	ar, ac := s.m, s.k
	if s.transA {
		ar, ac = s.k, s.m
	}
	br, bc := s.k, s.n
	if s.transB {
		br, bc = s.n, s.k
	}
	a, b := make([]float32, ar*ac), make([]float32, br*bc)
	for i := range a {
		a[i] = float32(i%13)/13 - 0.5
	}
	for i := range b {
		b[i] = float32(i%7)/7 - 0.5
	}
	c1, c2 := make([]float32, s.m*s.n), make([]float32, s.m*s.n)
	flop := 2 * float64(s.m) * float64(s.n) * float64(s.k)
	runOurs := func() {
		tensor.Gemm(s.transA, s.transB, s.m, s.n, s.k, a, ac, b, bc, c1, s.n, false)
	}
	ta, tb := uint32(C.CblasNoTrans), uint32(C.CblasNoTrans)
	if s.transA {
		ta = C.CblasTrans
	}
	if s.transB {
		tb = C.CblasTrans
	}
	runBlas := func() {
		C.cblas_sgemm(C.CblasRowMajor, ta, tb, C.blasint(s.m), C.blasint(s.n), C.blasint(s.k), 1,
			(*C.float)(&a[0]), C.blasint(ac), (*C.float)(&b[0]), C.blasint(bc), 0, (*C.float)(&c2[0]), C.blasint(s.n))
	}
	runOurs()
	runBlas()
	for i := range c1 {
		maxDiff = max(maxDiff, math.Abs(float64(c1[i]-c2[i])))
	}
	timeit := func(f func()) float64 {
		t0 := time.Now()
		f()
		return flop / time.Since(t0).Seconds() / 1e9
	}
	for r := 0; r < rounds; r++ {
		time.Sleep(200 * time.Millisecond)
		for i := 0; i < reps; i++ {
			ours = append(ours, timeit(runOurs))
		}
		for i := 0; i < reps; i++ {
			blas = append(blas, timeit(runBlas))
		}
	}
	return ours, blas, maxDiff
}

func best(x []float64) float64 { return slices.Max(x) }

func median(x []float64) float64 {
	y := slices.Clone(x)
	slices.Sort(y)
	return y[len(y)/2]
}

// loadavg reports the 1-minute load: the build machine is shared, and the
// numbers mean little when other processes hold the cores.
func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	return strings.Fields(string(b))[0]
}

// cpuLine names the CPU as every recorded figure must: model name, family,
// model and, for AMD, the Zen generation (family 25 is Zen 3 or Zen 4 by
// model, 26 is Zen 5), from /proc/cpuinfo.
func cpuLine() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "cpu: unknown"
	}
	info := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if k = strings.TrimSpace(k); ok && info[k] == "" {
			info[k] = strings.TrimSpace(v)
		}
	}
	fam, _ := strconv.Atoi(info["cpu family"])
	mod, _ := strconv.Atoi(info["model"])
	gen := ""
	if info["vendor_id"] == "AuthenticAMD" {
		switch {
		case fam == 26:
			gen = " (Zen 5)"
		case fam == 25 && (mod >= 0x10 && mod <= 0x1f || mod >= 0x60 && mod <= 0x7f || mod >= 0xa0 && mod <= 0xaf):
			gen = " (Zen 4)"
		case fam == 25:
			gen = " (Zen 3)"
		}
	}
	return fmt.Sprintf("cpu: %s, family %d model %d%s", info["model name"], fam, mod, gen)
}
