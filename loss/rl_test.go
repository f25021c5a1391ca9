package loss

import (
	"math"
	"math/rand"
	"testing"
)

// mask [[1,1,1],[1,0,0]], x [[1,2,3],[4,9,9]]:
//
//	token-mean              (1+2+3+4)/4       = 2.5
//	seq-mean-token-sum      ((1+2+3)+4)/2     = 5
//	seq-mean-token-mean     ((6/3)+(4/1))/2   = 3
//	seq-mean-token-sum-norm (6+4)/T = 10/3
func TestAggregateHand(t *testing.T) {
	mask := []float64{1, 1, 1, 1, 0, 0}
	x := []float64{1, 2, 3, 4, 9, 9}
	want := map[string]float64{TokenMean: 2.5, SeqMeanTokenSum: 5, SeqMeanTokenMean: 3, SeqMeanTokenSumNorm: 10.0 / 3}
	for mode, want := range want {
		w, err := AggWeights(mask, 3, mode)
		if err != nil {
			t.Fatal(err)
		}
		if got := dot(w, x); !near(got, want) {
			t.Errorf("%s: %v, want %v", mode, got, want)
		}
	}
	if len(AggModes()) != len(want) {
		t.Errorf("modes %v", AggModes())
	}
	// An empty mask aggregates to 0 rather than NaN.
	for mode := range want {
		w, err := AggWeights(make([]float64, 6), 3, mode)
		if got := dot(w, x); err != nil || got != 0 {
			t.Errorf("%s on empty mask: %v, %v", mode, got, err)
		}
	}
	if _, err := AggWeights(mask, 4, TokenMean); err == nil {
		t.Error("mask not a multiple of T accepted")
	}
	if _, err := AggWeights(mask, 3, "seq-sum"); err == nil {
		t.Error("unknown mode accepted")
	}
}

func TestGRPOAdvantagesHand(t *testing.T) {
	scores := []float64{1, 0, 0, 1, 5}
	groups := []int{7, 7, 7, 7, 3}
	// group 7: mean 0.5, unbiased std = sqrt(4·0.25/3) = sqrt(1/3); group 3 is a
	// singleton: mean 0, std 1 (verl), so 5/(1+1e-4)
	s := math.Sqrt(1.0/3) + 1e-4
	want := []float64{0.5 / s, -0.5 / s, -0.5 / s, 0.5 / s, 5 / (1 + 1e-4)}
	got, err := GRPOAdvantages(scores, groups, DefaultAdvantageConfig())
	if err != nil {
		t.Fatal(err)
	}
	for i := range want {
		if !near(got[i], want[i]) {
			t.Errorf("grpo[%d] = %v, want %v", i, got[i], want[i])
		}
	}
	// Dr. GRPO: no std division
	got, _ = GRPOAdvantages(scores, groups, AdvantageConfig{Scale: "none", Eps: 1e-4})
	for i, w := range []float64{0.5, -0.5, -0.5, 0.5, 5} {
		if !near(got[i], w) {
			t.Errorf("dr-grpo[%d] = %v, want %v", i, got[i], w)
		}
	}
	// batch: centred on the group mean, divided by the std of all five
	// scores: mean 1.4, Σ(x − 1.4)² = 0.16+1.96+1.96+0.16+12.96 = 17.2, std √(17.2/4)
	s = math.Sqrt(4.3) + 1e-6
	got, _ = GRPOAdvantages(scores, groups, AdvantageConfig{Scale: "batch", Eps: 1e-6})
	for i, w := range []float64{0.5 / s, -0.5 / s, -0.5 / s, 0.5 / s, 5 / s} {
		if !near(got[i], w) {
			t.Errorf("batch[%d] = %v, want %v", i, got[i], w)
		}
	}
	if _, err := GRPOAdvantages(scores, groups, AdvantageConfig{Scale: "global"}); err == nil {
		t.Error("unknown scale accepted")
	}
	// identical scores: std 0, advantages 0
	got, _ = GRPOAdvantages([]float64{2, 2, 2}, []int{0, 0, 0}, DefaultAdvantageConfig())
	for _, v := range got {
		if v != 0 {
			t.Errorf("equal scores gave %v", got)
		}
	}
	if _, err := GRPOAdvantages([]float64{1, 2}, []int{0}, DefaultAdvantageConfig()); err == nil {
		t.Error("group length mismatch accepted")
	}
}

