package nn

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/align-go/align/tensor"
)

// opCase describes one op for the generic checks: its differentiable inputs,
// the float32 op under test, an independent float64 reference forward, and the
// op's backward, which must accumulate into grads and skip nil entries.
type opCase struct {
	name    string
	ins     [][]float32
	fwd     func(ins [][]float32) []float32
	ref     func(ins [][]float64) []float64
	bwd     func(ins [][]float32, dout []float32, grads [][]float32)
	fwdTol  float64 // relative to |want| + rms(want)
	gradTol float64
}

func newRNG(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 0x5eed)) }

func randn(r *rand.Rand, n int, scale float64) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(r.NormFloat64() * scale)
	}
	return x
}

func to64(x []float32) []float64 {
	if x == nil {
		return nil
	}
	y := make([]float64, len(x))
	for i, v := range x {
		y[i] = float64(v)
	}
	return y
}

func clone64(ins [][]float64) [][]float64 {
	out := make([][]float64, len(ins))
	for i, x := range ins {
		out[i] = append([]float64(nil), x...)
	}
	return out
}

func rms(x []float64) float64 {
	s := 0.0
	for _, v := range x {
		s += v * v
	}
	if len(x) == 0 {
		return 0
	}
	return math.Sqrt(s / float64(len(x)))
}

// mismatches lists elements with |got-want| > tol*(|want| + rms(want)), at most 5.
// The rms term keeps elements whose true value is ~0 from demanding an
// impossible relative accuracy.
func mismatches(got []float32, want []float64, tol float64) []string {
	if len(got) != len(want) {
		return []string{fmt.Sprintf("length %d, want %d", len(got), len(want))}
	}
	floor := rms(want)
	var bad []string
	for i := range got {
		g := float64(got[i])
		if math.Abs(g-want[i]) > tol*(math.Abs(want[i])+floor) || math.IsNaN(g) {
			if len(bad) < 5 {
				bad = append(bad, fmt.Sprintf("[%d] got %.8g want %.8g", i, g, want[i]))
			} else {
				bad[4] = "..."
			}
		}
	}
	return bad
}

// numGrad is the float64 central difference of L = Σ ref(ins)·R with respect to ins[which].
func numGrad(ref func([][]float64) []float64, ins [][]float64, which int, R []float32) []float64 {
	loss := func(x [][]float64) float64 {
		out := ref(x)
		s := 0.0
		for i, v := range out {
			s += v * float64(R[i])
		}
		return s
	}
	x := clone64(ins)
	g := make([]float64, len(x[which]))
	for j := range g {
		orig := x[which][j]
		h := 1e-5 * math.Max(1, math.Abs(orig))
		x[which][j] = orig + h
		lp := loss(x)
		x[which][j] = orig - h
		lm := loss(x)
		x[which][j] = orig
		g[j] = (lp - lm) / (2 * h)
	}
	return g
}

// numGradMemo holds numGrad's results for the inputs checkOp has seen, keyed by
// the input slice itself: forEachSetting runs checkOp on one opCase once per
// thread setting, and the float64 reference's finite differences (the bulk of
// an op test's CPU) do not depend on the setting. The key pins the slice, so
// its address cannot be reused by another case while the memo holds it; inputs
// are read-only (checkOp checks that), and R comes from a fixed seed.
var (
	numGradMu   sync.Mutex
	numGradMemo = map[numGradKey][]float64{}
)

type numGradKey struct {
	in       *float32
	n, which int
	name     string
	outLen   int
}

func cachedNumGrad(c opCase, ins64 [][]float64, which int, R []float32) []float64 {
	if len(c.ins[which]) == 0 {
		return numGrad(c.ref, ins64, which, R)
	}
	k := numGradKey{&c.ins[which][0], len(c.ins[which]), which, c.name, len(R)}
	numGradMu.Lock()
	g, ok := numGradMemo[k]
	numGradMu.Unlock()
	if !ok {
		g = numGrad(c.ref, ins64, which, R)
		numGradMu.Lock()
		numGradMemo[k] = g
		numGradMu.Unlock()
	}
	return g
}

func zeroGrads(ins [][]float32) [][]float32 {
	g := make([][]float32, len(ins))
	for i, x := range ins {
		g[i] = make([]float32, len(x))
	}
	return g
}

