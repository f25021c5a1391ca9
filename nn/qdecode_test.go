package nn

import (
	"fmt"
	"math"
	"testing"

	"github.com/align-go/align/internal/cputest"
)

// qdecodeRef is the float64 product of x [N,IC] with w's dequantised rows,
// and Σ|x·w| per output (the scale of an f32 sum's rounding error).
func qdecodeRef(x []float32, w *QWeight, N int) (ref, mag []float64) {
	IC, OC := w.IC, w.OC
	deq := make([]float32, OC*IC)
	w.Dequantize(deq, 0, OC*IC)
	ref, mag = make([]float64, N*OC), make([]float64, N*OC)
	for i := 0; i < N; i++ {
		for j := 0; j < OC; j++ {
			var s, a float64
			for p := 0; p < IC; p++ {
				v := float64(x[i*IC+p]) * float64(deq[j*IC+p])
				s += v
				a += math.Abs(v)
			}
			ref[i*OC+j], mag[i*OC+j] = s, a
		}
	}
	return ref, mag
}

// checkQDecode compares out with the float64 reference: an f32 sum of IC
// rounded products is within (IC+2)·2⁻²⁴·Σ|x·w| of it. One code read from
// the wrong nibble, or one block scaled by a neighbour's absmax, moves an
// output by about Σ|x·w|/IC·(a level gap), far outside that.
func checkQDecode(t *testing.T, what string, out []float32, ref, mag []float64, IC int) {
	t.Helper()
	tol := float64(IC+2) * math.Ldexp(1, -24)
	for i := range ref {
		if d := math.Abs(float64(out[i]) - ref[i]); d > tol*mag[i]+1e-30 {
			t.Fatalf("%s: output %d = %v, float64 reference %v (|Δ| %.3g > %.3g)", what, i, out[i], ref[i], d, tol*mag[i])
		}
	}
}

type qCase struct {
	dt WeightDType
	dq bool
}

func (c qCase) String() string { return fmt.Sprintf("%v/dq=%v", c.dt, c.dq) }

var fusedCases = []qCase{{WeightInt8, false}, {WeightNF4, false}, {WeightNF4, true}, {WeightFP4, false}, {WeightFP4, true}}

// The fused kernels against the float64 product of the dequantised
// operands, with the fused path on (every dispatch this CPU has) and off
// (the dequantising tiles, the portable path): odd row counts (partial
// groups of four), in-widths with a k tail (int8) or not a whole number of
// 4-bit blocks (fallback), a few input rows, a bias. Every row of a batch
// must also equal that row decoded alone, bit for bit.
func TestQDecodeKernels(t *testing.T) {
	cputest.Check(t, qFusedOn, "int8 fused decode kernel", "avx512f", "avx512vl")
	cputest.Check(t, haveQ4Asm, "4-bit fused decode kernel", "avx512f", "avx512vl", "avx512vbmi")
	defer func(on bool) { qFusedOn = on }(qFusedOn)
	r := newRNG(7)
	for _, fused := range []bool{true, false} {
		if fused && !haveDecodeAsm {
			continue
		}
		qFusedOn = fused
		for _, c := range fusedCases {
			ics := []int{64, 128, 896, 96, 200}
			if c.dt == WeightInt8 {
				ics = []int{16, 17, 31, 64, 100, 896}
			}
			for _, IC := range ics {
				for _, OC := range []int{1, 3, 4, 5, 13, 36, 70} {
					for _, N := range []int{1, 2, 5} {
						name := fmt.Sprintf("fused=%v/%v/IC=%d/OC=%d/N=%d", fused, c, IC, OC, N)
						w := QuantizeWeight(randn(r, OC*IC, 0.05), OC, IC, c.dt, c.dq)
						x := randn(r, N*IC, 1)
						bias := randn(r, OC, 1)
						ref, mag := qdecodeRef(x, w, N)
						out := make([]float32, N*OC)
						for i := range out {
							out[i] = float32(math.NaN()) // every output must be written
						}
						LinearDecodeMany(x, N, IC, DecodeOut{Out: out, Q: w, B: bias, OC: OC})
						for i := range ref {
							ref[i] += float64(bias[i%OC])
							mag[i] += math.Abs(float64(bias[i%OC]))
						}
						checkQDecode(t, name, out, ref, mag, IC)
						for i := 0; i < N; i++ {
							one := make([]float32, OC)
							LinearForwardQ(one, x[i*IC:(i+1)*IC], w, bias, 1)
							for j := range one {
								if math.Float32bits(one[j]) != math.Float32bits(out[i*OC+j]) {
									t.Fatalf("%s: row %d output %d is %v in the batch, %v alone", name, i, j, out[i*OC+j], one[j])
								}
							}
						}
					}
				}
			}
		}
	}
}

