package nn

import (
	"fmt"
	"math"
	"testing"

	"github.com/align-go/align/internal/cputest"
)

// The input quantiser against its definition, computed here in float64:
// d = absmax/127 per block of 64, each code the nearest integer to x/d
// (within rounding of x·(127/absmax) in f32), corr the −128-fold sum of
// each four codes. A block scaled by its neighbour's absmax or a code off
// by one fails.
func TestQuantizeAct(t *testing.T) {
	r := newRNG(5)
	x := randn(r, 3*q8Width, 1)
	x[70] = 9            // one outlier: block 1's scale
	clear(x[2*q8Width:]) // an all-zero block
	xa := make([]q8Block, 3)
	quantizeAct(xa, x)
	for b := range xa {
		var m float64
		for _, v := range x[b*q8Width : (b+1)*q8Width] {
			m = math.Max(m, math.Abs(float64(v)))
		}
		d := m / 127
		for l := 0; l < 16; l++ {
			if math.Abs(float64(xa[b].d[l])-d) > 1e-7*d {
				t.Fatalf("block %d lane %d: d = %v, want %v", b, l, xa[b].d[l], d)
			}
			var s int32
			for i := 4 * l; i < 4*l+4; i++ {
				s += int32(xa[b].q[i])
			}
			if xa[b].corr[l] != -128*s {
				t.Fatalf("block %d lane %d: corr %d, want %d", b, l, xa[b].corr[l], -128*s)
			}
		}
		for i := 0; i < q8Width; i++ {
			v := float64(x[b*q8Width+i])
			q := float64(xa[b].q[i])
			if d == 0 {
				if q != 0 {
					t.Fatalf("zero block %d: code %v", b, q)
				}
				continue
			}
			if math.Abs(q-v/d) > 0.5+1e-5 || math.Abs(q) > 127 {
				t.Fatalf("block %d element %d: code %v for %v (x/d = %v)", b, i, q, v, v/d)
			}
		}
	}
}

// The int8-activation product against the float64 product of its
// quantised operands (the int8 weight times absmax/127, the int8 input
// times its block's d): the integer sums are exact, so only the f32 sum
// over blocks and lanes and the final scaling round, within
// (blocks+8)·2⁻²⁴·Σ|x̂·ŵ|. Odd row counts (the zero-padded last group),
// Qwen2.5-0.5B's widths, an outlier, a bias. Off, or at an in-width that
// is not a multiple of 64, the exact kernels run.
func TestQ8DecodeKernel(t *testing.T) {
	cputest.Check(t, haveVNNIAsm, "dot1x4Int8VNNI", "avx512f", "avx512vl", "avx512_vnni")
	if !haveVNNIAsm {
		t.Skip("no AVX512_VNNI: the exact kernels run (TestQDecodeKernels)")
	}
	r := newRNG(13)
	for _, s := range [][2]int{{1, 64}, {3, 128}, {4, 64}, {5, 192}, {13, 896}, {70, 64}, {37, 4864}} {
		OC, IC := s[0], s[1]
		name := fmt.Sprintf("[%d,%d]", OC, IC)
		w := QuantizeWeight(randn(r, OC*IC, 0.05), OC, IC, WeightInt8, false)
		w.Int8Act = true
		if !q8On(w) {
			t.Fatalf("%s: the int8-activation kernel does not take it", name)
		}
		x := randn(r, IC, 1)
		x[IC/2] = 12 // an outlier
		bias := randn(r, OC, 1)
		xa := make([]q8Block, IC/q8Width)
		quantizeAct(xa, x)
		out := make([]float32, OC)
		for i := range out {
			out[i] = float32(math.NaN())
		}
		LinearDecodeMany(x, 1, IC, DecodeOut{Out: out, Q: w, B: bias, OC: OC})
		for j := 0; j < OC; j++ {
			var ref, mag float64
			for b := range xa {
				for i := 0; i < q8Width; i++ {
					p := b*q8Width + i
					v := float64(int8(w.Q[j*IC+p])) * float64(w.Absmax[j]) / 127 * float64(xa[b].q[i]) * float64(xa[b].d[0])
					ref += v
					mag += math.Abs(v)
				}
			}
			ref += float64(bias[j])
			mag += math.Abs(float64(bias[j]))
			tol := float64(len(xa)+8) * math.Ldexp(1, -24) * mag
			if d := math.Abs(float64(out[j]) - ref); !(d <= tol+1e-30) {
				t.Fatalf("%s: output %d = %v, float64 reference %v (|Δ| %.3g > %.3g)", name, j, out[j], ref, d, tol)
			}
		}
	}
	// Off (the default), and at an in-width the kernel does not take, the
	// exact path runs: bit-identical to the dequantised f32 product.
	for _, s := range [][2]int{{5, 128}, {6, 100}} {
		OC, IC := s[0], s[1]
		w := QuantizeWeight(randn(r, OC*IC, 0.05), OC, IC, WeightInt8, false)
		w.Int8Act = IC%q8Width != 0
		x := randn(r, IC, 1)
		deq := make([]float32, OC*IC)
		w.Dequantize(deq, 0, OC*IC)
		want, got := make([]float32, OC), make([]float32, OC)
		dotRows(want, OC, x, IC, deq, IC, 1, OC, IC)
		LinearDecodeMany(x, 1, IC, DecodeOut{Out: got, Q: w, OC: OC})
		for j := range got {
			if math.Float32bits(got[j]) != math.Float32bits(want[j]) {
				t.Fatalf("[%d,%d] Int8Act=%v: output %d = %v, exact %v", OC, IC, w.Int8Act, j, got[j], want[j])
			}
		}
	}
}
