package nn

import (
	"fmt"
	"math"
	"testing"

	"github.com/align-go/align/internal/cputest"
	"github.com/align-go/align/tensor"
)

// bf16Kernels lists the kernel families this CPU can run (kernF32 = Go).
func bf16Kernels() []int {
	var ks []int
	for _, n := range BF16Kernels() {
		if err := SetBF16Kernel(n); err != nil {
			panic(err)
		}
		ks = append(ks, bf16Kernel)
	}
	SetBF16Kernel(BF16Kernels()[0])
	return ks
}

var bf16KernelName = map[int]string{kernF32: "go", kernBF16Cvt: "widen", kernBF16DP: "vdpbf16ps"}

// TestLinearDecodeBF16 checks every bf16 kernel family against a float64
// reference: exactly the widened weights times the input (rounded to bf16
// for the DP kernels, which multiply bf16 by bf16), so only f32 summation
// error remains. It also checks the bound that the DP kernels' input
// rounding adds against the unrounded input: |Δ| <= 2^-8·Σ|x||w| (RNE to 8
// significant bits), and that the widening and Go paths compute bit for bit
// what the f32 tiles compute on the widened weights.
func TestLinearDecodeBF16(t *testing.T) {
	oldK, oldAsm := bf16Kernel, haveDecodeAsm
	defer func() { bf16Kernel, haveDecodeAsm = oldK, oldAsm }()
	cputest.Check(t, haveBF16Asm, "AVX512_BF16 decode tiles", "avx512f", "avx512vl", "avx512_bf16")
	cputest.Check(t, haveDecodeAsm, "AVX-512 widening bf16 tiles", "avx512f", "avx512vl")
	r := newRNG(32)
	for _, s := range []struct{ N, IC, OC int }{
		{1, 32, 4}, {1, 768, 36}, {3, 48, 8}, {4, 64, 12}, {5, 80, 9}, {9, 35, 7}, {16, 130, 21}, {2, 7, 3},
		{16, 800, 9}, {64, 200, 8}, {70, 40, 5}, {16, 3072, 8},
	} {
		inp, w, b := randn(r, s.N*s.IC, 1), randn(r, s.OC*s.IC, 1), randn(r, s.OC, 1)
		w16 := make([]uint16, len(w))
		tensor.ToBF16(w16, w)
		wide := make([]float32, len(w))
		FromBF16(wide, w16)
		x16 := make([]uint16, len(inp))
		tensor.ToBF16(x16, inp)
		xr := make([]float32, len(inp))
		FromBF16(xr, x16)
		for _, kern := range bf16Kernels() {
			t.Run(fmt.Sprintf("%s/%dx%dx%d", bf16KernelName[kern], s.N, s.IC, s.OC), func(t *testing.T) {
				bf16Kernel = kern
				x := inp
				if kern == kernBF16DP {
					x = xr
				}
				want := refLinear(to64(x), to64(wide), to64(b), s.N, s.IC, s.OC)
				forEachSetting(t, func(t *testing.T) {
					out := make([]float32, s.N*s.OC)
					LinearDecodeMany(inp, s.N, s.IC, DecodeOut{Out: out, W16: w16, B: b, OC: s.OC})
					for _, m := range mismatches(out, want, 1e-5) {
						t.Errorf("%s", m)
					}
					for i := 0; i < s.N; i++ {
						for j := 0; j < s.OC; j++ {
							exact, abs := float64(b[j]), 0.0
							for p := 0; p < s.IC; p++ {
								exact += float64(inp[i*s.IC+p]) * float64(wide[j*s.IC+p])
								abs += math.Abs(float64(inp[i*s.IC+p]) * float64(wide[j*s.IC+p]))
							}
							if d := math.Abs(float64(out[i*s.OC+j]) - exact); d > abs/256+1e-5*(abs+math.Abs(exact)) {
								t.Fatalf("[%d,%d] off by %g from the unrounded input's product, bound %g", i, j, d, abs/256)
							}
						}
					}
					for i := 0; i < s.N; i++ {
						one := make([]float32, s.OC)
						LinearDecodeMany(inp[i*s.IC:(i+1)*s.IC], 1, s.IC, DecodeOut{Out: one, W16: w16, B: b, OC: s.OC})
						for j := range one {
							if one[j] != out[i*s.OC+j] {
								t.Fatalf("row %d col %d: alone %v, in batch %v", i, j, one[j], out[i*s.OC+j])
							}
						}
					}
					if kern == kernBF16DP || s.N > DecodeMaxRows {
						return
					}
					haveDecodeAsm = kern == kernBF16Cvt
					defer func() { haveDecodeAsm = oldAsm }()
					f32 := make([]float32, s.N*s.OC)
					LinearDecode(f32, inp, wide, b, s.N, s.IC, s.OC)
					for i := range f32 {
						if f32[i] != out[i] {
							t.Fatalf("[%d]: bf16 %v, f32 tiles on the widened weights %v", i, out[i], f32[i])
						}
					}
				})
			})
		}
	}
}

