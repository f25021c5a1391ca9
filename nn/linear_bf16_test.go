package nn

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/align-go/align/tensor"
)

func rb(x float32) float64 { return float64(math.Float32frombits(uint32(tensor.RoundBF16(x)) << 16)) }

// wantBF16 is Σp rb(a(i,p))·rb(b(p,j)) in float64 with its tolerance
// (f32 summation error of the kernels).
func wantBF16(k int, a, b func(p int) float32) (s, tol float64) {
	var sa float64
	for p := 0; p < k; p++ {
		x := rb(a(p)) * rb(b(p))
		s += x
		sa += math.Abs(x)
	}
	return s, 4 * math.Sqrt(float64(k)+1) * 0x1p-24 * sa
}

func randF32(r *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(r.NormFloat64())
	}
	return s
}

// TestLinearBF16 checks each Linear entry point at tensor.BF16 (f32
// weights, bf16 weights read directly, an int8 weight widened then rounded)
// against the float64 product of the bf16-rounded operands: forward (bias
// added in f32), input and weight gradients. N is above DecodeMaxRows so
// the compact kernels take the GEMM path.
func TestLinearBF16(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 16))
	N, IC, OC := DecodeMaxRows+9, 67, 45
	inp, w, b, dout := randF32(r, N*IC), randF32(r, OC*IC), randF32(r, OC), randF32(r, N*OC)
	check := func(what string, got []float32, i, j int, want, tol float64) {
		t.Helper()
		if d := math.Abs(float64(got[i]) - want); !(d <= tol+1e-6*math.Abs(want)) {
			t.Fatalf("%s [%d,%d] = %v, want %v (|diff| %g)", what, i, j, got[i], want, d)
		}
	}
	forward := func(what string, out []float32, wv []float32, bias []float32) {
		for i := 0; i < N; i++ {
			for j := 0; j < OC; j++ {
				s, tol := wantBF16(IC, func(p int) float32 { return inp[i*IC+p] }, func(p int) float32 { return wv[j*IC+p] })
				if bias != nil {
					s += float64(bias[j])
				}
				check(what, out, i*OC+j, j, s, tol)
			}
		}
	}
	dinput := func(what string, dinp, wv []float32) {
		for i := 0; i < N; i++ {
			for c := 0; c < IC; c++ {
				s, tol := wantBF16(OC, func(p int) float32 { return dout[i*OC+p] }, func(p int) float32 { return wv[p*IC+c] })
				check(what, dinp, i*IC+c, c, s, tol)
			}
		}
	}

	out := make([]float32, N*OC)
	LinearForwardP(tensor.BF16, out, inp, w, b, N, IC, OC)
	forward("LinearForwardP", out, w, b)

	dinp, dw := make([]float32, N*IC), make([]float32, OC*IC)
	LinearBackwardP(tensor.BF16, dinp, dw, nil, dout, inp, w, N, IC, OC)
	dinput("LinearBackwardP dinp", dinp, w)
	for o := 0; o < OC; o++ {
		for c := 0; c < IC; c++ {
			s, tol := wantBF16(N, func(p int) float32 { return dout[p*OC+o] }, func(p int) float32 { return inp[p*IC+c] })
			check("LinearBackwardP dw", dw, o*IC+c, c, s, tol)
		}
	}

	for _, dt := range []WeightDType{WeightBF16, WeightInt8} {
		q := QuantizeWeight(w, OC, IC, dt, false)
		wq := make([]float32, OC*IC)
		q.Dequantize(wq, 0, OC*IC)
		out := make([]float32, N*OC)
		LinearForwardQP(tensor.BF16, out, inp, q, b, N)
		forward("LinearForwardQP "+dt.String(), out, wq, b)
		dinp := make([]float32, N*IC)
		LinearBackwardQP(tensor.BF16, dinp, dout, q, N)
		dinput("LinearBackwardQP "+dt.String(), dinp, wq)
	}
}

// TestLMHeadBF16: at Prec BF16 the fused head's log-probs are those of
// logits computed from bf16-rounded hidden states and weights.
func TestLMHeadBF16(t *testing.T) {
	r := rand.New(rand.NewPCG(2, 16))
	N, C, V := 40, 33, 70
	hidden, w := randF32(r, N*C), randF32(r, V*C)
	targets := make([]int32, N)
	for i := range targets {
		targets[i] = int32(r.IntN(V))
	}
	h := &LMHead{W: w, V: V, C: C, Rows: 16, Prec: tensor.BF16}
	p := h.Forward(hidden, targets, N, 1, HeadWant{})
	h32 := &LMHead{W: w, V: V, C: C, Rows: 16}
	p32 := h32.Forward(hidden, targets, N, 1, HeadWant{})
	differ := false
	for i := 0; i < N; i++ {
		lg := make([]float64, V)
		mx := math.Inf(-1)
		for j := range lg {
			lg[j], _ = wantBF16(C, func(p int) float32 { return hidden[i*C+p] }, func(p int) float32 { return w[j*C+p] })
			mx = math.Max(mx, lg[j])
		}
		var s float64
		for _, x := range lg {
			s += math.Exp(x - mx)
		}
		want := lg[targets[i]] - mx - math.Log(s)
		if d := math.Abs(p.Logp[i] - want); d > 1e-5 {
			t.Fatalf("row %d: log p %v, want %v (bf16 operands)", i, p.Logp[i], want)
		}
		differ = differ || math.Abs(p32.Logp[i]-want) > 1e-5
	}
	if !differ {
		t.Fatal("f32 head matches the bf16 reference too: the test cannot tell them apart")
	}
}
