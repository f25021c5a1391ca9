//go:build amd64 && !purego

package nn

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/align-go/align/internal/cputest"
)

// TestGeluVectorMatchesFloat64: the fused AVX2 GELU kernels agree with a
// float64 evaluation of the same formulas to a few float32 ulps, over a range
// that reaches the exp clamps (|x| up to 100), for forward and backward.
func TestGeluVectorMatchesFloat64(t *testing.T) {
	cputest.Require(t, useExpAVX2, "AVX2 GELU", "avx2", "fma")
	r := rand.New(rand.NewPCG(5, 6))
	n := 4096 + 3 // a scalar tail too
	x := make([]float32, n)
	d := make([]float32, n)
	for i := range x {
		x[i] = float32(r.NormFloat64() * []float64{0.5, 3, 30}[i%3])
		d[i] = float32(r.NormFloat64())
	}
	x[0], x[1], x[2] = 100, -100, 0
	out := make([]float32, n)
	g := make([]float32, n)
	for i := range g {
		g[i] = 0.25 // backward accumulates
	}
	if done := geluFwdVec(out, x); done != n&^7 {
		t.Fatalf("vector forward did %d of %d", done, n)
	}
	geluBwdVec(g, x, d)
	for i := 0; i < n&^7; i++ {
		xf := float64(x[i])
		u := 0.7978845608028654 * (xf + 0.044715*xf*xf*xf)
		s := 1 / (1 + math.Exp(-2*u))
		wantF := xf * s
		du := 0.7978845608028654 * (1 + 3*0.044715*xf*xf)
		wantG := 0.25 + (s+2*xf*du*s*(1-s))*float64(d[i])
		if e := math.Abs(float64(out[i]) - wantF); e > 4e-7*math.Max(1, math.Abs(wantF)) {
			t.Fatalf("forward x=%g: %g, want %g", x[i], out[i], wantF)
		}
		if e := math.Abs(float64(g[i]) - wantG); e > 2e-6*math.Max(1, math.Abs(wantG)) {
			t.Fatalf("backward x=%g: %g, want %g", x[i], g[i], wantG)
		}
	}
}