// TestLinearDecodeBF16Threshold: above DecodeMaxRowsBF16 a DecodeOut with
// both copies uses the f32 GEMM (exactly LinearForward), below it the bf16
// weights.
func TestLinearDecodeBF16Threshold(t *testing.T) {
	old := DecodeMaxRowsBF16
	defer func() { DecodeMaxRowsBF16 = old }()
	DecodeMaxRowsBF16 = 2
	r := newRNG(33)
	const N, IC, OC = 5, 32, 8
	inp, w := randn(r, N*IC, 1), randn(r, OC*IC, 1)
	w16 := make([]uint16, len(w))
	// Deliberately not w: shows which copy was read.
	for i := range w16 {
		w16[i] = 0x3f80
	}
	out, want := make([]float32, N*OC), make([]float32, N*OC)
	LinearDecodeMany(inp, N, IC, DecodeOut{Out: out, W: w, W16: w16, OC: OC})
	LinearForward(want, inp, w, nil, N, IC, OC)
	for i := range out {
		if out[i] != want[i] {
			t.Fatalf("[%d] = %v, LinearForward gives %v", i, out[i], want[i])
		}
	}
	LinearDecodeMany(inp[:2*IC], 2, IC, DecodeOut{Out: out[:2*OC], W: w, W16: w16, OC: OC})
	for i := 0; i < 2; i++ {
		sum := 0.0
		for p := 0; p < IC; p++ {
			sum += float64(inp[i*IC+p])
		}
		if d := math.Abs(float64(out[i*OC]) - sum); d > 0.02*(1+math.Abs(sum)) {
			t.Fatalf("row %d at 2 rows = %v, want the bf16 weights' %v", i, out[i*OC], sum)
		}
	}
}

// TestLinearDecodeManyNoAllocs: a batch-1 decode region (bf16 weights, two
// threads, the rounded input included) allocates nothing once warm; it
// allocated its job closure and state on every call, ~100 calls a token.
func TestLinearDecodeManyNoAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector drops sync.Pool items on purpose")
	}
	old := tensor.Threads()
	defer tensor.SetThreads(old)
	tensor.SetThreads(2)
	r := newRNG(51)
	const IC = 256
	inp := randn(r, IC, 1)
	w16 := make([]uint16, 1024*IC)
	tensor.ToBF16(w16, randn(r, len(w16), 1))
	a, b := make([]float32, 512), make([]float32, 512)
	run := func() {
		LinearDecodeMany(inp, 1, IC, DecodeOut{Out: a, W16: w16[:512*IC], OC: 512}, DecodeOut{Out: b, W16: w16[512*IC:], OC: 512})
	}
	run()
	if n := testing.AllocsPerRun(50, run); n > 0.1 {
		t.Errorf("%.2f allocations per call, want 0", n)
	}
}

// TestLinearDecodeManySplit: a batch-1 bf16 job big enough to be split
// into pieces across threads (guided claims straddling the two Linears)
// computes every row once: against the float64 product of the operands as
// each kernel family takes them, a bias catching a group computed twice.
func TestLinearDecodeManySplit(t *testing.T) {
	old, oldK := tensor.Threads(), bf16Kernel
	defer func() { tensor.SetThreads(old); bf16Kernel = oldK }()
	r := newRNG(52)
	const IC = 96 // 170 groups of four rows per piece at least: 2-3 threads
	inp := randn(r, IC, 1)
	ocs := []int{1001, 1003}
	for _, k := range bf16Kernels() {
		bf16Kernel = k
		x := inp
		if k == kernBF16DP {
			x = roundBF16(inp)
		}
		for _, threads := range []int{2, 3} {
			tensor.SetThreads(threads)
			var outs []DecodeOut
			var want [][]float64
			for i, oc := range ocs {
				w16 := make([]uint16, oc*IC)
				tensor.ToBF16(w16, randn(r, oc*IC, 1))
				wide := make([]float32, len(w16))
				FromBF16(wide, w16)
				wt := refLinear32(x, wide, 1, IC, oc)
				var b []float32
				if i == 1 {
					b = randn(r, oc, 1)
					for j := range wt {
						wt[j] += float64(b[j])
					}
				}
				outs = append(outs, DecodeOut{Out: make([]float32, oc), W16: w16, B: b, OC: oc})
				want = append(want, wt)
			}
			LinearDecodeMany(inp, 1, IC, outs...)
			for i, o := range outs {
				for _, m := range mismatches(o.Out, want[i], 1e-5) {
					t.Errorf("%s, %d threads, Linear %d: %s", bf16KernelName[k], threads, i, m)
				}
			}
		}
	}
}
