package loss

import (
	"fmt"
	"math"
	"sort"
)

// TokenResult is a loss aggregated over [B,T] tokens. Grad is the derivative
// of Loss with respect to the per-token input the model produced (new
// log-probs for policy losses, predicted values for the value loss).
type TokenResult struct {
	Loss    float64
	Grad    []float64
	Metrics map[string]float64
}

// PPOConfig parameterises the clipped policy loss.
type PPOConfig struct {
	// ClipLow and ClipHigh bound the ratio to [1−ClipLow, 1+ClipHigh] (verl's
	// clip_ratio_low/high; DAPO's clip-higher raises ClipHigh). ClipHigh 0
	// means ClipHigh = ClipLow.
	ClipLow, ClipHigh float64
	// ClipC is the dual-clip bound c > 1 applied to negative advantages (Ye
	// et al. 2019); verl's default is 3. 0 disables dual clipping.
	ClipC float64
	// AggMode is one of the aggregation modes (verl default token-mean).
	AggMode string
}

// DefaultPPOConfig is verl's actor default: ε = 0.2, dual clip c = 3, token-mean.
func DefaultPPOConfig() PPOConfig {
	return PPOConfig{ClipLow: 0.2, ClipHigh: 0.2, ClipC: 3, AggMode: TokenMean}
}

// PolicyLossFn is the signature of a registered policy loss: per-token
// losses aggregated as Σ w·l, with w the aggregation weights of the [B,T]
// mask (AggWeights for verl's modes, GRPOWeights for TRL's GRPO loss types
// over a whole step's counts). cfg.AggMode is not read.
type PolicyLossFn func(cfg PPOConfig, oldLogp, logp, adv, mask, w []float64, T int) (TokenResult, error)

var policyLosses = map[string]PolicyLossFn{
	"vanilla": func(cfg PPOConfig, oldLogp, logp, adv, mask, w []float64, T int) (TokenResult, error) {
		return clipLoss(cfg, TokenLevel, oldLogp, logp, adv, mask, w, T)
	},
	"gspo": func(cfg PPOConfig, oldLogp, logp, adv, mask, w []float64, T int) (TokenResult, error) {
		return clipLoss(cfg, SequenceLevel, oldLogp, logp, adv, mask, w, T)
	},
}

