//go:build amd64 && !purego

package optim

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/align-go/align/internal/cputest"
)

// TestAdamWVectorBitIdentical: the AVX2 update gives exactly the scalar loop's
// bits (no FMA, same operation order), so runs and resumes stay reproducible
// whichever path a CPU takes. Sizes leave scalar tails; spans mix decay.
func TestAdamWVectorBitIdentical(t *testing.T) {
	cputest.Require(t, useAdamAVX2, "AVX2 AdamW", "avx2")
	run := func(vec bool) []float32 {
		defer func(old bool) { useAdamAVX2 = old }(useAdamAVX2)
		useAdamAVX2 = vec
		r := rand.New(rand.NewPCG(3, 4))
		n := 1000
		p := make([]float32, n)
		for i := range p {
			p[i] = float32(r.NormFloat64())
		}
		spans := []Span{{Name: "a", Offset: 0, Size: 333, Decay: true}, {Name: "b", Offset: 333, Size: 101},
			{Name: "c", Offset: 434, Size: 566, Decay: true}}
		cfg := DefaultAdamWConfig()
		cfg.WeightDecay = 0.1
		o, err := NewAdamW(cfg, spans, n)
		if err != nil {
			t.Fatal(err)
		}
		g := make([]float32, n)
		for step := 0; step < 5; step++ {
			for i := range g {
				g[i] = float32(r.NormFloat64() * math.Pow(10, float64(r.IntN(7)-4)))
			}
			if err := o.Step(p, g, 1e-3); err != nil {
				t.Fatal(err)
			}
		}
		return p
	}
	scalar, vector := run(false), run(true)
	for i := range scalar {
		if math.Float32bits(scalar[i]) != math.Float32bits(vector[i]) {
			t.Fatalf("p[%d]: scalar %v, AVX2 %v", i, scalar[i], vector[i])
		}
	}
}