func TestRLOOAdvantagesHand(t *testing.T) {
	// one group (1,2,6): each minus the mean of the others: 1−4, 2−3.5, 6−1.5;
	// a singleton keeps its score
	got, err := RLOOAdvantages([]float64{1, 2, 6, 7}, []int{0, 0, 0, 1})
	if err != nil {
		t.Fatal(err)
	}
	for i, w := range []float64{-3, -1.5, 4.5, 7} {
		if !near(got[i], w) {
			t.Errorf("rloo[%d] = %v, want %v", i, got[i], w)
		}
	}
	fn, err := OutcomeEstimator("rloo")
	if err != nil {
		t.Fatal(err)
	}
	if a, _ := fn([]float64{1, 3}, []int{0, 0}, AdvantageConfig{}); a[0] != -2 || a[1] != 2 {
		t.Errorf("registry rloo %v", a)
	}
	if _, err := OutcomeEstimator("remax"); err == nil {
		t.Error("unknown estimator accepted")
	}
}

// γ = 0.9, λ = 0.8 (γλ = 0.72), r = (0,0,1), V = (0.5,0.6,0.7):
//
//	t=2: δ = 1 − 0.7 = 0.3                     A = 0.3
//	t=1: δ = 0.9·0.7 − 0.6 = 0.03              A = 0.03 + 0.72·0.3 = 0.246
//	t=0: δ = 0.9·0.6 − 0.5 = 0.04              A = 0.04 + 0.72·0.246 = 0.21712
//
// With t=1 masked (an observation token) it neither bootstraps nor resets:
//
//	t=1: A stays 0.3, next value stays 0.7
//	t=0: δ = 0.9·0.7 − 0.5 = 0.13              A = 0.13 + 0.72·0.3 = 0.346
func TestGAEHand(t *testing.T) {
	r := []float64{0, 0, 1}
	v := []float64{0.5, 0.6, 0.7}
	adv, ret, err := GAE(r, v, []float64{1, 1, 1}, 3, 0.9, 0.8)
	if err != nil {
		t.Fatal(err)
	}
	for i, w := range []float64{0.21712, 0.246, 0.3} {
		if !near(adv[i], w) || !near(ret[i], w+v[i]) {
			t.Errorf("t=%d: A %v R %v, want %v %v", i, adv[i], ret[i], w, w+v[i])
		}
	}
	adv, _, _ = GAE(r, v, []float64{1, 0, 1}, 3, 0.9, 0.8)
	for i, w := range []float64{0.346, 0.3, 0.3} {
		if !near(adv[i], w) {
			t.Errorf("masked t=%d: A %v, want %v", i, adv[i], w)
		}
	}
	// two sequences are independent
	adv, _, _ = GAE(append(r, r...), append(v, v...), []float64{1, 1, 1, 1, 1, 1}, 3, 0.9, 0.8)
	if !near(adv[3], 0.21712) {
		t.Errorf("second row A0 = %v", adv[3])
	}
}

// x = (1,2,3,[100 masked]): mean 2, unbiased var (1+0+1)/2 = 1.
func TestMaskedWhitenHand(t *testing.T) {
	got, err := MaskedWhiten([]float64{1, 2, 3, 100}, []float64{1, 1, 1, 0}, true)
	if err != nil {
		t.Fatal(err)
	}
	k := 1 / math.Sqrt(1+1e-8)
	for i, w := range []float64{-k, 0, k, 0} {
		if !near(got[i], w) {
			t.Errorf("whiten[%d] = %v, want %v", i, got[i], w)
		}
	}
	got, _ = MaskedWhiten([]float64{1, 2, 3, 100}, []float64{1, 1, 1, 0}, false)
	if !near(got[0], 2-k) {
		t.Errorf("unshifted whiten %v", got)
	}
	if _, err := MaskedWhiten([]float64{1, 2}, []float64{1, 0}, true); err == nil {
		t.Error("single element whitened")
	}
}

