package nn

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
)

// quantFixture is testdata/gen/make_quant_fixture.py's output: levels,
// codes, scales and dequantised values computed independently in Python.
type quantFixture struct {
	OC, IC  int
	NF4     []float64
	FP4     []float64
	Dynamic []float64
	Cases   []struct {
		DType        string `json:"dtype"`
		DoubleQuant  bool   `json:"double_quant"`
		Codes        string `json:"codes"`
		Q            []int  `json:"q"`
		Absmax       []float64
		QAbsmax      []int     `json:"qabsmax"`
		Absmax2      []float64 `json:"absmax2"`
		Offset       float64
		Sample       []int
		Dequant      []float64
		DequantSumSq float64 `json:"dequant_sum_sq"`
	}
}

// fixtureWeights replays the script's LCG (integer arithmetic and exact
// power-of-two scales, so both languages get the same float32 values).
func fixtureWeights(n int) []float32 {
	x := uint64(12345)
	w := make([]float32, n)
	for i := range w {
		x = x*6364136223846793005 + 1442695040888963407
		u := float64(x>>32) / (1 << 32)
		if b := i / 64; b != 5 {
			w[i] = float32((u - 0.5) * math.Pow(2, -float64(b%7)))
		}
	}
	return w
}

func closeRel(a, b, tol float64) bool { return math.Abs(a-b) <= tol*max(1, math.Abs(b)) }

func TestQuantLevelsMatchReference(t *testing.T) {
	var fx quantFixture
	readJSON(t, "testdata/quant.json", &fx)
	for i := range 16 {
		if !closeRel(float64(NF4Levels[i]), fx.NF4[i], 1e-6) {
			t.Errorf("NF4 level %d = %v, reference %v", i, NF4Levels[i], fx.NF4[i])
		}
		if !closeRel(float64(FP4Levels[i]), fx.FP4[i], 1e-6) {
			t.Errorf("FP4 level %d = %v, reference %v", i, FP4Levels[i], fx.FP4[i])
		}
	}
	for i := range 256 {
		if !closeRel(float64(DynamicCode[i]), fx.Dynamic[i], 1e-6) {
			t.Errorf("dynamic code %d = %v, reference %v", i, DynamicCode[i], fx.Dynamic[i])
		}
	}
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatal(err)
	}
}

// Block quantisation, double quantisation and int8 rows against the
// independent Python implementation: every code and scale, sampled
// dequantised values and the sum of squares of all of them.
func TestQuantizeMatchesReference(t *testing.T) {
	var fx quantFixture
	readJSON(t, "testdata/quant.json", &fx)
	n := fx.OC * fx.IC
	w := fixtureWeights(n)
	for _, c := range fx.Cases {
		t.Run(fmt.Sprintf("%s/dq=%v", c.DType, c.DoubleQuant), func(t *testing.T) {
			dt, _ := ParseWeightDType(c.DType)
			q := QuantizeWeight(w, fx.OC, fx.IC, dt, c.DoubleQuant)
			bad := 0
			switch dt {
			case WeightInt8:
				for i, v := range c.Q {
					if int(int8(q.Q[i])) != v && bad < 5 {
						bad++
						t.Errorf("q[%d] = %d, reference %d (w %v)", i, int8(q.Q[i]), v, w[i])
					}
				}
			default:
				for i := 0; i < n; i++ {
					b := q.Q[i/2]
					if i%2 == 0 {
						b >>= 4
					}
					want, _ := strconv.ParseUint(c.Codes[i:i+1], 16, 8)
					if b&15 != byte(want) && bad < 5 {
						bad++
						t.Errorf("code[%d] = %d, reference %d (w %v)", i, b&15, want, w[i])
					}
				}
			}
			if c.DoubleQuant {
				if !closeRel(float64(q.AbsmaxOffset), c.Offset, 1e-7) {
					t.Errorf("offset %v, reference %v", q.AbsmaxOffset, c.Offset)
				}
				for i, v := range c.QAbsmax {
					if int(q.QAbsmax[i]) != v {
						t.Errorf("absmax code %d = %d, reference %d", i, q.QAbsmax[i], v)
						break
					}
				}
				for i, v := range c.Absmax2 {
					if !closeRel(float64(q.Absmax2[i]), v, 1e-7) {
						t.Errorf("absmax2[%d] = %v, reference %v", i, q.Absmax2[i], v)
					}
				}
			} else {
				for i, v := range c.Absmax {
					if float64(q.Absmax[i]) != v {
						t.Errorf("absmax[%d] = %v, reference %v", i, q.Absmax[i], v)
						break
					}
				}
			}
			deq := make([]float32, n)
			q.Dequantize(deq, 0, n)
			for k, i := range c.Sample {
				if !closeRel(float64(deq[i]), c.Dequant[k], 2e-6) {
					t.Errorf("dequant[%d] = %v, reference %v", i, deq[i], c.Dequant[k])
					break
				}
			}
			var ss float64
			for _, v := range deq {
				ss += float64(v) * float64(v)
			}
			if !closeRel(ss, c.DequantSumSq, 1e-6) {
				t.Errorf("sum of squares %v, reference %v", ss, c.DequantSumSq)
			}
			// Dequantising any sub-range gives the same values.
			part := make([]float32, 300)
			for _, lo := range []int{0, 1, 63, 64, 99, 131, n - 300} {
				q.Dequantize(part, lo, lo+300)
				for j := range part {
					if part[j] != deq[lo+j] {
						t.Fatalf("Dequantize(%d, %d)[%d] = %v, whole-range %v", lo, lo+300, j, part[j], deq[lo+j])
					}
				}
			}
		})
	}
}

