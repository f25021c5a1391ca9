package tensor

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

type gemmShape struct{ m, n, k int }

// Shapes hit every edge: empty, k=0, single rows/columns, tiles that are not
// multiples of any MR/NR, k beyond KC, n beyond NC, m beyond MC and the
// small-m paths (dot tiles and B read in place).
var gemmShapes = []gemmShape{
	{0, 0, 0}, {0, 5, 3}, {5, 0, 3}, {3, 5, 0}, {1, 1, 0},
	{1, 1, 1}, {1, 1, 7}, {2, 3, 1}, {7, 1, 9}, {1, 33, 17}, {1, 1000, 40}, {1, 128, 3}, {1, 300, 70},
	{8, 30, 100}, {11, 70, 20}, {3, 50, 300}, {1, 200, 700}, {12, 45, 513}, {8, 33, 2500},
	{3, 17, 33}, {4, 64, 100}, {2, 6, 50}, {4, 10, 45}, {3, 2, 64}, {4, 7, 130}, {5, 9, 70}, {6, 16, 8}, {12, 32, 256}, {13, 31, 5},
	{16, 65, 70}, {17, 100, 31}, {25, 67, 300}, {37, 100, 513}, {64, 200, 1},
	{100, 33, 64}, {128, 128, 64}, {130, 50, 17}, {500, 40, 20}, {3, 3100, 9}, {40, 3200, 30}, {70, 3100, 20}, {200, 50, 600},
}

func randSlice(r *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = r.Float32()*2 - 1
	}
	return s
}

// checkGemmCase runs one case through run (the path under test) and gemmRef,
// with odd padding on every stride and sentinels in the padding of C.
func checkGemmCase(t *testing.T, run func(transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int, acc bool),
	sh gemmShape, transA, transB, acc bool, pad int, r *rand.Rand) {
	t.Helper()
	m, n, k := sh.m, sh.n, sh.k
	ar, ac := m, k
	if transA {
		ar, ac = k, m
	}
	br, bc := k, n
	if transB {
		br, bc = n, k
	}
	lda, ldb, ldc := ac+pad, bc+2*pad, n+pad+1
	a := randSlice(r, ar*lda)
	b := randSlice(r, br*ldb)
	c := randSlice(r, m*ldc)
	const sentinel = 12345
	for i := 0; i < m; i++ {
		for j := n; j < ldc; j++ {
			c[i*ldc+j] = sentinel
		}
	}
	want := append([]float32(nil), c...)
	gemmRef(transA, transB, m, n, k, a, lda, b, ldb, want, ldc, acc)
	if !acc {
		// Without acc the old contents must be ignored, even NaN.
		for i := 0; i < m; i++ {
			for j := 0; j < n; j++ {
				c[i*ldc+j] = float32(math.NaN())
			}
		}
	}
	run(transA, transB, m, n, k, a, lda, b, ldb, c, ldc, acc)
	tol := 1e-6*float64(k) + 1e-6
	for i := 0; i < m; i++ {
		for j := 0; j < ldc; j++ {
			g, w := c[i*ldc+j], want[i*ldc+j]
			if j >= n {
				if g != sentinel {
					t.Fatalf("C padding (%d,%d) overwritten: %v", i, j, g)
				}
				continue
			}
			if d := math.Abs(float64(g - w)); !(d <= tol) {
				t.Fatalf("C(%d,%d) = %v, want %v (|diff| %g > %g)", i, j, g, w, d, tol)
			}
		}
	}
}

func TestGemmKernels(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	saved := impl
	defer func() { impl = saved }()
	for _, im := range impls {
		impl = im
		for _, sh := range gemmShapes {
			for _, tr := range [][2]bool{{false, false}, {false, true}, {true, false}, {true, true}} {
				for _, acc := range []bool{false, true} {
					for _, pad := range []int{0, 3} {
						name := fmt.Sprintf("%s/%dx%dx%d/tA=%v,tB=%v,acc=%v,pad=%d", im.name, sh.m, sh.n, sh.k, tr[0], tr[1], acc, pad)
						t.Run(name, func(t *testing.T) {
							checkGemmCase(t, GemmSerial, sh, tr[0], tr[1], acc, pad, r)
						})
					}
				}
			}
		}
	}
}

