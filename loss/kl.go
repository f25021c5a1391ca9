package loss

import (
	"fmt"
	"math"
	"sort"
)

// klFn returns one token's KL estimate between policy and reference given
// their log-probs, and its derivative with respect to the policy log-prob.
type klFn func(logp, ref float64) (kl, dlogp float64)

// KL estimators from Schulman's "Approximating KL divergence", named as in
// verl's kl_penalty (kl and mse are aliases of k1 and k2).
var klFns = map[string]klFn{
	// k1: log π − log π_ref; unbiased, high variance, can be negative.
	"k1": func(p, r float64) (float64, float64) { return p - r, 1 },
	"abs": func(p, r float64) (float64, float64) {
		d := p - r
		switch {
		case d > 0:
			return d, 1
		case d < 0:
			return -d, -1
		}
		return 0, 0
	},
	// k2: ½(log π − log π_ref)²; verl's "mse".
	"k2": func(p, r float64) (float64, float64) { d := p - r; return 0.5 * d * d, d },
	// k3: e^(ref−p) − (ref−p) − 1 ≥ 0, unbiased with low variance
	// (Schulman's k3; TRL's GRPO and PPO use it as it is).
	"k3": func(p, r float64) (float64, float64) {
		x := r - p
		e := math.Exp(x)
		return e - x - 1, 1 - e
	},
	// low_var_kl: verl's k3, with its clamps: the exponent to ±20 and the
	// result to ±10 (a clamped token has no gradient).
	"low_var_kl": func(p, r float64) (float64, float64) {
		x := r - p
		dx := -1.0
		if x < -20 || x > 20 {
			x, dx = math.Max(-20, math.Min(20, x)), 0
		}
		e := math.Exp(x)
		k := e - x - 1
		if k > 10 || k < -10 {
			return math.Max(-10, math.Min(10, k)), 0
		}
		return k, (e - 1) * dx
	},
}

var klAliases = map[string]string{"kl": "k1", "mse": "k2"}

// KLKinds lists the accepted estimator names, aliases included.
func KLKinds() []string {
	out := make([]string, 0, len(klFns)+len(klAliases))
	for k := range klFns {
		out = append(out, k)
	}
	for k := range klAliases {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// KLPenalty evaluates a KL estimator per token: kind is "k1"/"kl",
// "k2"/"mse", "k3", "low_var_kl" (k3 with verl's clamps) or "abs". It returns the estimates and their
// derivatives with respect to logp (the reference is frozen).
func KLPenalty(kind string, logp, ref []float64) (kl, grad []float64, err error) {
	if a, ok := klAliases[kind]; ok {
		kind = a
	}
	fn, ok := klFns[kind]
	if !ok {
		return nil, nil, fmt.Errorf("loss: unknown KL estimator %q (have %v)", kind, KLKinds())
	}
	if err := checkVec("log-probs", logp, len(logp)); err != nil {
		return nil, nil, err
	}
	if err := checkVec("reference log-probs", ref, len(logp)); err != nil {
		return nil, nil, err
	}
	kl = make([]float64, len(logp))
	grad = make([]float64, len(logp))
	for i := range logp {
		kl[i], grad[i] = fn(logp[i], ref[i])
	}
	return kl, grad, nil
}

// KLLoss is a KL estimator as a loss term over [B,T] tokens, as verl's
// actor adds it for use_kl_loss and TRL's GRPO adds β·KL to each token's
// loss: Loss = Σ w·kl with w the aggregation weights (those of the policy
// loss, scaled by the coefficient: β·w), Grad = ∂Loss/∂logp. Metrics:
// kl_loss (the Loss) and kl_sum, the plain Σ kl over the mask's tokens, so
// micro-batches add up to the step's token mean.
func KLLoss(kind string, logp, ref, mask, w []float64) (TokenResult, error) {
	if err := checkVec("mask", mask, len(logp)); err != nil {
		return TokenResult{}, err
	}
	if err := checkVec("weights", w, len(logp)); err != nil {
		return TokenResult{}, err
	}
	kl, g, err := KLPenalty(kind, logp, ref)
	if err != nil {
		return TokenResult{}, err
	}
	sum := 0.0
	for i, m := range mask {
		if m != 0 {
			sum += kl[i]
		}
	}
	for i := range g {
		g[i] *= w[i]
	}
	l := dot(w, kl)
	return TokenResult{Loss: l, Grad: g, Metrics: map[string]float64{"kl_loss": l, "kl_sum": sum}}, nil
}