// randQ makes a random weight with a spread of row and block scales.
func randQ(r *rand.Rand, OC, IC int, dt WeightDType, dq bool) *QWeight {
	w := make([]float32, OC*IC)
	for i := range w {
		w[i] = float32(r.NormFloat64() * math.Pow(2, float64(i%5)-2) * 0.1)
	}
	return QuantizeWeight(w, OC, IC, dt, dq)
}

var qCases = []struct {
	dt WeightDType
	dq bool
}{{WeightF32, false}, {WeightBF16, false}, {WeightF16, false}, {WeightInt8, false},
	{WeightNF4, false}, {WeightNF4, true}, {WeightFP4, false}, {WeightFP4, true}}

// The forward and input-gradient kernels against a float64 product of the
// dequantised weight, over row counts on both sides of the tile/GEMM switch,
// odd shapes (blocks straddling rows, partial 4-row groups and K tails) and a
// panel split (a wide IC forces several panels).
func TestLinearQMatchesFloat64(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	shapes := [][2]int{{37, 83}, {5, 64}, {70, 33}, {41, 1 << 15}}
	for _, c := range qCases {
		for _, sh := range shapes {
			OC, IC := sh[0], sh[1]
			// The wide shape is there for the GEMM's row panels (two of
			// them), whose bookkeeping is the same for every dtype: int8
			// and double-quantised NF4 cover it at a quarter of the float64
			// reference's time.
			if IC > 4096 && c.dt != WeightInt8 && !(c.dt == WeightNF4 && c.dq) {
				continue
			}
			q := randQ(r, OC, IC, c.dt, c.dq)
			deq := make([]float32, OC*IC)
			q.Dequantize(deq, 0, OC*IC)
			for _, N := range []int{1, 3, 5, 33, 70} {
				if IC > 4096 && N != 1 && N != 33 {
					continue
				}
				inp := make([]float32, N*IC)
				dout := make([]float32, N*OC)
				for i := range inp {
					inp[i] = float32(r.NormFloat64())
				}
				for i := range dout {
					dout[i] = float32(r.NormFloat64())
				}
				bias := make([]float32, OC)
				for i := range bias {
					bias[i] = float32(i) / 10
				}
				out := make([]float32, N*OC)
				LinearForwardQ(out, inp, q, bias, N)
				for i := 0; i < N; i++ {
					for j := 0; j < OC; j++ {
						var s, sa float64
						for k := 0; k < IC; k++ {
							p := float64(inp[i*IC+k]) * float64(deq[j*IC+k])
							s += p
							sa += math.Abs(p)
						}
						s += float64(bias[j])
						if math.Abs(float64(out[i*OC+j])-s) > 1e-5*(sa+1) {
							t.Fatalf("%v dq=%v [%d,%d] N=%d: out[%d,%d] = %v, float64 %v", c.dt, c.dq, OC, IC, N, i, j, out[i*OC+j], s)
						}
					}
				}
				dinp := make([]float32, N*IC)
				for i := range dinp {
					dinp[i] = 0.5
				}
				LinearBackwardQ(dinp, dout, q, N)
				// Summed over j for every k at once, walking deq's rows in
				// order (a column walk misses the cache at wide IC).
				s, sa := make([]float64, IC), make([]float64, IC)
				for i := 0; i < N; i++ {
					for k := range s {
						s[k], sa[k] = 0.5, 0.5
					}
					for j := 0; j < OC; j++ {
						d, row := float64(dout[i*OC+j]), deq[j*IC:(j+1)*IC]
						for k, w := range row {
							p := d * float64(w)
							s[k] += p
							sa[k] += math.Abs(p)
						}
					}
					for k := 0; k < IC; k++ {
						if math.Abs(float64(dinp[i*IC+k])-s[k]) > 1e-5*(sa[k]+1) {
							t.Fatalf("%v dq=%v [%d,%d] N=%d: dinp[%d,%d] = %v, float64 %v", c.dt, c.dq, OC, IC, N, i, k, dinp[i*IC+k], s[k])
						}
					}
				}
			}
		}
	}
}