// Four tokens, ε = 0.2, c = 3, token-mean, old log-prob 0 so r = e^logp:
//
//	A=+1 r=1.1: inside the range, L = −1.1, dL/dlogp = −A·r = −1.1
//	A=+1 r=1.5: clipped at 1.2, L = −1.2, gradient 0 (counts in clipfrac)
//	A=−1 r=0.5: clipped at 0.8, L = 0.8, gradient 0 (clipfrac)
//	A=−1 r=4:   max(4, 1.2) = 4 > c·|A| = 3, dual clip: L = 3, gradient 0
//
// Loss = (−1.1 − 1.2 + 0.8 + 3)/4 = 0.375; without dual clip the last token
// keeps L = 4 with gradient 4, loss (−1.1 − 1.2 + 0.8 + 4)/4 = 0.625.
func TestPPOPolicyLossHand(t *testing.T) {
	logp := []float64{math.Log(1.1), math.Log(1.5), math.Log(0.5), math.Log(4)}
	old := make([]float64, 4)
	adv := []float64{1, 1, -1, -1}
	mask := []float64{1, 1, 1, 1}
	res, err := PPOPolicyLoss(DefaultPPOConfig(), old, logp, adv, mask, 4)
	if err != nil {
		t.Fatal(err)
	}
	if !near(res.Loss, 0.375) {
		t.Errorf("loss %v, want 0.375", res.Loss)
	}
	for i, w := range []float64{-1.1 / 4, 0, 0, 0} {
		if !near(res.Grad[i], w) {
			t.Errorf("grad[%d] = %v, want %v", i, res.Grad[i], w)
		}
	}
	m := res.Metrics
	if m["pg_clipfrac"] != 0.5 || m["pg_clipfrac_lower"] != 0.25 || !near(m["ppo_kl"], -math.Log(3.3)/4) {
		t.Errorf("metrics %v", m)
	}
	cfg := DefaultPPOConfig()
	cfg.ClipC = 0
	res, _ = PPOPolicyLoss(cfg, old, logp, adv, mask, 4)
	if !near(res.Loss, 0.625) || !near(res.Grad[3], 1) {
		t.Errorf("no dual clip: loss %v grad %v", res.Loss, res.Grad)
	}
	// asymmetric clip-higher: ε_high = 0.6 leaves r = 1.5 unclipped
	cfg = DefaultPPOConfig()
	cfg.ClipHigh = 0.6
	res, _ = PPOPolicyLoss(cfg, old, logp, adv, mask, 4)
	if !near(res.Grad[1], -1.5/4) {
		t.Errorf("clip-higher grad %v", res.Grad)
	}
	for _, bad := range []PPOConfig{{ClipLow: 0.2, ClipC: 0.5, AggMode: TokenMean}, {ClipLow: 1.2, AggMode: TokenMean}, {ClipLow: 0.2}} {
		if _, err := PPOPolicyLoss(bad, old, logp, adv, mask, 4); err == nil {
			t.Errorf("config %+v accepted", bad)
		}
	}
}

func TestPPOPolicyLossFiniteDiff(t *testing.T) {
	r := rand.New(rand.NewSource(9))
	B, T := 3, 5
	n := B * T
	old := randVec(r, n, -2, 0.5)
	logp := make([]float64, n)
	adv := randVec(r, n, 0, 1)
	mask := make([]float64, n)
	for i := range logp {
		logp[i] = old[i] + 0.4*r.NormFloat64() // many tokens land outside [0.8, 1.2]
		if i%T < 4-i/T {
			mask[i] = 1
		}
	}
	for _, mode := range AggModes() {
		cfg := PPOConfig{ClipLow: 0.2, ClipHigh: 0.28, ClipC: 3, AggMode: mode}
		res, err := PPOPolicyLoss(cfg, old, logp, adv, mask, T)
		if err != nil {
			t.Fatal(err)
		}
		checkGrad(t, "ppo "+mode, func(x []float64) float64 {
			v, _ := PPOPolicyLoss(cfg, old, x, adv, mask, T)
			return v.Loss
		}, logp, res.Grad)
	}
	if fn, err := PolicyLoss("vanilla"); err != nil || fn == nil {
		t.Errorf("vanilla not registered: %v", err)
	}
	if _, err := PolicyLoss("gpg"); err == nil {
		t.Error("unknown policy loss accepted")
	}
}

// ε_v = 0.2, token-mean over 3 tokens:
//
//	v=1.0 old=0.5 R=2: clip to 0.7; (1−2)² = 1 < (0.7−2)² = 1.69 → 1.69, gradient 0
//	v=0.6 old=0.5 R=0: inside; 0.36 both; dL/dv = 2·0.6 = 1.2
//	v=1.0 old=0.5 R=0: clip to 0.7; 1 > 0.49 → 1, dL/dv = 2
//
// Loss = ½·(1.69+0.36+1)/3 = 0.508333…; Grad = ½·(0, 1.2, 2)/3.
func TestValueLossHand(t *testing.T) {
	res, err := ValueLoss([]float64{1, 0.6, 1}, []float64{0.5, 0.5, 0.5}, []float64{2, 0, 0}, []float64{1, 1, 1}, 3, 0.2, TokenMean)
	if err != nil {
		t.Fatal(err)
	}
	if !near(res.Loss, 0.5*3.05/3) || !near(res.Metrics["vf_clipfrac"], 1.0/3) {
		t.Errorf("loss %v metrics %v", res.Loss, res.Metrics)
	}
	for i, w := range []float64{0, 0.2, 1.0 / 3} {
		if !near(res.Grad[i], w) {
			t.Errorf("grad[%d] = %v, want %v", i, res.Grad[i], w)
		}
	}
	r := rand.New(rand.NewSource(11))
	n := 12
	v, old, ret := randVec(r, n, 0, 1), randVec(r, n, 0, 1), randVec(r, n, 0, 1)
	mask := []float64{1, 1, 1, 0, 1, 1, 0, 0, 1, 1, 1, 1}
	for _, clip := range []float64{0, 0.3} {
		res, _ := ValueLoss(v, old, ret, mask, 4, clip, SeqMeanTokenMean)
		checkGrad(t, "value loss", func(x []float64) float64 {
			l, _ := ValueLoss(x, old, ret, mask, 4, clip, SeqMeanTokenMean)
			return l.Loss
		}, v, res.Grad)
	}
}

