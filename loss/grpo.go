package loss

import (
	"fmt"
	"math"
	"sort"
)

// Counts are the sizes of a whole optimizer step's batch, across every
// micro-batch, so a micro-batch's share of the loss uses global
// denominators and gradient accumulation equals one big batch.
type Counts struct {
	Tokens int // unmasked completion tokens
	Seqs   int // completions
	MaxLen int // the completion length cap (Dr. GRPO's constant)
}

// grpoAggs map a loss type to the per-token weights of a micro-batch's
// [B,T] mask under the step's counts c: the step's loss is Σ w·l over
// all of its micro-batches.
var grpoAggs = map[string]func(w, mask []float64, B, T int, c Counts){
	// grpo: each sequence's token mean, averaged over sequences (the paper).
	"grpo": func(w, mask []float64, B, T int, c Counts) {
		for b := 0; b < B; b++ {
			s := 0.0
			for _, m := range mask[b*T : (b+1)*T] {
				s += m
			}
			if s == 0 {
				continue
			}
			for t := b * T; t < (b+1)*T; t++ {
				w[t] = mask[t] / (s * float64(c.Seqs))
			}
		}
	},
	// bnpo and dapo: every token of the batch weighs the same. TRL's bnpo
	// normalises per local batch and dapo per global batch; with global
	// counts both are the token mean of the step.
	"bnpo": tokenWeights,
	"dapo": tokenWeights,
	// dr_grpo: token sum over sequences × the length cap (no length bias).
	"dr_grpo": func(w, mask []float64, B, T int, c Counts) {
		for i, m := range mask {
			w[i] = m / float64(c.Seqs*c.MaxLen)
		}
	},
}

func tokenWeights(w, mask []float64, B, T int, c Counts) {
	for i, m := range mask {
		w[i] = m / float64(c.Tokens)
	}
}

// RegisterGRPOLossType adds a loss type (token aggregation) by name.
func RegisterGRPOLossType(name string, fn func(w, mask []float64, B, T int, c Counts)) {
	grpoAggs[name] = fn
}

// GRPOLossTypes lists the accepted --loss-type names.
func GRPOLossTypes() []string {
	out := make([]string, 0, len(grpoAggs))
	for k := range grpoAggs {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// GRPOWeights returns the weights w of a micro-batch's tokens under loss
// type name and the whole step's counts c.
func GRPOWeights(name string, mask []float64, T int, c Counts) ([]float64, error) {
	fn, ok := grpoAggs[name]
	if !ok {
		return nil, fmt.Errorf("loss: unknown loss type %q (have %v)", name, GRPOLossTypes())
	}
	B, err := shape(mask, T)
	if err != nil {
		return nil, err
	}
	if c.Tokens <= 0 || c.Seqs <= 0 || (name == "dr_grpo" && c.MaxLen <= 0) {
		return nil, fmt.Errorf("loss: batch counts %+v: want > 0", c)
	}
	w := make([]float64, len(mask))
	fn(w, mask, B, T, c)
	return w, nil
}

// Importance-sampling levels of the policy ratio.
const (
	TokenLevel    = "token"    // r_t = π(y_t)/π_old(y_t) (GRPO, PPO)
	SequenceLevel = "sequence" // r = exp(mean_t log π/π_old) for every token of a sequence (GSPO)
)

// ClippedSurrogate is TRL's GRPO policy loss: per token
//
//	l_t = −min(r·A, clamp(r, 1−εlow, 1+εhigh)·A)
//
// with r the token ratio (level "token") or GSPO's length-normalised
// sequence ratio (level "sequence"), aggregated as Σ w·l with weights from
// GRPOWeights. Grad is ∂loss/∂logp; clipFrac is the weighted share of
// tokens where the clipped branch is the one taken (TRL's clip_ratio).
func ClippedSurrogate(level string, oldLogp, logp, adv, mask, w []float64, T int, lo, hi float64) (loss float64, grad []float64, clipFrac float64, err error) {
	if _, err := tokenInputs(oldLogp, logp, adv, mask, T); err != nil {
		return 0, nil, 0, err
	}
	if err := checkVec("weights", w, len(mask)); err != nil {
		return 0, nil, 0, err
	}
	if !(lo >= 0 && lo < 1) || !(hi >= 0) || math.IsInf(hi, 0) {
		return 0, nil, 0, fmt.Errorf("loss: clip range [1−%v, 1+%v] is invalid", lo, hi)
	}
	n := len(mask)
	logRatio := make([]float64, n)
	for i, m := range mask {
		if m != 0 {
			logRatio[i] = logp[i] - oldLogp[i]
		}
	}
	switch level {
	case TokenLevel:
	case SequenceLevel:
		for b := 0; b*T < n; b++ {
			s, k := 0.0, 0.0
			for t := b * T; t < (b+1)*T; t++ {
				s += logRatio[t]
				k += mask[t]
			}
			for t := b * T; t < (b+1)*T; t++ {
				if mask[t] != 0 {
					logRatio[t] = s / k
				}
			}
		}
	default:
		return 0, nil, 0, fmt.Errorf("loss: importance-sampling level %q: want token or sequence", level)
	}
	grad = make([]float64, n)
	// dr holds ∂loss/∂r_t·w_t, spread back onto logp afterwards.
	dr := make([]float64, n)
	var wsum float64
	for i, m := range mask {
		if m == 0 {
			continue
		}
		a := adv[i]
		r := math.Exp(logRatio[i])
		rc := math.Max(1-lo, math.Min(1+hi, r))
		p1, p2 := r*a, rc*a
		// −min(p1, p2): the unclipped branch carries the gradient; the
		// clipped one is constant in r.
		if p2 < p1 {
			loss -= w[i] * p2
			clipFrac += w[i]
		} else {
			loss -= w[i] * p1
			dr[i] = -w[i] * a * r // ∂(−r·A)/∂ log r, times w
		}
		wsum += w[i]
	}
	if wsum > 0 {
		clipFrac /= wsum
	}
	if level == TokenLevel {
		copy(grad, dr)
		return loss, grad, clipFrac, nil
	}
	for b := 0; b*T < n; b++ {
		s, k := 0.0, 0.0
		for t := b * T; t < (b+1)*T; t++ {
			s += dr[t]
			k += mask[t]
		}
		for t := b * T; t < (b+1)*T; t++ {
			if mask[t] != 0 {
				grad[t] = s * mask[t] / k
			}
		}
	}
	return loss, grad, clipFrac, nil
}