// PolicyLosses lists the registered policy loss names.
func PolicyLosses() []string {
	names := make([]string, 0, len(policyLosses))
	for k := range policyLosses {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

// PolicyLoss returns a registered policy loss: "vanilla" (PPO's clipped
// surrogate with a per-token ratio) or "gspo" (the same with GSPO's
// sequence ratio).
func PolicyLoss(name string) (PolicyLossFn, error) {
	fn, ok := policyLosses[name]
	if !ok {
		return nil, fmt.Errorf("loss: unknown policy loss %q (have %v)", name, PolicyLosses())
	}
	return fn, nil
}

// maxGrad is the derivative of max(a, b) given da, db; torch splits ties.
func maxGrad(a, b, da, db float64) float64 {
	switch {
	case a > b:
		return da
	case b > a:
		return db
	}
	return (da + db) / 2
}

func tokenInputs(oldLogp, logp, adv, mask []float64, T int) (int, error) {
	B, err := shape(mask, T)
	if err != nil {
		return 0, err
	}
	n := B * T
	if oldLogp != nil {
		if err := checkVec("old log-probs", oldLogp, n); err != nil {
			return 0, err
		}
	}
	if err := checkVec("log-probs", logp, n); err != nil {
		return 0, err
	}
	if err := checkVec("advantages", adv, n); err != nil {
		return 0, err
	}
	return B, nil
}

// Importance-sampling levels of the policy ratio.
const (
	TokenLevel    = "token"    // r_t = π(y_t)/π_old(y_t) (PPO, GRPO): the "vanilla" loss
	SequenceLevel = "sequence" // r = exp(mean_t log π/π_old) for every token of a sequence: "gspo"
)

// PPOPolicyLoss is verl's compute_policy_loss_vanilla: per token
//
//	r = exp(clamp(logp − oldLogp, −20, 20))
//	L = max(−A·r, −A·clamp(r, 1−ε_low, 1+ε_high))
//	L = min(L, −A·c)   where A < 0 and dual clipping is on
//
// aggregated with cfg.AggMode: the registry's "vanilla" loss with the
// mode's weights. Grad is ∂Loss/∂logp. Metrics: pg_loss, pg_clipfrac (share
// of tokens where the clipped branch is larger), ppo_kl (masked mean of
// oldLogp − logp), pg_clipfrac_lower (share hitting the dual clip).
func PPOPolicyLoss(cfg PPOConfig, oldLogp, logp, adv, mask []float64, T int) (TokenResult, error) {
	w, err := AggWeights(mask, T, cfg.AggMode)
	if err != nil {
		return TokenResult{}, err
	}
	return clipLoss(cfg, TokenLevel, oldLogp, logp, adv, mask, w, T)
}

// clipLoss is the clipped surrogate of PPOPolicyLoss aggregated with the
// weights w. At level SequenceLevel (GSPO, as TRL's
// importance_sampling_level "sequence") every token of a sequence takes
// the sequence's ratio exp(mean_t (logp − oldLogp)), and the gradient is
// spread back over the sequence's tokens.
func clipLoss(cfg PPOConfig, level string, oldLogp, logp, adv, mask, w []float64, T int) (TokenResult, error) {
	lo, hi := cfg.ClipLow, cfg.ClipHigh
	if hi == 0 {
		hi = lo
	}
	if !(lo >= 0 && lo < 1) || !(hi >= 0) || math.IsInf(hi, 0) {
		return TokenResult{}, fmt.Errorf("loss: PPO clip range [1−%v, 1+%v] is invalid", lo, hi)
	}
	dual := cfg.ClipC != 0
	if dual && !(cfg.ClipC > 1) || math.IsInf(cfg.ClipC, 0) {
		return TokenResult{}, fmt.Errorf("loss: PPO dual-clip bound %v must be > 1 (or 0 to disable)", cfg.ClipC)
	}
	if _, err := tokenInputs(oldLogp, logp, adv, mask, T); err != nil {
		return TokenResult{}, err
	}
	if err := checkVec("weights", w, len(mask)); err != nil {
		return TokenResult{}, err
	}
	n := len(mask)
	logRatio := make([]float64, n)
	for i := range logRatio {
		logRatio[i] = logp[i] - oldLogp[i]
	}
	switch level {
	case TokenLevel:
	case SequenceLevel:
		for b := 0; b*T < n; b++ {
			s, k := 0.0, 0.0
			for t := b * T; t < (b+1)*T; t++ {
				if mask[t] != 0 {
					s += logRatio[t]
					k += mask[t]
				}
			}
			for t := b * T; t < (b+1)*T; t++ {
				if mask[t] != 0 {
					logRatio[t] = s / k
				}
			}
		}
	default:
		return TokenResult{}, fmt.Errorf("loss: importance-sampling level %q: want token or sequence", level)
	}
	per := make([]float64, n)
	grad := make([]float64, n)
	clipped := make([]float64, n)
	lower := make([]float64, n)
	negKL := make([]float64, n)
	for i := 0; i < n; i++ {
		a := adv[i]
		d := logRatio[i]
		dd := 1.0 // ∂d/∂logp after the ±20 clamp
		if d < -20 || d > 20 {
			d = math.Max(-20, math.Min(20, d))
			dd = 0
		}
		negKL[i] = -d
		r := math.Exp(d)
		dr := r * dd
		rc, drc := r, dr
		if r < 1-lo || r > 1+hi {
			rc, drc = math.Max(1-lo, math.Min(1+hi, r)), 0
		}
		p1, p2 := -a*r, -a*rc
		l := math.Max(p1, p2)
		dl := maxGrad(p1, p2, -a*dr, -a*drc)
		if p2 > p1 {
			clipped[i] = 1
		}
		if dual && a < 0 {
			p3 := -a * cfg.ClipC
			if l > p3 {
				lower[i] = 1
			}
			switch {
			case l > p3:
				l, dl = p3, 0
			case l == p3:
				dl /= 2
			}
		}
		per[i] = l
		grad[i] = w[i] * dl
	}
	if level == SequenceLevel {
		// Every token's loss depends on the sequence's mean log-ratio, so
		// ∂/∂logp_t is the sequence's Σ w·dl spread evenly over its tokens.
		for b := 0; b*T < n; b++ {
			s, k := 0.0, 0.0
			for t := b * T; t < (b+1)*T; t++ {
				if mask[t] != 0 {
					s += grad[t]
					k += mask[t]
				}
			}
			for t := b * T; t < (b+1)*T; t++ {
				if mask[t] != 0 {
					grad[t] = s * mask[t] / k
				}
			}
		}
	}
	return TokenResult{
		Loss: dot(w, per),
		Grad: grad,
		Metrics: map[string]float64{
			"pg_loss":           dot(w, per),
			"pg_clipfrac":       MaskedMean(clipped, mask),
			"ppo_kl":            MaskedMean(negKL, mask),
			"pg_clipfrac_lower": MaskedMean(lower, mask),
		},
	}, nil
}

// ValueLoss is verl's compute_value_loss: with the prediction clipped to
// within clip of the rollout-time value,
//
//	L = ½ · agg(max((v − R)², (clip(v, old−c, old+c) − R)²))
//
// and Grad is ∂L/∂v. clip <= 0 turns clipping off (plain ½·MSE). Metrics:
// vf_loss and vf_clipfrac (share of tokens where the clipped term is larger).
func ValueLoss(vpred, oldValues, returns, mask []float64, T int, clip float64, mode string) (TokenResult, error) {
	B, err := shape(mask, T)
	if err != nil {
		return TokenResult{}, err
	}
	n := B * T
	for _, v := range []struct {
		name string
		x    []float64
	}{{"predicted values", vpred}, {"old values", oldValues}, {"returns", returns}} {
		if err := checkVec(v.name, v.x, n); err != nil {
			return TokenResult{}, err
		}
	}
	if err := checkParam("value clip", clip); err != nil {
		return TokenResult{}, err
	}
	w, err := AggWeights(mask, T, mode)
	if err != nil {
		return TokenResult{}, err
	}
	per := make([]float64, n)
	grad := make([]float64, n)
	frac := make([]float64, n)
	for i := 0; i < n; i++ {
		v, R := vpred[i], returns[i]
		l1, d1 := (v-R)*(v-R), 2*(v-R)
		if clip <= 0 {
			per[i], grad[i] = l1, 0.5*w[i]*d1
			continue
		}
		lo, hi := oldValues[i]-clip, oldValues[i]+clip
		// torch: max(min(v, hi), lo), each splitting its gradient on ties.
		vc, dvc := v, 1.0
		switch {
		case v > hi:
			vc, dvc = hi, 0
		case v == hi:
			dvc = 0.5
		}
		switch {
		case vc < lo:
			vc, dvc = lo, 0
		case vc == lo:
			dvc *= 0.5
		}
		l2, d2 := (vc-R)*(vc-R), 2*(vc-R)*dvc
		per[i] = math.Max(l1, l2)
		grad[i] = 0.5 * w[i] * maxGrad(l1, l2, d1, d2)
		if l2 > l1 {
			frac[i] = 1
		}
	}
	l := 0.5 * dot(w, per)
	return TokenResult{
		Loss:    l,
		Grad:    grad,
		Metrics: map[string]float64{"vf_loss": l, "vf_clipfrac": MaskedMean(frac, mask)},
	}, nil
}
