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

// quantizeActPlain is quantizeAct as first written (float max of abs32,
// slices): the fast form must give the same codes, corrections and scales.
func quantizeActPlain(xa []q8Block, x []float32) {
	for b := range xa {
		blk := x[b*q8Width : (b+1)*q8Width]
		var m float32
		for _, v := range blk {
			m = max(m, abs32(v))
		}
		a := &xa[b]
		d, inv := m/127, float32(0)
		if m > 0 && m <= math.MaxFloat32 {
			inv = 127 / m
		}
		if inv == 0 {
			clear(a.q[:])
		} else {
			for i, v := range blk {
				t := float32(v * inv)
				t = float32(t+0xc00000) - 0xc00000
				a.q[i] = int8(max(-127, min(127, int32(t))))
			}
		}
		for l := range a.corr {
			a.corr[l] = -128 * (int32(a.q[4*l]) + int32(a.q[4*l+1]) + int32(a.q[4*l+2]) + int32(a.q[4*l+3]))
			a.d[l] = d
		}
	}
}

// TestQuantizeActMatchesPlain: bit for bit the plain form's blocks, over
// random rows, an outlier at each of the four max chains' positions,
// half-way codes, negative zeros, subnormals, and Inf and NaN (scale Inf or
// NaN, codes zero).
func TestQuantizeActMatchesPlain(t *testing.T) {
	r := newRNG(21)
	const nb = 12
	x := randn(r, nb*q8Width, 1)
	for k := 0; k < 4; k++ {
		x[k*q8Width+k+8] = float32(-7 - k) // block k's absmax on chain k
	}
	for i := 0; i < q8Width; i++ { // block 4: codes at exact halves
		x[4*q8Width+i] = float32(i-32) + 0.5
	}
	x[4*q8Width] = 127
	x[5*q8Width+3] = float32(math.Copysign(0, -1))
	for i := 6 * q8Width; i < 7*q8Width; i++ {
		x[i] = math.Float32frombits(uint32(i)) // subnormals
	}
	x[7*q8Width+9] = float32(math.Inf(-1))
	x[8*q8Width+60] = float32(math.NaN())
	clear(x[9*q8Width : 10*q8Width])
	want := make([]q8Block, nb)
	quantizeActPlain(want, x)
	defer func(on bool) { qActAsm = on }(qActAsm)
	for _, asm := range []bool{false, true} {
		if asm && !haveVNNIAsm {
			continue
		}
		qActAsm = asm
		t.Run(fmt.Sprintf("asm=%v", asm), func(t *testing.T) { checkQuantizeAct(t, x, want) })
	}
}

func checkQuantizeAct(t *testing.T, x []float32, want []q8Block) {
	got := make([]q8Block, len(want))
	quantizeAct(got, x)
	for b := range got {
		g, w := got[b], want[b]
		same := g.q == w.q && g.corr == w.corr
		for l := range g.d {
			same = same && (g.d[l] == w.d[l] || g.d[l] != g.d[l] && w.d[l] != w.d[l])
		}
		if !same {
			t.Errorf("block %d: %+v, plain form %+v", b, g, w)
		}
	}
	if d := got[7].d[0]; !math.IsInf(float64(d), 1) {
		t.Errorf("block with -Inf: scale %v, want +Inf", d)
	}
	if d := got[8].d[0]; d == d {
		t.Errorf("block with NaN: scale %v, want NaN", d)
	}
}

// BenchmarkQuantizeAct times the input quantiser at Qwen2.5-0.5B's two
// in-widths, the assembly and the Go form:
//
//	go test ./nn -run '^$' -bench QuantizeAct
func BenchmarkQuantizeAct(b *testing.B) {
	defer func(on bool) { qActAsm = on }(qActAsm)
	for _, K := range []int{896, 4864} {
		x := randn(newRNG(1), K, 1)
		xa := make([]q8Block, K/q8Width)
		for _, asm := range []bool{false, true} {
			if asm && !haveVNNIAsm {
				continue
			}
			b.Run(fmt.Sprintf("k=%d/asm=%v", K, asm), func(b *testing.B) {
				qActAsm = asm
				for b.Loop() {
					quantizeAct(xa, x)
				}
			})
		}
	}
}
