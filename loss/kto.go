package loss

import (
	"fmt"
	"math"
)

// KTOConfig parameterises the KTO loss (Ethayarajh et al. 2024) as TRL's
// KTOTrainer computes it.
type KTOConfig struct {
	// LossType is "kto" (against the reference point z₀) or
	// "apo_zero_unpaired" (no reference point: desirable completions are
	// pushed above the reference, undesirable ones below it).
	LossType string
	// Beta is β (TRL default 0.1).
	Beta float64
	// DesirableWeight and UndesirableWeight weigh the two kinds of rows
	// (TRL's λ_D and λ_U, default 1); the paper suggests keeping
	// λ_D·n_D / (λ_U·n_U) between 1 and 4/3 on imbalanced data.
	DesirableWeight, UndesirableWeight float64
}

// DefaultKTOConfig is TRL's KTOConfig default.
func DefaultKTOConfig() KTOConfig {
	return KTOConfig{LossType: "kto", Beta: 0.1, DesirableWeight: 1, UndesirableWeight: 1}
}

// KTOLossTypes lists the loss types KTO accepts.
func KTOLossTypes() []string { return []string{"kto", "apo_zero_unpaired"} }

// UsesKL reports whether the loss type needs the reference point, i.e. the
// log-probs of mismatched prompt/completion pairs (KTOBatch.PolicyKL).
func (c KTOConfig) UsesKL() bool { return c.LossType == "kto" }

// Check validates the configuration.
func (c KTOConfig) Check() error {
	if c.LossType != "kto" && c.LossType != "apo_zero_unpaired" {
		return fmt.Errorf("loss: unknown KTO loss type %q (have %v)", c.LossType, KTOLossTypes())
	}
	if !(c.Beta > 0) || math.IsInf(c.Beta, 0) {
		return fmt.Errorf("loss: %s: beta %v must be positive and finite", c.LossType, c.Beta)
	}
	for _, w := range []struct {
		name string
		v    float64
	}{{"desirable weight", c.DesirableWeight}, {"undesirable weight", c.UndesirableWeight}} {
		if !(w.v >= 0) || math.IsInf(w.v, 0) {
			return fmt.Errorf("loss: %s: %s %v must be ≥ 0 and finite", c.LossType, w.name, w.v)
		}
	}
	return nil
}

// KTOBatch holds the per-row inputs of KTO. Log-probs are sums over each
// completion's tokens, as TRL's KTOTrainer uses them.
type KTOBatch struct {
	// Policy and Ref are the policy's and the frozen reference's summed
	// log-probs of each row's completion given its prompt.
	Policy, Ref []float64
	// Desirable is each row's label (thumbs-up true, thumbs-down false).
	Desirable []bool
	// PolicyKL and RefKL are the summed log-probs of mismatched pairs
	// (a row's prompt with another row's completion), from which the
	// reference point is estimated. Any number of them; only the "kto"
	// loss type reads them, and it needs at least one.
	PolicyKL, RefKL []float64
}

// KTOResult is the KTO loss over a batch. Grad[i] is d(Loss)/d(Policy[i]);
// the reference point KL is detached, so the mismatched pairs get no
// gradient. Rewards[i] is β·(Policy[i] − Ref[i]).
type KTOResult struct {
	Loss    float64
	Grad    []float64
	KL      float64
	Rewards []float64
	Metrics map[string]float64
}

// KTO evaluates TRL's KTO loss and its gradient. With r_i = π_i − ref_i and
// the reference point
//
//	z₀ = max(0, mean_j (π^KL_j − ref^KL_j))   (detached, as TRL's .detach())
//
// a desirable row costs λ_D·(1 − σ(β(r_i − z₀))) and an undesirable one
// λ_U·(1 − σ(β(z₀ − r_i))); apo_zero_unpaired uses z₀ = 0 for desirable rows
// and λ_U·σ(β·r_i) for undesirable ones. The loss is the mean over all rows.
//
// Metrics carry TRL's names: rewards/chosen and rewards/rejected (means of
// β·r over the desirable and the undesirable rows), logps/chosen and
// logps/rejected (means of π over the same rows), each present only when
// the batch has such rows, count/chosen, count/rejected, and kl (z₀).
func KTO(cfg KTOConfig, b KTOBatch) (KTOResult, error) {
	if err := cfg.Check(); err != nil {
		return KTOResult{}, err
	}
	N := len(b.Policy)
	if N == 0 {
		return KTOResult{}, fmt.Errorf("loss: %s: empty batch", cfg.LossType)
	}
	if err := checkVec("policy logps", b.Policy, N); err != nil {
		return KTOResult{}, err
	}
	if err := checkVec("reference logps", b.Ref, N); err != nil {
		return KTOResult{}, err
	}
	if len(b.Desirable) != N {
		return KTOResult{}, fmt.Errorf("loss: %d labels for %d rows", len(b.Desirable), N)
	}
	var z0 float64
	if cfg.UsesKL() {
		M := len(b.PolicyKL)
		if M == 0 {
			return KTOResult{}, fmt.Errorf("loss: kto needs the log-probs of mismatched pairs for its reference point")
		}
		if err := checkVec("policy KL logps", b.PolicyKL, M); err != nil {
			return KTOResult{}, err
		}
		if err := checkVec("reference KL logps", b.RefKL, M); err != nil {
			return KTOResult{}, err
		}
		var s float64
		for j := range M {
			s += b.PolicyKL[j] - b.RefKL[j]
		}
		z0 = max(s/float64(M), 0)
	}
	res := KTOResult{Grad: make([]float64, N), Rewards: make([]float64, N), KL: z0}
	beta, inv := cfg.Beta, 1/float64(N)
	var sum, rc, rr, lc, lr float64
	var nc, nr int
	for i := range N {
		r := b.Policy[i] - b.Ref[i]
		res.Rewards[i] = beta * r
		var l, d float64 // row loss and its derivative in r
		switch {
		case b.Desirable[i]:
			// 1 − σ(x) = σ(−x); d/dx = −σ(x)σ(−x)
			x := beta * (r - z0)
			l = cfg.DesirableWeight * sigmoid(-x)
			d = -cfg.DesirableWeight * beta * sigmoid(x) * sigmoid(-x)
			nc++
			rc += beta * r
			lc += b.Policy[i]
		case cfg.LossType == "kto":
			x := beta * (z0 - r)
			l = cfg.UndesirableWeight * sigmoid(-x)
			d = cfg.UndesirableWeight * beta * sigmoid(x) * sigmoid(-x)
		default: // apo_zero_unpaired: σ(βr)
			x := beta * r
			l = cfg.UndesirableWeight * sigmoid(x)
			d = cfg.UndesirableWeight * beta * sigmoid(x) * sigmoid(-x)
		}
		if !b.Desirable[i] {
			nr++
			rr += beta * r
			lr += b.Policy[i]
		}
		sum += l
		res.Grad[i] = d * inv
	}
	res.Loss = sum * inv
	res.Metrics = map[string]float64{"kl": z0, "count/chosen": float64(nc), "count/rejected": float64(nr)}
	if nc > 0 {
		res.Metrics["rewards/chosen"] = rc / float64(nc)
		res.Metrics["logps/chosen"] = lc / float64(nc)
	}
	if nr > 0 {
		res.Metrics["rewards/rejected"] = rr / float64(nr)
		res.Metrics["logps/rejected"] = lr / float64(nr)
	}
	return res, nil
}
