package tensor

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/align-go/align/internal/cputest"
)

// bf16Shapes add to gemmShapes the bf16 path's own edges: k past one KQ
// block (384) and odd, n past NC (1024), m past MC (480) and past a
// transposed-A panel (48), tiles short of MR (12) and NR (32).
var bf16Shapes = append(append([]gemmShape(nil), gemmShapes...),
	gemmShape{49, 33, 385}, gemmShape{97, 1030, 33}, gemmShape{500, 70, 40}, gemmShape{13, 64, 800}, gemmShape{48, 32, 32})

// bf16Path is one way GemmPrec(BF16) can run on this machine.
type bf16PathCase struct {
	name string
	dp   bool
	f32  *sgemmImpl // the conversion path's f32 kernels
}

func bf16Paths() []bf16PathCase {
	var ps []bf16PathCase
	if haveBF16DP {
		ps = append(ps, bf16PathCase{"vdpbf16ps", true, impls[0]})
	}
	for _, im := range impls {
		ps = append(ps, bf16PathCase{"convert-" + im.name, false, im})
	}
	return ps
}

func usePath(p bf16PathCase) func() {
	savedDP, savedImpl := bf16UseDP, impl
	bf16UseDP, impl = p.dp, p.f32
	return func() { bf16UseDP, impl = savedDP, savedImpl }
}

// TestBF16Dispatch: where the CPU has AVX512_BF16 the VDPBF16PS path is
// both tested and the default.
func TestBF16Dispatch(t *testing.T) {
	cputest.Check(t, haveBF16DP && bf16Path() == "vdpbf16ps", "VDPBF16PS GEMM", "avx512f", "avx512vl", "avx512bw", "avx512_bf16")
	if len(bf16Paths()) < 1+len(impls)-1 {
		t.Errorf("bf16 paths %v", bf16Paths())
	}
}

// checkBF16Case runs GemmPrec(BF16) (or GemmBF16Bits when bits) on random
// operands and compares every element with the float64 product of the
// bf16-rounded operands, within f32 summation error; padding of C must
// stay untouched.
func checkBF16Case(t *testing.T, sh gemmShape, transA, transB, acc, bits, serial bool, pad int, r *rand.Rand) {
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
	var b16 []uint16
	if bits {
		b16 = make([]uint16, len(b))
		ToBF16(b16, b)
	}
	c := randSlice(r, m*ldc)
	const sentinel = 12345
	for i := 0; i < m; i++ {
		for j := n; j < ldc; j++ {
			c[i*ldc+j] = sentinel
		}
	}
	old := append([]float32(nil), c...)
	if !acc {
		for i := 0; i < m; i++ {
			for j := 0; j < n; j++ {
				c[i*ldc+j] = float32(math.NaN())
			}
		}
	}
	if bits {
		GemmBF16Bits(transA, transB, m, n, k, a, lda, b16, ldb, c, ldc, acc)
	} else {
		if serial {
			GemmPrecSerial(BF16, transA, transB, m, n, k, a, lda, b, ldb, c, ldc, acc)
		} else {
			GemmPrec(BF16, transA, transB, m, n, k, a, lda, b, ldb, c, ldc, acc)
		}
	}
	// The operands rounded to bf16 once, A by rows and B by columns, so the
	// float64 dot products below walk memory in order.
	rb := func(x float32) float64 { return float64(widenBF16(RoundBF16(x))) }
	ra, rbt := make([]float64, m*k), make([]float64, n*k)
	for i := 0; i < m; i++ {
		for p := 0; p < k; p++ {
			if transA {
				ra[i*k+p] = rb(a[p*lda+i])
			} else {
				ra[i*k+p] = rb(a[i*lda+p])
			}
		}
	}
	for j := 0; j < n; j++ {
		for p := 0; p < k; p++ {
			if transB {
				rbt[j*k+p] = rb(b[j*ldb+p])
			} else {
				rbt[j*k+p] = rb(b[p*ldb+j])
			}
		}
	}
	for i := 0; i < m; i++ {
		for j := 0; j < ldc; j++ {
			got := c[i*ldc+j]
			if j >= n {
				if got != sentinel {
					t.Fatalf("C padding (%d,%d) overwritten: %v", i, j, got)
				}
				continue
			}
			var s, sa float64
			ai, bj := ra[i*k:(i+1)*k], rbt[j*k:(j+1)*k]
			for p, av := range ai {
				x := av * bj[p]
				s += x
				sa += math.Abs(x)
			}
			if acc {
				s += float64(old[i*ldc+j])
				sa += math.Abs(float64(old[i*ldc+j]))
			}
			tol := 4*math.Sqrt(float64(k)+1)*0x1p-24*sa + 1e-30
			if d := math.Abs(float64(got) - s); !(d <= tol) {
				t.Fatalf("C(%d,%d) = %v, want %v (|diff| %g > %g)", i, j, got, s, d, tol)
			}
		}
	}
}

