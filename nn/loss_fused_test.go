package nn

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestCrossEntropyFusedMatchesSeparate: the fused op gives the separate ops'
// losses and gradients (into a zeroed buffer), ignored rows included, and
// overwrites whatever dlogits held before.
func TestCrossEntropyFusedMatchesSeparate(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, V := range []int{7, 100, 8193} {
		N := 9
		logits := make([]float32, N*V)
		for i := range logits {
			logits[i] = float32(r.NormFloat64() * 4)
		}
		targets := make([]int32, N)
		dloss := make([]float32, N)
		for i := range targets {
			targets[i] = int32(r.IntN(V))
			dloss[i] = float32(r.Float64())
		}
		targets[3] = -1
		wantL := make([]float32, N)
		wantG := make([]float32, N*V)
		CrossEntropyForward(wantL, logits, targets, N, V)
		CrossEntropyBackward(wantG, logits, targets, dloss, N, V)
		gotL := make([]float32, N)
		gotG := make([]float32, N*V)
		for i := range gotG {
			gotG[i] = 123 // stale contents must not survive
		}
		CrossEntropyFused(gotL, gotG, logits, targets, dloss, N, V)
		for i := range wantL {
			if math.Abs(float64(gotL[i]-wantL[i])) > 1e-5*math.Max(1, math.Abs(float64(wantL[i]))) {
				t.Fatalf("V=%d: loss[%d] = %g, want %g", V, i, gotL[i], wantL[i])
			}
		}
		for i := range wantG {
			if math.Abs(float64(gotG[i]-wantG[i])) > 1e-6 {
				t.Fatalf("V=%d: dlogits[%d] = %g, want %g", V, i, gotG[i], wantG[i])
			}
		}
	}
}

// TestCrossEntropyFusedHand: two logits [0, ln 3], target 1: p = [1/4, 3/4],
// loss = -ln(3/4), gradient (weight 2) = 2·([1/4, 3/4] - [0, 1]) = [0.5, -0.5].
func TestCrossEntropyFusedHand(t *testing.T) {
	losses, g := make([]float32, 1), make([]float32, 2)
	CrossEntropyFused(losses, g, []float32{0, float32(math.Log(3))}, []int32{1}, []float32{2}, 1, 2)
	if math.Abs(float64(losses[0])+math.Log(0.75)) > 1e-6 || math.Abs(float64(g[0])-0.5) > 1e-6 || math.Abs(float64(g[1])+0.5) > 1e-6 {
		t.Fatalf("loss %v, grad %v", losses[0], g)
	}
}
