package ppo

import (
	"fmt"
	"math"

	"github.com/align-go/align/generate"
	"github.com/align-go/align/loss"
	"github.com/align-go/align/model"
	"github.com/align-go/align/policy"
)

// logProbs runs m (the policy or the reference) over b and returns each
// completion token's log-prob at the sampling temperature, through the
// model's fused head; the pass's Backward gives d(hidden).
func (t *Trainer) logProbs(m *model.Model, b model.Batch, cmask []int32) (*policy.Pass, error) {
	_, hidden, err := m.Forward(b, false)
	if err != nil {
		return nil, err
	}
	return policy.LogProbs(m.LMHead(), hidden, b.IDs, cmask, b.B, b.T, t.Cfg.Sampling.Temperature, policy.LogpOnly), nil
}

// shiftValues aligns the value model with the log-probs: the value of
// completion token t is read at the hidden state before it (TRL's
// full_value[:, context_length-1:-1]).
func shiftValues(v []float64, mask []float64, T int) []float64 {
	out := make([]float64, len(v))
	for i := range v {
		if mask[i] != 0 && i%T != 0 {
			out[i] = v[i-1]
		}
	}
	return out
}

// passes runs the no-gradient passes over a rollout: old log-probs,
// reference log-probs and values. Step runs them before scoring: a reward
// model on the policy's base then finds activation buffers already laid out
// for this batch shape (with logits) and reuses them, where the other order
// would carve a logit-less buffer first and a second, larger one here, both
// resident until the collector returns the first.
func (t *Trainer) passes(ro *generate.Rollout) (*rolloutData, error) {
	cfg := &t.Cfg
	B, T := ro.B, ro.T
	mask := make([]float64, B*T)
	for i, m := range ro.CompletionMask {
		mask[i] = float64(m)
	}
	// The passes run in micro-batch-sized chunks (TRL's
	// local_rollout_forward_batch_size), so they need no activations
	// beyond what a training micro-batch holds.
	logp, ref, raw := make([]float64, B*T), make([]float64, B*T), make([]float64, B*T)
	mb := B / (cfg.NumMiniBatches * cfg.GradAccum)
	for lo := 0; lo < B; lo += mb {
		idx := make([]int, min(mb, B-lo))
		for k := range idx {
			idx[k] = lo + k
		}
		cb := model.Batch{B: len(idx), T: T, IDs: rows(ro.IDs, idx, T), Mask: rows(ro.Mask, idx, T)}
		cm := rows(ro.CompletionMask, idx, T)
		if err := t.usePolicy(); err != nil {
			return nil, err
		}
		lp, err := t.logProbs(t.Roles.Policy, cb, cm)
		if err != nil {
			return nil, err
		}
		copy(logp[lo*T:], lp.Logp)
		if t.Roles.Ref == t.Roles.Policy {
			if err := t.Roles.Policy.UseLoRA(""); err != nil {
				return nil, err
			}
		}
		if lp, err = t.logProbs(t.Roles.Ref, cb, cm); err != nil {
			return nil, err
		}
		copy(ref[lo*T:], lp.Logp)
		v, err := t.Roles.Value.Forward(cb)
		if err != nil {
			return nil, err
		}
		copy(raw[lo*T:], v)
	}
	return &rolloutData{r: ro, mask: mask, logp: logp, ref: ref, values: shiftValues(raw, mask, T)}, nil
}

// prepare folds the KL penalty and the scores into per-token rewards,
// computes GAE advantages and returns, and the objective/* metrics, each
// through loss's pure functions: KLPenalty (the --kl-estimator),
// TokenRewards (the score at the EOS), MaskedWhiten and GAE.
func (t *Trainer) prepare(d *rolloutData, scores []float64) (map[string]float64, error) {
	cfg := &t.Cfg
	B, T := d.r.B, d.r.T
	mask, logp, values := d.mask, d.logp, d.values
	kl, _, err := loss.KLPenalty(cfg.KLEstimator, logp, d.ref)
	if err != nil {
		return nil, err
	}
	rewards, nonScore, err := loss.TokenRewards(scores, kl, mask, T, cfg.KL.Coef)
	if err != nil {
		return nil, fmt.Errorf("ppo: %w", err)
	}
	var klSum, entSum, nsSum float64
	for i, m := range mask {
		if m != 0 {
			klSum += kl[i]
			nsSum += nonScore[i]
			entSum -= logp[i]
		}
	}
	d.rewards = rewards
	if cfg.WhitenRewards {
		if rewards, err = loss.MaskedWhiten(rewards, mask, false); err != nil {
			return nil, err
		}
	}
	adv, ret, err := loss.GAE(rewards, values, mask, T, cfg.Gamma, cfg.Lam)
	if err != nil {
		return nil, err
	}
	if adv, err = loss.MaskedWhiten(adv, mask, true); err != nil {
		return nil, err
	}
	mean := 0.0
	for _, s := range scores {
		mean += s
	}
	mean /= float64(B)
	nB := float64(B)
	met := map[string]float64{
		"objective/kl":               klSum / nB,
		"objective/entropy":          entSum / nB,
		"objective/non_score_reward": nsSum / nB,
		"objective/scores":           mean,
		"objective/rlhf_reward":      mean + nsSum/nB,
	}
	d.adv, d.rt, d.ref = adv, ret, nil
	return met, nil
}