// logp = −1, ref = −2 (then swapped):
//
//	k1 = p − ref = ±1, d/dp = 1
//	k2 = ½(p − ref)² = 0.5, d/dp = p − ref = ±1
//	k3 = e^x − x − 1 with x = ref − p: x = −1 → e⁻¹; d/dp = 1 − e^x = 1 − e⁻¹
//	                                   x = +1 → e − 2;  d/dp = 1 − e
func TestKLHand(t *testing.T) {
	p, ref := []float64{-1, -2}, []float64{-2, -1}
	want := map[string][2][2]float64{
		"k1":         {{1, 1}, {-1, 1}},
		"kl":         {{1, 1}, {-1, 1}},
		"abs":        {{1, 1}, {1, -1}},
		"k2":         {{0.5, 1}, {0.5, -1}},
		"mse":        {{0.5, 1}, {0.5, -1}},
		"k3":         {{math.Exp(-1), 1 - math.Exp(-1)}, {math.E - 2, 1 - math.E}},
		"low_var_kl": {{math.Exp(-1), 1 - math.Exp(-1)}, {math.E - 2, 1 - math.E}},
	}
	for kind, w := range want {
		kl, g, err := KLPenalty(kind, p, ref)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 2; i++ {
			if !near(kl[i], w[i][0]) || !near(g[i], w[i][1]) {
				t.Errorf("%s[%d] = (%v, %v), want %v", kind, i, kl[i], g[i], w[i])
			}
		}
	}
	// Far from the reference (x = 30) verl's low_var_kl is clamped to 10
	// with zero gradient; k3 (TRL's) is not: e³⁰ − 31, gradient 1 − e³⁰.
	kl, g, _ := KLPenalty("low_var_kl", []float64{-30}, []float64{0})
	if kl[0] != 10 || g[0] != 0 {
		t.Errorf("clamped low_var_kl = %v, %v", kl, g)
	}
	kl, g, _ = KLPenalty("k3", []float64{-30}, []float64{0})
	if e := math.Exp(30); !near(kl[0], e-31) || !near(g[0], 1-e) {
		t.Errorf("k3 at x = 30: %v, %v; want %v, %v", kl, g, e-31, 1-e)
	}
	if _, _, err := KLPenalty("k4", p, ref); err == nil {
		t.Error("unknown estimator accepted")
	}
}

func TestKLLossFiniteDiff(t *testing.T) {
	r := rand.New(rand.NewSource(13))
	n := 10
	p, ref := randVec(r, n, -3, 1), randVec(r, n, -3, 1)
	mask := []float64{1, 1, 1, 1, 0, 1, 1, 1, 0, 0}
	w, _ := AggWeights(mask, 5, SeqMeanTokenMean)
	for _, kind := range []string{"k1", "k2", "k3", "low_var_kl", "abs"} {
		res, err := KLLoss(kind, p, ref, mask, w)
		if err != nil {
			t.Fatal(err)
		}
		checkGrad(t, "kl "+kind, func(x []float64) float64 {
			v, _ := KLLoss(kind, x, ref, mask, w)
			return v.Loss
		}, p, res.Grad)
	}
}

// k1 over mask [[1,1,0],[1,0,0]] with logp − ref = 1, 2, (9), 4, (9, 9) and
// weights ½, ¼, 0, ¼, 0, 0: the loss is ½ + ½ + 1 = 2 and kl_sum 1 + 2 + 4.
func TestKLLossHand(t *testing.T) {
	p := []float64{1, 2, 9, 4, 9, 9}
	ref := make([]float64, 6)
	mask := []float64{1, 1, 0, 1, 0, 0}
	res, err := KLLoss("k1", p, ref, mask, []float64{0.5, 0.25, 0, 0.25, 0, 0})
	if err != nil {
		t.Fatal(err)
	}
	if res.Loss != 2 || res.Metrics["kl_sum"] != 7 || res.Grad[0] != 0.5 || res.Grad[2] != 0 {
		t.Errorf("loss %v, kl_sum %v, grad %v; want 2, 7, [0.5 0.25 0 0.25 0 0]", res.Loss, res.Metrics["kl_sum"], res.Grad)
	}
}