// The fused kernels reproduce the dequantising tiles bit for bit (the same
// conversion and scaling, dot1x4AVX512's summation), so 8/4-bit decoding
// gives exactly the f32 kernels' result on the dequantised weight:
// Qwen2.5-0.5B's in-widths (with enough rows to be split into several
// pieces across goroutines), a k tail, partial groups.
func TestQDecodeBitIdentical(t *testing.T) {
	cputest.Require(t, qFusedOn, "dot1x4Int8AVX512", "avx512f", "avx512vl")
	cputest.Require(t, haveQ4Asm, "dot1x4Q4VBMI", "avx512f", "avx512vl", "avx512vbmi")
	defer func(on bool) { qFusedOn = on }(qFusedOn)
	r := newRNG(9)
	for _, c := range fusedCases {
		for _, s := range [][2]int{{200, 896}, {38, 4864}, {37, 128}, {5, 64}, {37, 100}, {6, 17}} {
			OC, IC := s[0], s[1]
			if c.dt != WeightInt8 && IC%QBlock != 0 {
				continue
			}
			w := QuantizeWeight(randn(r, OC*IC, 0.05), OC, IC, c.dt, c.dq)
			x := randn(r, IC, 1)
			qFusedOn = true
			if !qFused(w, 1) {
				t.Fatalf("%v [%d,%d]: the fused kernel does not take it", c, OC, IC)
			}
			deq := make([]float32, OC*IC)
			w.Dequantize(deq, 0, OC*IC)
			want := make([]float32, OC)
			dotRows(want, OC, x, IC, deq, IC, 1, OC, IC)
			for _, fused := range []bool{true, false} {
				qFusedOn = fused
				got := make([]float32, OC)
				LinearDecodeMany(x, 1, IC, DecodeOut{Out: got, Q: w, OC: OC})
				for j := range got {
					if math.Float32bits(got[j]) != math.Float32bits(want[j]) {
						t.Fatalf("%v [%d,%d] fused=%v: output %d = %v, dotRows on the dequantised weight %v", c, OC, IC, fused, j, got[j], want[j])
					}
				}
			}
		}
	}
}

// Several Linears of one input in one hand-out (q, k, v with different
// dtypes; gate and up) give what each gives alone.
func TestQDecodeManyMixed(t *testing.T) {
	r := newRNG(11)
	const IC = 192
	x := randn(r, IC, 1)
	dts := []WeightDType{WeightInt8, WeightNF4, WeightBF16, WeightFP4, WeightF32}
	var outs, alone [][]float32
	var dos []DecodeOut
	for i, dt := range dts {
		OC := 40 + 13*i
		w := QuantizeWeight(randn(r, OC*IC, 0.05), OC, IC, dt, i == 3)
		outs = append(outs, make([]float32, OC))
		a := make([]float32, OC)
		LinearDecodeMany(x, 1, IC, DecodeOut{Out: a, Q: w, OC: OC})
		alone = append(alone, a)
		dos = append(dos, DecodeOut{Out: outs[i], Q: w, OC: OC})
	}
	LinearDecodeMany(x, 1, IC, dos...)
	for i := range dts {
		for j := range outs[i] {
			if outs[i][j] != alone[i][j] {
				t.Fatalf("%v: output %d = %v together, %v alone", dts[i], j, outs[i][j], alone[i][j])
			}
		}
	}
}
