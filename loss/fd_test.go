package loss

import (
	"math"
	"math/rand"
	"testing"
)

// checkGrad compares an analytic gradient with central finite differences of
// f at x (float64, step h). f must be smooth within ±h of x.
func checkGrad(t *testing.T, name string, f func(x []float64) float64, x, grad []float64) {
	t.Helper()
	const h = 1e-6
	if len(grad) != len(x) {
		t.Fatalf("%s: gradient has %d entries for %d inputs", name, len(grad), len(x))
	}
	xx := append([]float64(nil), x...)
	for i := range x {
		xx[i] = x[i] + h
		fp := f(xx)
		xx[i] = x[i] - h
		fm := f(xx)
		xx[i] = x[i]
		fd := (fp - fm) / (2 * h)
		if math.Abs(fd-grad[i]) > 1e-6+1e-5*math.Abs(fd) {
			t.Errorf("%s: d/dx[%d]: analytic %.10g, finite difference %.10g", name, i, grad[i], fd)
		}
	}
}

func randVec(r *rand.Rand, n int, mean, scale float64) []float64 {
	x := make([]float64, n)
	for i := range x {
		x[i] = mean + scale*r.NormFloat64()
	}
	return x
}

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-12*math.Max(1, math.Abs(b)) }