// The dequantised weight is within the format's resolution of the original:
// half a level gap times the block absmax (4-bit), half a step (int8), a
// rounding (bf16, f16).
func TestQuantizeError(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	const OC, IC = 16, 96
	w := make([]float32, OC*IC)
	for i := range w {
		w[i] = float32(r.NormFloat64())
	}
	for _, c := range qCases {
		q := QuantizeWeight(w, OC, IC, c.dt, c.dq)
		deq := make([]float32, OC*IC)
		q.Dequantize(deq, 0, OC*IC)
		var worst float64
		for i, v := range w {
			var bound float64
			switch c.dt {
			case WeightF32:
				bound = 0
			case WeightBF16:
				bound = math.Abs(float64(v)) / 256
			case WeightF16:
				bound = math.Abs(float64(v)) / 2048
			case WeightInt8:
				var m float64
				for _, x := range w[i/IC*IC : i/IC*IC+IC] {
					m = max(m, math.Abs(float64(x)))
				}
				bound = m / 127 / 2 * 1.0001
			default:
				var m float64
				for _, x := range w[i/QBlock*QBlock : i/QBlock*QBlock+QBlock] {
					m = max(m, math.Abs(float64(x)))
				}
				gap := 0.34 // the widest NF4/FP4 gap (FP4 0.667..1)
				if c.dq {
					m *= 1.01 // the absmax itself is quantised to the dynamic code
				}
				bound = m * (gap/2 + 0.01)
			}
			e := math.Abs(float64(deq[i]) - float64(v))
			worst = max(worst, e/max(bound, 1e-30))
			if e > bound {
				t.Fatalf("%v dq=%v: element %d: %v -> %v, error %v > %v", c.dt, c.dq, i, v, deq[i], e, bound)
			}
		}
	}
}

// The dispatched dequantisers (AVX-512 where present) equal the Go ones bit
// for bit, at every length and 4-bit start offset around the vector widths.
func TestDequantKernelsMatchGo(t *testing.T) {
	if !haveDecodeAsm {
		t.Log("no AVX-512: the dispatched kernels are the Go ones")
	}
	r := rand.New(rand.NewPCG(7, 7))
	u16 := make([]uint16, 300)
	q := make([]byte, 300)
	for i := range u16 {
		u16[i] = uint16(r.Uint32())
		q[i] = byte(r.Uint32())
	}
	got, want := make([]float32, 300), make([]float32, 300)
	same := func(what string, n int) {
		for i := 0; i < n; i++ {
			a, b := math.Float32bits(got[i]), math.Float32bits(want[i])
			if a != b && !(got[i] != got[i] && want[i] != want[i]) {
				t.Fatalf("%s n=%d: [%d] = %v (%#x), Go %v (%#x)", what, n, i, got[i], a, want[i], b)
			}
		}
	}
	for _, n := range []int{1, 15, 16, 17, 31, 32, 33, 64, 100, 255} {
		widenBF16(got[:n], u16)
		widenBF16Go(want[:n], u16)
		same("bf16", n)
		widenF16(got[:n], u16)
		widenF16Go(want[:n], u16)
		same("f16", n)
		dequantInt8(got[:n], q, 0.37)
		dequantInt8Go(want[:n], q, 0.37)
		same("int8", n)
		for _, start := range []int{0, 1, 2, 64, 65} {
			for _, lv := range []*[16]float32{&NF4Levels, &FP4Levels} {
				dequant4(got[:n], q, start, lv, 1.7)
				dequant4Go(want[:n], q, start, lv, 1.7)
				same(fmt.Sprintf("4-bit start %d", start), n)
			}
		}
	}
}
