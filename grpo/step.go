package grpo

import (
	"fmt"
	"hash/fnv"
	"math"
	"time"

	"github.com/align-go/align/generate"
	"github.com/align-go/align/loss"
	"github.com/align-go/align/model"
	"github.com/align-go/align/policy"
	"github.com/align-go/align/train"
)

// Accumulate implements train.Objective: forward and backward over the
// completions of the prompts idx. With one update per rollout (TRL's
// num_iterations 1) the old policy is the current one, so the ratio is 1
// in value and only its gradient matters, as in TRL.
func (o *Objective) Accumulate(idx []int, _ int) (train.Metrics, error) {
	sd := o.step
	if sd == nil {
		return nil, fmt.Errorf("grpo: Accumulate before PrepareBatch")
	}
	cfg := &o.Cfg
	rows := o.rows(idx)
	met := train.Metrics{}
	start := time.Now()
	defer func() { met["time/train_s"] += time.Since(start).Seconds() }()
	if sd.done == 0 {
		met.Add(sd.metrics)
	}
	sd.done += len(rows)
	last := sd.done == len(sd.cs)

	// The micro-batch's rollout: its prompts and their completions.
	prompts := make([][]int32, len(idx))
	cs := make([]generate.Completion, len(rows))
	for k, i := range idx {
		prompts[k] = o.Prompts[i].IDs
	}
	for j, c := range rows {
		cs[j] = sd.cs[c]
		cs[j].Prompt = j / cfg.NumGenerations
	}
	ro, err := generate.NewRollout(prompts, cs, o.Pad)
	if err != nil {
		return nil, err
	}
	B, T := ro.B, ro.T
	// The loss counts the completion tokens of kept completions, each with
	// its completion's advantage.
	mask := make([]float64, B*T)
	seqAdv := make([]float64, B)
	for j, c := range rows {
		if !sd.keep[c] {
			continue
		}
		seqAdv[j] = sd.adv[c]
		for t := j * T; t < (j+1)*T; t++ {
			mask[t] = float64(ro.CompletionMask[t])
		}
	}
	adv, err := loss.Broadcast(seqAdv, mask, T)
	if err != nil {
		return nil, err
	}
	b := model.Batch{B: B, T: T, IDs: ro.IDs, Mask: ro.Mask}
	temp := cfg.Sampling.Temperature
	var ref []float64
	if o.Ref != nil {
		lora := o.Ref == o.Policy && o.Policy.LoRA() != nil
		if lora {
			o.Policy.SetLoRAEnabled(false)
		}
		_, hid, err := o.Ref.Forward(b, false)
		if lora {
			o.Policy.SetLoRAEnabled(true)
		}
		if err != nil {
			return nil, fmt.Errorf("grpo: reference: %w", err)
		}
		ref = policy.LogProbs(o.Ref.LMHead(), hid, ro.IDs, ro.CompletionMask, B, T, temp, policy.LogpOnly).Logp
	}
	if lo := o.Policy.LoRA(); lo != nil && lo.Cfg.Dropout > 0 {
		// Masks are a function of the step and the micro-batch, so a resumed
		// run replays them.
		h := fnv.New64a()
		fmt.Fprint(h, sd.num, idx)
		lo.DropoutSeed, lo.Training = h.Sum64(), true
		defer func() { lo.Training = false }()
	}
	_, hid, err := o.Policy.Forward(b, false)
	if err != nil {
		return nil, err
	}
	tp := policy.LogProbs(o.Policy.LMHead(), hid, ro.IDs, ro.CompletionMask, B, T, temp, policy.Want{Entropy: true, Raw: ro.Logprobs != nil})
	// The loss type's weights over the whole step's counts, so the
	// micro-batches add up to the step's loss.
	w, err := loss.GRPOWeights(cfg.LossType, mask, T, sd.counts)
	if err != nil {
		return nil, err
	}
	pl, err := o.policyLoss(loss.PPOConfig{ClipLow: cfg.Epsilon, ClipHigh: cfg.EpsilonHigh}, tp.Logp, tp.Logp, adv, mask, w, T)
	if err != nil {
		return nil, err
	}
	l, grad := pl.Loss, pl.Grad
	// Metrics are token means over the step: each micro-batch adds its
	// share (its loss tokens over the step's).
	var nTok, ent, kl, diff, nDiff float64
	for t, m := range mask {
		if m != 0 {
			nTok++
			ent += tp.Entropy[t]
		}
		if ro.CompletionMask[t] != 0 && ro.Logprobs != nil {
			diff += math.Abs(tp.Raw[t] - float64(ro.Logprobs[t]))
			nDiff++
		}
	}
	if ref != nil {
		// TRL adds β·k3 to each token's loss before aggregating: the KL
		// term takes the policy loss's weights, times β.
		bw := make([]float64, len(w))
		for t := range w {
			bw[t] = cfg.Beta * w[t]
		}
		kr, err := loss.KLLoss("k3", tp.Logp, ref, mask, bw)
		if err != nil {
			return nil, err
		}
		l += kr.Loss
		for t, g := range kr.Grad {
			grad[t] += g
		}
		kl = kr.Metrics["kl_sum"]
	}
	share := 1 / float64(sd.counts.Tokens)
	met["loss"] += l
	met["entropy"] += ent * share
	met["clip_ratio"] += pl.Metrics["pg_clipfrac"] * nTok * share
	if ref != nil {
		met["kl"] += kl * share
		sd.kl += kl * share
	}
	if nDiff > 0 {
		met["rollout/logprob_diff"] += diff / nDiff * float64(len(rows)) / float64(len(sd.cs))
	}
	if last {
		kl := math.NaN()
		if ref != nil {
			kl = sd.kl
		}
		am := map[string]float64{"completions/mean_length": sd.metrics["completions/mean_length"]}
		if d, ok := sd.metrics["completions/distinct_2"]; ok {
			am["completions/distinct_2"] = d
		}
		cfg.Alarms.Check(sd.num, am, kl, o.Log)
		for k, v := range am {
			if len(k) > 6 && k[:6] == "alarm/" {
				met[k] = v
			}
		}
	}
	o.dhidden = grow(o.dhidden, len(hid))
	clear(o.dhidden)
	tp.Backward(o.dhidden, grad, nil)
	if err := o.Policy.Backward(nil, o.dhidden); err != nil {
		return nil, err
	}
	return met, nil
}

func grow(x []float32, n int) []float32 {
	if cap(x) < n {
		return make([]float32, n)
	}
	return x[:n]
}