// rows gathers rows of a [B,T] array.
func rows[T any](x []T, idx []int, width int) []T {
	out := make([]T, 0, len(idx)*width)
	for _, r := range idx {
		out = append(out, x[r*width:(r+1)*width]...)
	}
	return out
}

// minibatchMetrics name accumulate's statistics with TRL's names; each is
// averaged over the run's minibatches.
var minibatchMetrics = [...]string{"policy/approxkl_avg", "policy/clipfrac_avg", "loss/policy_avg", "loss/value_avg", "val/clipfrac_avg", "val/ratio"}

// accumulate runs forward and backward over rows idx of d and adds into the
// parameter sets' gradients those of scale × (policy loss + vf_coef × value
// loss), both token means over idx's completion tokens. It returns idx's
// statistics, in minibatchMetrics' order, unscaled.
func (t *Trainer) accumulate(d *rolloutData, idx []int, scale float64) ([len(minibatchMetrics)]float64, error) {
	var st [len(minibatchMetrics)]float64
	cfg := &t.Cfg
	T := d.r.T
	pcfg := loss.PPOConfig{ClipLow: cfg.ClipRange, ClipHigh: cfg.ClipRange, AggMode: loss.TokenMean}
	b := model.Batch{B: len(idx), T: T, IDs: rows(d.r.IDs, idx, T), Mask: rows(d.r.Mask, idx, T)}
	cm := rows(d.r.CompletionMask, idx, T)
	mask, old, adv := rows(d.mask, idx, T), rows(d.logp, idx, T), rows(d.adv, idx, T)
	if err := t.usePolicy(); err != nil {
		return st, err
	}
	lp, err := t.logProbs(t.Roles.Policy, b, cm)
	if err != nil {
		return st, err
	}
	logp := lp.Logp
	pl, err := loss.PPOPolicyLoss(pcfg, old, logp, adv, mask, T)
	if err != nil {
		return st, err
	}
	if scale != 1 {
		for i := range pl.Grad {
			pl.Grad[i] *= scale
		}
	}
	t.dhidden = grow(t.dhidden, b.B*T*t.Roles.Policy.Cfg.Dim)
	clear(t.dhidden)
	lp.Backward(t.dhidden, pl.Grad, nil)
	if err := t.Roles.Policy.Backward(nil, t.dhidden); err != nil {
		return st, err
	}
	raw, err := t.Roles.Value.Forward(b)
	if err != nil {
		return st, err
	}
	vpred := shiftValues(raw, mask, T)
	vl, err := loss.ValueLoss(vpred, rows(d.values, idx, T), rows(d.rt, idx, T), mask, T, cfg.ClipValue, loss.TokenMean)
	if err != nil {
		return st, err
	}
	dv := make([]float64, len(raw)) // undo the shift: value i was read at i−1
	for i, g := range vl.Grad {
		if g != 0 {
			dv[i-1] = cfg.VFCoef * g * scale
		}
	}
	if err := t.Roles.Value.Backward(dv); err != nil {
		return st, err
	}
	// approxkl is the k2 estimator between the rollout's and the current
	// policy, as TRL reports it.
	k2, _, err := loss.KLPenalty("k2", logp, old)
	if err != nil {
		return st, err
	}
	var akl, ratio float64
	nTok := 0.0
	for i, m := range mask {
		if m != 0 {
			akl += k2[i]
			ratio += math.Exp(logp[i] - old[i])
			nTok++
		}
	}
	st = [...]float64{akl / nTok, pl.Metrics["pg_clipfrac"], pl.Loss, vl.Loss, vl.Metrics["vf_clipfrac"], ratio / nTok}
	return st, nil
}