func TestGemmBF16Kernels(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	defer SetThreads(0)
	for _, path := range bf16Paths() {
		restore := usePath(path)
		for _, th := range []int{1, 3} {
			SetThreads(th)
			for _, sh := range bf16Shapes {
				if th > 1 && sh.m*sh.n*sh.k < parallelMinFMA {
					continue
				}
				for _, tr := range [][2]bool{{false, false}, {false, true}, {true, false}, {true, true}} {
					// B as f32, B as bf16 bits, and GemmPrecSerial (B f32)
					for _, mode := range [][2]bool{{false, false}, {true, false}, {false, true}} {
						bits, serial := mode[0], mode[1]
						acc, pad := r.IntN(2) == 1, r.IntN(2)*3
						name := fmt.Sprintf("%s/th=%d/%dx%dx%d/tA=%v,tB=%v,acc=%v,pad=%d,bits=%v,serial=%v", path.name, th, sh.m, sh.n, sh.k, tr[0], tr[1], acc, pad, bits, serial)
						t.Run(name, func(t *testing.T) {
							checkBF16Case(t, sh, tr[0], tr[1], acc, bits, serial, pad, r)
						})
					}
				}
			}
		}
		restore()
	}
}

// TestGemmBF16Rounding pins the rounding itself with products that are
// exact in f32 and differ from it in bf16: 1+2⁻¹⁰ rounds to 1, 1+2⁻⁸
// (a tie) to 1 (even), 1+3·2⁻⁸ (a tie) to 1+2⁻⁶ (even), 3·2⁻¹³⁰ (an f32
// denormal) to 0.
func TestGemmBF16Rounding(t *testing.T) {
	for _, path := range bf16Paths() {
		restore := usePath(path)
		for _, c := range []struct{ x, want float32 }{
			{1 + 0x1p-10, 1}, {1 + 0x1p-8, 1}, {1 + 3*0x1p-8, 1 + 0x1p-6}, {-(1 + 0x1p-7), -(1 + 0x1p-7)}, {3 * 0x1p-130, 0},
		} {
			for _, tr := range [][2]bool{{false, false}, {false, true}, {true, false}, {true, true}} {
				// m×k ones times a k×n B whose column j is x at p = j: C[i,j] = round(x).
				m, n, k := 35, 35, 35
				a := make([]float32, m*k)
				for i := range a {
					a[i] = 1
				}
				b := make([]float32, k*n)
				for j := 0; j < n; j++ {
					b[j*n+j] = c.x // diagonal: the same place transposed or not
				}
				out := make([]float32, m*n)
				GemmPrec(BF16, tr[0], tr[1], m, n, k, a, k, b, n, out, n, false)
				for i, v := range out {
					if v != c.want {
						t.Fatalf("%s tA=%v tB=%v: x=%v gives C[%d]=%v, want %v", path.name, tr[0], tr[1], c.x, i, v, c.want)
					}
				}
			}
		}
		restore()
	}
}

// TestToBF16 checks the vector conversion against RoundBF16 and a few
// values worked by hand.
func TestToBF16(t *testing.T) {
	for _, c := range []struct {
		x    float32
		want uint16
	}{{1, 0x3f80}, {1 + 0x1p-8, 0x3f80}, {1 + 3*0x1p-8, 0x3f82}, {-2, 0xc000}, {float32(math.Inf(1)), 0x7f80}, {0x1p-127, 0}, {-0x1p-127, 0x8000},
		{0, 0}, {1 + 0x1p-8 + 0x1p-23, 0x3f81}, // just above a tie rounds up
		{math.MaxFloat32, 0x7f80}, // past bf16's largest finite value
		{math.Float32frombits(0x80000001), 0x8000}} {
		if got := RoundBF16(c.x); got != c.want {
			t.Errorf("RoundBF16(%v) = %#x, want %#x", c.x, got, c.want)
		}
	}
	r := rand.New(rand.NewPCG(7, 8))
	src := make([]float32, 1000)
	for i := range src {
		src[i] = float32(r.NormFloat64() * math.Pow(2, float64(r.IntN(60)-30)))
	}
	src[3] = float32(math.NaN())
	// Ties, denormals of both signs, the smallest normal and a value near
	// the top of the range, in the vector path's blocks too.
	src[40], src[41] = 1+0x1p-8, 1+3*0x1p-8
	src[42], src[43] = math.Float32frombits(0x00400000), math.Float32frombits(0x807fffff)
	src[44], src[45] = math.Float32frombits(0x00800000), -3e38
	dst := make([]uint16, len(src))
	ToBF16(dst, src)
	for i, v := range src {
		if i == 3 {
			if dst[i]&0x7f80 != 0x7f80 || dst[i]&0x7f == 0 {
				t.Errorf("NaN became %#x", dst[i])
			}
			continue
		}
		if dst[i] != RoundBF16(v) {
			t.Fatalf("ToBF16[%d] (%v) = %#x, want %#x", i, v, dst[i], RoundBF16(v))
		}
	}
}

func TestGemmBF16BadArgsPanic(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("short B did not panic")
		}
	}()
	GemmBF16Bits(false, true, 4, 4, 4, make([]float32, 16), 4, make([]uint16, 15), 4, make([]float32, 16), 4, false)
}