// checkOp runs every generic check on c and reports failures on t.
func checkOp(t *testing.T, c opCase) {
	t.Helper()
	r := newRNG(99)
	ins64 := make([][]float64, len(c.ins))
	for i, x := range c.ins {
		ins64[i] = to64(x)
	}
	snapshot := clone64(ins64)

	// Forward against the float64 reference.
	out := c.fwd(c.ins)
	for _, m := range mismatches(out, c.ref(ins64), c.fwdTol) {
		t.Errorf("%s forward: %s", c.name, m)
	}

	// Backward against central differences of the reference, from zeroed grads.
	R := randn(r, len(out), 1)
	g1 := zeroGrads(c.ins)
	c.bwd(c.ins, R, g1)
	for i := range c.ins {
		want := cachedNumGrad(c, ins64, i, R)
		for _, m := range mismatches(g1[i], want, c.gradTol) {
			t.Errorf("%s grad of input %d: %s", c.name, i, m)
		}
	}

	// Backward accumulates: from a random prefill P the result is P + g1.
	P := make([][]float32, len(c.ins))
	g2 := make([][]float32, len(c.ins))
	for i, x := range c.ins {
		P[i] = randn(r, len(x), 1)
		g2[i] = append([]float32(nil), P[i]...)
	}
	c.bwd(c.ins, R, g2)
	for i := range c.ins {
		want := make([]float64, len(P[i]))
		for j := range want {
			want[j] = float64(P[i][j]) + float64(g1[i][j])
		}
		for _, m := range mismatches(g2[i], want, 1e-5) {
			t.Errorf("%s accumulate into input %d: %s", c.name, i, m)
		}
	}

	// Nil grads are skipped and do not change the others.
	for i := range c.ins {
		only := make([][]float32, len(c.ins))
		only[i] = make([]float32, len(c.ins[i]))
		c.bwd(c.ins, R, only)
		for _, m := range mismatches(only[i], to64(g1[i]), 1e-5) {
			t.Errorf("%s with only grad %d requested: %s", c.name, i, m)
		}
	}
	c.bwd(c.ins, R, make([][]float32, len(c.ins))) // all nil: must not panic

	// Inputs are read-only for forward and backward.
	for i, x := range c.ins {
		for j, v := range x {
			if float64(v) != snapshot[i][j] {
				t.Errorf("%s modified input %d at %d", c.name, i, j)
				break
			}
		}
	}
}

// TestHarnessCatchesWrongGradients keeps the checks honest: a backward that is
// off by 0.1% or overwrites instead of accumulating must be reported.
func TestHarnessCatchesWrongGradients(t *testing.T) {
	want := []float64{1, -2, 0.5, 3}
	if len(mismatches([]float32{1, -2, 0.5, 3.003}, want, 1e-4)) == 0 {
		t.Error("0.1% error not caught")
	}
	if len(mismatches([]float32{1, -2, 0.5, 3}, want, 1e-4)) != 0 {
		t.Error("exact values flagged")
	}
	r := newRNG(1)
	R := randn(r, 3, 1)
	ref := func(in [][]float64) []float64 {
		return []float64{in[0][0] * in[0][1], math.Sin(in[0][1]), in[0][0]}
	}
	g := numGrad(ref, [][]float64{{2, 0.5}}, 0, R)
	exact := []float64{float64(R[0])*0.5 + float64(R[2]), float64(R[0])*2 + float64(R[1])*math.Cos(0.5)}
	for _, m := range mismatches([]float32{float32(g[0]), float32(g[1])}, exact, 1e-6) {
		t.Errorf("numGrad: %s", m)
	}
}

// forEachSetting runs f serially and with forced goroutine splits (tiny grains,
// more goroutines than cores), so the parallel paths run even on small inputs.
func forEachSetting(t *testing.T, f func(t *testing.T)) {
	old, oldRow, oldElem := tensor.Threads(), rowGrain, elemGrain
	defer func() { tensor.SetThreads(old); rowGrain, elemGrain = oldRow, oldElem }()
	for _, s := range []struct {
		name    string
		threads int
		grain   int
	}{{"serial", 1, 1 << 14}, {"split", 3, 1}} {
		tensor.SetThreads(s.threads)
		rowGrain, elemGrain = s.grain, s.grain
		t.Run(s.name, f)
	}
}