// TestGemmParallel covers the column and row splits across goroutines,
// including thread counts that do not divide the work evenly.
func TestGemmParallel(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	saved := impl
	defer func() { impl = saved; SetThreads(0) }()
	shapes := []gemmShape{{200, 700, 40}, {300, 40, 70}, {2, 3000, 50}, {1, 5000, 64}, {33, 300, 100}}
	for _, im := range impls {
		impl = im
		for _, th := range []int{2, 3} {
			SetThreads(th)
			for _, sh := range shapes {
				for _, tr := range [][2]bool{{false, false}, {false, true}, {true, false}, {true, true}} {
					name := fmt.Sprintf("%s/th=%d/%dx%dx%d/tA=%v,tB=%v", im.name, th, sh.m, sh.n, sh.k, tr[0], tr[1])
					t.Run(name, func(t *testing.T) {
						checkGemmCase(t, Gemm, sh, tr[0], tr[1], true, 1, r)
					})
				}
			}
		}
	}
}

// TestMatMulWrappers checks the wrappers pass the right strides, against
// values worked by hand.
func TestMatMulWrappers(t *testing.T) {
	a := []float32{1, 2, 3, 4, 5, 6}    // 2×3
	b := []float32{1, 0, 2, -1, 0.5, 3} // 3×2
	want := []float32{1*1 + 2*2 + 3*0.5, 1*0 + 2*-1 + 3*3, 4*1 + 5*2 + 6*0.5, 4*0 + 5*-1 + 6*3}
	c := make([]float32, 4)
	MatMul(c, a, b, 2, 3, 2, false)
	if fmt.Sprint(c) != fmt.Sprint(want) {
		t.Fatalf("MatMul = %v, want %v", c, want)
	}
	bt := []float32{1, 2, 0.5, 0, -1, 3} // Bᵀ as 2×3
	MatMulBT(c, a, bt, 2, 3, 2, true)
	for i := range want {
		want[i] *= 2
	}
	if fmt.Sprint(c) != fmt.Sprint(want) {
		t.Fatalf("MatMulBT acc = %v, want %v", c, want)
	}
	at := []float32{1, 4, 2, 5, 3, 6} // Aᵀ as 3×2
	MatMulAT(c, at, b, 2, 3, 2, false)
	for i := range want {
		want[i] /= 2
	}
	if fmt.Sprint(c) != fmt.Sprint(want) {
		t.Fatalf("MatMulAT = %v, want %v", c, want)
	}
}

func TestGemmBadArgsPanic(t *testing.T) {
	cases := []struct {
		name string
		f    func()
	}{
		{"short A", func() { MatMul(make([]float32, 4), make([]float32, 3), make([]float32, 4), 2, 2, 2, false) }},
		{"short C", func() { MatMul(make([]float32, 3), make([]float32, 4), make([]float32, 4), 2, 2, 2, false) }},
		{"small ldb", func() {
			Gemm(false, false, 2, 2, 2, make([]float32, 4), 2, make([]float32, 4), 1, make([]float32, 4), 2, false)
		}},
		{"negative", func() { Gemm(false, false, -1, 2, 2, nil, 2, nil, 2, nil, 2, false) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Fatal("no panic")
				}
			}()
			tc.f()
		})
	}
}

func TestGemmNoAlloc(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items under the race detector")
	}
	defer SetThreads(0)
	SetThreads(2)
	m, n, k := 64, 256, 64
	a, b, c := make([]float32, m*k), make([]float32, k*n), make([]float32, m*n)
	for _, f := range []func(){
		func() { MatMul(c, a, b, m, k, n, false) },
		func() { MatMulBT(c, a, b, m, k, n, false) },
		func() { GemmSerial(false, false, m, n, k, a, k, b, n, c, n, true) },
		func() { MatMul(c[:n], a[:k], b, 1, k, n, false) },
	} {
		f()
		if got := testing.AllocsPerRun(20, f); got != 0 {
			t.Fatalf("allocs per call = %v, want 0", got)
		}
	}
}
