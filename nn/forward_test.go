package nn

import (
	"math"
	"testing"
)

// Hand-worked forward values. Constants come from the definitions evaluated
// by hand or with a calculator, never from the code under test.

func TestExpfAccuracy(t *testing.T) {
	maxRel := 0.0
	for i := 0; i <= 2_000_000; i++ {
		x := float32(-87 + 175.7*float64(i)/2_000_000) // normal float32 results only
		want := math.Exp(float64(x))
		rel := math.Abs(float64(expf(x))-want) / want
		maxRel = math.Max(maxRel, rel)
	}
	if maxRel > 1.2e-7 { // one float32 ulp is 6e-8..1.2e-7 relative
		t.Errorf("max relative error %.3g", maxRel)
	}
	for _, tc := range []struct{ x, want float32 }{
		{0, 1}, {float32(math.Inf(-1)), 0}, {-200, 0}, {89, float32(math.Inf(1))}, {float32(math.Inf(1)), float32(math.Inf(1))},
	} {
		if got := expf(tc.x); got != tc.want {
			t.Errorf("expf(%g) = %g, want %g", tc.x, got, tc.want)
		}
	}
	if got := expf(float32(math.NaN())); got == got {
		t.Errorf("expf(NaN) = %g", got)
	}
	if got := expf(-100); math.Abs(float64(got)-3.720076e-44) > 2e-45 { // subnormal result
		t.Errorf("expf(-100) = %g", got)
	}
}

func TestForwardHand(t *testing.T) {
	cases := []struct {
		name string
		run  func() []float32
		want []float64
		tol  float64
	}{
		{"embedding", func() []float32 {
			out := []float32{0, 0, 0, 0, 0, 0}
			EmbeddingForward(out, []int32{2, 0, 2}, []float32{1, 2, 3, 4, 5, 6}, 3, 2, false)
			return out
		}, []float64{5, 6, 1, 2, 5, 6}, 0},
		{"embedding add", func() []float32 {
			out := []float32{10, 20, 30, 40}
			EmbeddingForward(out, []int32{1, 1}, []float32{1, 2, 3, 4}, 2, 2, true)
			return out
		}, []float64{13, 24, 33, 44}, 0},
		{"linear", func() []float32 {
			// [1 2; 3 4]·[[1 0],[1 1],[0 -1]]ᵀ + [10 20 30]
			out := make([]float32, 6)
			LinearForward(out, []float32{1, 2, 3, 4}, []float32{1, 0, 1, 1, 0, -1}, []float32{10, 20, 30}, 2, 2, 3)
			return out
		}, []float64{11, 23, 28, 13, 27, 26}, 0},
		{"layernorm", func() []float32 {
			// mean 2.5, var 1.25, rstd 1/√1.25 = 0.894427191
			out := make([]float32, 4)
			LayerNormForward(out, make([]float32, 1), make([]float32, 1), []float32{1, 2, 3, 4},
				[]float32{1, 1, 2, 1}, []float32{0, 0, 0, 1}, 1, 4, 0)
			return out
		}, []float64{-1.341640786, -0.447213595, 0.894427191, 2.341640786}, 1e-6},
		{"rmsnorm", func() []float32 {
			// mean square 12.5, rstd 1/√12.5 = 0.282842712
			out := make([]float32, 2)
			RMSNormForward(out, make([]float32, 1), []float32{3, 4}, []float32{1, 2}, 1, 2, 0)
			return out
		}, []float64{0.848528137, 2.262741700}, 1e-6},
		{"gelu", func() []float32 {
			out := make([]float32, 6)
			GeluForward(out, []float32{0, 1, -1, 2, -3, 10})
			return out
		}, []float64{0, 0.8411919906, -0.1588080094, 1.954597694, -0.003637392082, 10}, 1e-6},
		{"swiglu", func() []float32 {
			// silu(1) = 1/(1+e⁻¹) = 0.7310585786; silu(-2) = -2/(1+e²) = -0.2384058440
			out := make([]float32, 2)
			SwiGLUForward(out, []float32{1, -2}, []float32{2, 3})
			return out
		}, []float64{1.462117157, -0.715217532}, 1e-6},
		{"softmax", func() []float32 {
			out := make([]float32, 6)
			l2, l3 := float32(math.Log(2)), float32(math.Log(3))
			SoftmaxForward(out, []float32{0, l2, l3, 100, 100 + l2, 100 + l3}, 2, 3)
			return out
		}, []float64{1. / 6, 2. / 6, 3. / 6, 1. / 6, 2. / 6, 3. / 6}, 1e-5},
		{"logsoftmax", func() []float32 {
			out := make([]float32, 3)
			LogSoftmaxForward(out, []float32{0, float32(math.Log(2)), float32(math.Log(3))}, 1, 3)
			return out
		}, []float64{-math.Log(6), -math.Log(3), -math.Log(2)}, 1e-6},
		{"crossentropy", func() []float32 {
			// softmax [1/6, 2/6, 3/6]; target 2 → ln 2, target 0 → ln 6; ignored → 0.
			out := []float32{9, 9, 9}
			l := []float32{0, float32(math.Log(2)), float32(math.Log(3))}
			CrossEntropyForward(out, append(append(append([]float32{}, l...), l...), l...), []int32{2, 0, -100}, 3, 3)
			return out
		}, []float64{math.Ln2, math.Log(6), 0}, 1e-6},
		{"crossentropy backward", func() []float32 {
			// 0.5*(softmax - onehot(2)) added to a gradient of ones; ignored row untouched.
			g := []float32{1, 1, 1, 1, 1, 1}
			l := []float32{0, float32(math.Log(2)), float32(math.Log(3))}
			CrossEntropyBackward(g, append(append([]float32{}, l...), l...), []int32{2, -1}, []float32{0.5, 0.5}, 2, 3)
			return g
		}, []float64{1 + 1./12, 1 + 2./12, 1 - 0.25, 1, 1, 1}, 1e-6},
		{"swiglu backward tails", func() []float32 {
			// silu'(g) = s(1+g(1-s)), s = 1/(1+e^-g), for large |g|; 1-s must not
			// be formed by cancellation.
			dg := make([]float32, 4)
			SwiGLUBackward(dg, nil, []float32{1, 1, 1, 1}, []float32{12, 16, 20, -20}, []float32{1, 1, 1, 1})
			return dg
		}, []float64{1.0000675854676138, 1.0000016880272282, 1.0000000391619187, -3.9161918660646783e-08}, 1e-7},
		{"rope", func() []float32 {
			// HS=4, θ=10000: frequencies 1 and 0.01; position 1.
			// x1'=[1cos1-3sin1, 2cos.01-4sin.01], x2'=[3cos1+1sin1, 4cos.01+2sin.01]
			cos, sin := make([]float32, 4), make([]float32, 4)
			RopeTable(cos, sin, 2, 4, 10000)
			x := []float32{1, 2, 3, 4}
			RopeForward(x, []int32{1}, cos, sin, 1, 1, 4)
			return x
		}, []float64{
			0.5403023059 - 3*0.8414709848, 2*0.9999500004 - 4*0.0099998333,
			3*0.5403023059 + 0.8414709848, 4*0.9999500004 + 2*0.0099998333,
		}, 1e-6},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := c.run()
			for _, m := range mismatches(got, c.want, c.tol) {
				t.Error(m)
			}
		})
	}
	out := make([]float32, 1)
	GeluForward(out, []float32{-10})
	if out[0] > 0 || out[0] < -1e-30 { // true value -1.2e-37
		t.Errorf("gelu(-10) = %g", out[0])
	}
}

