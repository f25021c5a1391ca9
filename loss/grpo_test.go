package loss

import (
	"math"
	"testing"
)

func TestGRPOWeightsHandComputed(t *testing.T) {
	// One micro-batch of 2 sequences (3 and 1 tokens) out of a step with 8
	// tokens in 4 sequences and a cap of 5 new tokens.
	mask := []float64{1, 1, 1, 0, 1, 0, 0, 0}
	c := Counts{Tokens: 8, Seqs: 4, MaxLen: 5}
	want := map[string][]float64{
		"grpo":    {1. / 12, 1. / 12, 1. / 12, 0, 1. / 4, 0, 0, 0},
		"dapo":    {1. / 8, 1. / 8, 1. / 8, 0, 1. / 8, 0, 0, 0},
		"bnpo":    {1. / 8, 1. / 8, 1. / 8, 0, 1. / 8, 0, 0, 0},
		"dr_grpo": {1. / 20, 1. / 20, 1. / 20, 0, 1. / 20, 0, 0, 0},
	}
	for name, w := range want {
		got, err := GRPOWeights(name, mask, 4, c)
		if err != nil {
			t.Fatal(err)
		}
		for i := range w {
			if math.Abs(got[i]-w[i]) > 1e-15 {
				t.Errorf("%s: w[%d] = %v, want %v", name, i, got[i], w[i])
			}
		}
	}
	if _, err := GRPOWeights("nope", mask, 4, c); err == nil {
		t.Error("unknown loss type accepted")
	}
}

// clipped runs the registry's policy loss at an importance-sampling level
// with GRPO's settings (no dual clip).
func clipped(t *testing.T, level string, old, lp, adv, mask, w []float64, T int, lo, hi float64) (float64, []float64, float64) {
	t.Helper()
	name := map[string]string{TokenLevel: "vanilla", SequenceLevel: "gspo"}[level]
	fn, err := PolicyLoss(name)
	if err != nil {
		t.Fatal(err)
	}
	res, err := fn(PPOConfig{ClipLow: lo, ClipHigh: hi}, old, lp, adv, mask, w, T)
	if err != nil {
		t.Fatal(err)
	}
	return res.Loss, res.Grad, res.Metrics["pg_clipfrac"]
}

func TestGRPOPolicyLossHand(t *testing.T) {
	// Token level, ε = 0.2, weights 1: ratio e^0.1 ≈ 1.105 with A = 1 is
	// inside the range (loss −1.105); e^0.5 ≈ 1.65 with A = 1 is clipped to
	// 1.2 (loss −1.2, no gradient); e^−0.5 ≈ 0.607 with A = −2 is clipped
	// at 0.8, and −min(−1.213, −1.6) = 1.6 (clipped, no gradient).
	old := []float64{0, 0, 0}
	lp := []float64{0.1, 0.5, -0.5}
	adv := []float64{1, 1, -2}
	mask := []float64{1, 1, 1}
	w := []float64{1, 1, 1}
	l, g, cf := clipped(t, TokenLevel, old, lp, adv, mask, w, 3, 0.2, 0.2)
	wantL := -math.Exp(0.1) - 1.2 + 1.6
	if math.Abs(l-wantL) > 1e-12 || math.Abs(g[0]+math.Exp(0.1)) > 1e-12 || g[1] != 0 || g[2] != 0 || math.Abs(cf-2./3) > 1e-12 {
		t.Errorf("loss %v grad %v clip %v; want %v [%v 0 0] 2/3", l, g, cf, wantL, -math.Exp(0.1))
	}
	// Zero advantage gives zero gradient at either level.
	for _, lvl := range []string{TokenLevel, SequenceLevel} {
		_, g, _ := clipped(t, lvl, old, lp, []float64{0, 0, 0}, mask, w, 3, 0.2, 0.2)
		for i, v := range g {
			if v != 0 {
				t.Errorf("%s: zero advantage gives gradient %v at %d", lvl, v, i)
			}
		}
	}
}

func TestGRPOPolicyLossFiniteDifferences(t *testing.T) {
	const T = 4
	old := []float64{-1, -2, -0.5, 0, -1.5, -0.3, -2, 0}
	lp := []float64{-1.05, -1.9, -0.6, 0, -1.4, -0.35, -2.1, 0}
	adv := []float64{0.7, 0.7, 0.7, 0.7, -1.3, -1.3, -1.3, -1.3}
	mask := []float64{1, 1, 1, 0, 1, 1, 1, 0}
	w, _ := GRPOWeights("grpo", mask, T, Counts{Tokens: 6, Seqs: 2})
	for _, lvl := range []string{TokenLevel, SequenceLevel} {
		for _, eps := range []float64{0.2, 0.04} { // wide: nothing clipped; narrow: some tokens clipped
			_, g, _ := clipped(t, lvl, old, lp, adv, mask, w, T, eps, eps+0.08)
			for i, m := range mask {
				if m == 0 {
					continue
				}
				const h = 1e-6
				x := append([]float64(nil), lp...)
				x[i] += h
				up, _, _ := clipped(t, lvl, old, x, adv, mask, w, T, eps, eps+0.08)
				x[i] -= 2 * h
				dn, _, _ := clipped(t, lvl, old, x, adv, mask, w, T, eps, eps+0.08)
				if fd := (up - dn) / (2 * h); math.Abs(fd-g[i]) > 1e-6 {
					t.Errorf("%s ε=%v: grad[%d] = %v, finite difference %v", lvl, eps, i, g[i], fd)
				}
			}
		}
	}
	// GSPO: the sequence ratio is exp(mean log-ratio), so a sequence whose
	// token ratios are e^0.1 and e^−0.1 has ratio 1 and loss −A·w exactly.
	l, _, _ := clipped(t, SequenceLevel, []float64{0, 0}, []float64{0.1, -0.1}, []float64{2, 2}, []float64{1, 1}, []float64{0.5, 0.5}, 2, 0.2, 0.2)
	if math.Abs(l+2) > 1e-12 {
		t.Errorf("GSPO loss %v, want −2", l)
	}
}
