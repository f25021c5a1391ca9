package tensor

import (
	"fmt"
	"math"
	"testing"
	"time"
)

type benchCase struct {
	name           string
	transA, transB bool
	m, k, n        int
	lda, ldb, ldc  int // 0 = dense
	serial         bool
}

// benchCases are the shapes a small transformer produces (m×k×n).
var benchCases = []benchCase{
	{name: "NN/1024x768x3072", m: 1024, k: 768, n: 3072},
	{name: "NN/1024x3072x768", m: 1024, k: 3072, n: 768},
	{name: "NN/1024x768x50257", m: 1024, k: 768, n: 50257},
	{name: "NT/1024x768x3072", transB: true, m: 1024, k: 768, n: 3072},
	{name: "NT/1024x3072x768", transB: true, m: 1024, k: 3072, n: 768},
	{name: "NT/1024x768x50257", transB: true, m: 1024, k: 768, n: 50257},
	{name: "TN/768x1024x3072", transA: true, m: 768, k: 1024, n: 3072},
	{name: "NT/1024x256x768", transB: true, m: 1024, k: 256, n: 768},
	{name: "NN/1024x256x768", m: 1024, k: 256, n: 768},
	{name: "NT/1024x256x8192", transB: true, m: 1024, k: 256, n: 8192},
	{name: "TN/768x1024x256", transA: true, m: 768, k: 1024, n: 256},
	{name: "NN/768x1024x256", m: 768, k: 1024, n: 256},
	{name: "head-QKt/128x64x128", transB: true, m: 128, k: 64, n: 128, lda: 256, ldb: 256, serial: true},
	{name: "head-PV/128x128x64", m: 128, k: 128, n: 64, ldb: 256, ldc: 256, serial: true},
	{name: "head-dS/128x128x64-TN", transA: true, m: 128, k: 128, n: 64, ldb: 256, ldc: 256, serial: true},
	{name: "gemv-NT/1x768x768", transB: true, m: 1, k: 768, n: 768},
	{name: "gemv-NN/1x768x768", m: 1, k: 768, n: 768},
	{name: "gemv-NT/1x768x50257", transB: true, m: 1, k: 768, n: 50257},
	{name: "gemv-NT/4x768x3072", transB: true, m: 4, k: 768, n: 3072},
	{name: "gemv-serial-NT/1x768x768", transB: true, m: 1, k: 768, n: 768, serial: true},
	{name: "gemv-serial-NN/1x768x768", m: 1, k: 768, n: 768, serial: true},
	{name: "gemv-serial-NT/2x768x768", transB: true, m: 2, k: 768, n: 768, serial: true},
	{name: "gemv-serial-NN/2x768x768", m: 2, k: 768, n: 768, serial: true},
	{name: "gemv-serial-NT/8x768x768", transB: true, m: 8, k: 768, n: 768, serial: true},
	{name: "gemv-serial-NN/8x768x768", m: 8, k: 768, n: 768, serial: true},
	{name: "gemv-serial-NT/16x768x768", transB: true, m: 16, k: 768, n: 768, serial: true},
	{name: "gemv-serial-NN/16x768x768", m: 16, k: 768, n: 768, serial: true},
	{name: "gemv-NT/16x768x3072", transB: true, m: 16, k: 768, n: 3072},
	{name: "gemv-NN/16x768x3072", m: 16, k: 768, n: 3072},
}

func (bc benchCase) dims() (lda, ldb, ldc, alen, blen, clen int) {
	ar, ac := bc.m, bc.k
	if bc.transA {
		ar, ac = bc.k, bc.m
	}
	br, bcol := bc.k, bc.n
	if bc.transB {
		br, bcol = bc.n, bc.k
	}
	lda, ldb, ldc = max(bc.lda, ac), max(bc.ldb, bcol), max(bc.ldc, bc.n)
	return lda, ldb, ldc, (ar-1)*lda + ac, (br-1)*ldb + bcol, (bc.m-1)*ldc + bc.n
}

func BenchmarkSgemm(b *testing.B) {
	for _, bc := range benchCases {
		b.Run(bc.name, func(b *testing.B) {
			lda, ldb, ldc, al, bl, cl := bc.dims()
			x, y, z := make([]float32, al), make([]float32, bl), make([]float32, cl)
			for i := range x {
				x[i] = float32(i%7) * 0.25
			}
			for i := range y {
				y[i] = float32(i%5) * 0.5
			}
			f := Gemm
			if bc.serial {
				f = GemmSerial
			}
			f(bc.transA, bc.transB, bc.m, bc.n, bc.k, x, lda, y, ldb, z, ldc, false)
			flop := 2 * float64(bc.m) * float64(bc.n) * float64(bc.k)
			b.ResetTimer()
			best := time.Duration(math.MaxInt64)
			for i := 0; i < b.N; i++ {
				t0 := time.Now()
				f(bc.transA, bc.transB, bc.m, bc.n, bc.k, x, lda, y, ldb, z, ldc, false)
				best = min(best, time.Since(t0))
			}
			reportFlops(b, flop, best)
		})
	}
}

// BenchmarkSgemmImpl runs a mid-size shape on every available kernel set.
func BenchmarkSgemmImpl(b *testing.B) {
	saved := impl
	defer func() { impl = saved }()
	for _, im := range impls {
		impl = im
		for _, sh := range []struct {
			tB      bool
			m, k, n int
		}{{false, 512, 512, 512}, {true, 512, 512, 512}, {false, 1024, 768, 768}, {true, 1024, 768, 768}, {true, 1024, 256, 768}, {true, 128, 64, 128}} {
			tB, m, k, n := sh.tB, sh.m, sh.k, sh.n
			b.Run(fmt.Sprintf("%s/tB=%v/%dx%dx%d", im.name, tB, m, k, n), func(b *testing.B) {
				x, y, z := make([]float32, m*k), make([]float32, k*n), make([]float32, m*n)
				best := time.Duration(math.MaxInt64)
				for i := 0; i < b.N; i++ {
					t0 := time.Now()
					GemmSerial(false, tB, m, n, k, x, k, y, ldFor(tB, k, n), z, n, false)
					best = min(best, time.Since(t0))
				}
				reportFlops(b, 2*float64(m*n*k), best)
			})
		}
	}
}

// reportFlops reports mean GFLOP/s and, because the build machine is shared
// and noisy, the best single call as well.
func reportFlops(b *testing.B, flop float64, best time.Duration) {
	b.ReportMetric(flop*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
	b.ReportMetric(flop/best.Seconds()/1e9, "best-GFLOP/s")
}

func ldFor(trans bool, rows, cols int) int {
	if trans {
		return rows
	}
	return cols
}
