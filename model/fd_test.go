package model

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestModelGradFiniteDifference checks the whole backward pass of each family,
// with a padded batch, against central differences of Σ logits·R in float64 sums.
func TestModelGradFiniteDifference(t *testing.T) {
	for _, mt := range []string{"gpt2", "llama", "qwen2", "qwen3"} {
		t.Run(mt, func(t *testing.T) {
			m := New(tinyConfig(mt))
			m.InitRandom(3)
			r := rand.New(rand.NewPCG(5, 6))
			for i := range m.Data { // non-trivial norms and biases
				if m.Data[i] == 1 || m.Data[i] == 0 {
					m.Data[i] += float32(r.NormFloat64() * 0.1)
				}
			}
			B, T, V := 2, 5, m.Cfg.Vocab
			ids := make([]int32, B*T)
			for i := range ids {
				ids[i] = int32(r.IntN(V))
			}
			mask := []int32{0, 0, 1, 1, 1, 1, 1, 1, 1, 0}
			R := make([]float32, B*T*V)
			for i := range R {
				if mask[i/V] == 1 {
					R[i] = float32(r.NormFloat64())
				}
			}
			loss := func() float64 {
				lg, _, err := m.Forward(Batch{B: B, T: T, IDs: ids, Mask: mask}, true)
				if err != nil {
					t.Fatal(err)
				}
				s := 0.0
				for i := range lg {
					s += float64(lg[i]) * float64(R[i])
				}
				return s
			}
			loss()
			m.EnableGrad()
			m.ZeroGrad()
			if err := m.Backward(R, nil); err != nil {
				t.Fatal(err)
			}
			for _, p := range m.Params {
				for trial := 0; trial < 3; trial++ {
					i := p.Offset + r.IntN(p.Size)
					old := m.Data[i]
					h := float32(1e-2)
					if mt == "qwen3" {
						h = 2e-3
					}
					m.Data[i] = old + h
					lp := loss()
					m.Data[i] = old - h
					lm := loss()
					m.Data[i] = old
					fd := (lp - lm) / (2 * float64(h))
					g := float64(m.Grad[i])
					if math.Abs(fd-g) > 2e-2*math.Max(1, math.Abs(fd)) {
						t.Errorf("%s[%d]: backward %.5f, finite difference %.5f", p.Name, i-p.Offset, g, fd)
					}
				}
			}
		})
	}
}