func TestLayerNormSavesStats(t *testing.T) {
	mean, rstd := make([]float32, 2), make([]float32, 2)
	LayerNormForward(make([]float32, 4), mean, rstd, []float32{1, 3, 1e4, 1e4 + 2}, []float32{1, 1}, nil, 2, 2, 0)
	for _, m := range mismatches(mean, []float64{2, 1e4 + 1}, 1e-7) {
		t.Error("mean", m)
	}
	for _, m := range mismatches(rstd, []float64{1, 1}, 1e-6) {
		t.Error("rstd", m)
	}
}

func TestRopeRoundTrip(t *testing.T) {
	r := newRNG(11)
	const T, N, H, HS = 50, 6, 2, 16
	cos, sin := make([]float32, T*HS/2), make([]float32, T*HS/2)
	RopeTable(cos, sin, T, HS, 1e6)
	x := randn(r, N*H*HS, 1)
	y := append([]float32(nil), x...)
	pos := []int32{0, 49, 7, 7, 13, 2}
	RopeForward(y, pos, cos, sin, N, H, HS)
	RopeBackward(y, pos, cos, sin, N, H, HS)
	for _, m := range mismatches(y, to64(x), 1e-6) {
		t.Error(m)
	}
}

func TestExpShift(t *testing.T) {
	// Every argument from -87 to 0 in fine steps plus some positive ones, in a
	// length that leaves a scalar tail; then the edge cases.
	const n = 1_000_003
	src := make([]float32, n)
	for i := range src {
		src[i] = float32(-87 + 95*float64(i)/n)
	}
	dst := make([]float32, n)
	for _, p := range []struct{ a, scale, b float32 }{{0, 1, 0}, {3, 0.125, 0}, {-1, 1, 2}} {
		expShift(dst, src, p.a, p.scale, p.b)
		maxRel := 0.0
		for i, x := range src {
			arg := (x-p.a)*p.scale - p.b
			if arg < -87.3 || arg > 88 {
				continue
			}
			want := math.Exp(float64(arg))
			maxRel = math.Max(maxRel, math.Abs(float64(dst[i])-want)/want)
		}
		if maxRel > 2.5e-7 { // two float32 ulps
			t.Errorf("%+v: max relative error %.3g", p, maxRel)
		}
	}
	inf := float32(math.Inf(1))
	edge := []float32{float32(math.Inf(-1)), -200, -90, 0, -0.5, 1, 2, 3, float32(math.NaN())}
	out := make([]float32, len(edge))
	expShift(out, edge, 0, 1, 0)
	want := []float64{0, 0, 0, 1, math.Exp(-0.5), math.E, math.Exp(2), math.Exp(3)}
	for i, w := range want {
		// Below -87.3 the result may be flushed to 0 or be a subnormal.
		if math.Abs(float64(out[i])-w) > 2.5e-7*w+1.2e-38 || out[0] != 0 {
			t.Errorf("exp(%g) = %g, want %g", edge[i], out[i], w)
		}
	}
	if out[8] == out[8] {
		t.Errorf("exp(NaN) = %g", out[8])
	}
	// In place, with -Inf entries (masked attention scores) in the vector part.
	x := []float32{-inf, 0, -inf, 1, 0, 0, 0, -inf, 0}
	expShift(x, x, 1, 2, 0)
	for i, w := range []float64{0, math.Exp(-2), 0, 1, math.Exp(-2), math.Exp(-2), math.Exp(-2), 0, math.Exp(-2)} {
		if math.Abs(float64(x[i])-w) > 2.5e-7*w || (w == 0 && x[i] != 0) {
			t.Errorf("in place [%d] = %g, want %g", i, x[i], w)
		}
	}
}
