package loss

import (
	"fmt"
	"sort"
)

// Aggregation modes, named as verl's loss_agg_mode.
const (
	// TokenMean averages over every unmasked token of the batch, so long
	// responses weigh more (DAPO's choice; verl's default).
	TokenMean = "token-mean"
	// SeqMeanTokenSum sums each sequence's tokens and averages over sequences.
	SeqMeanTokenSum = "seq-mean-token-sum"
	// SeqMeanTokenMean averages within each sequence, then over sequences
	// (the original GRPO).
	SeqMeanTokenMean = "seq-mean-token-mean"
	// SeqMeanTokenSumNorm sums all tokens and divides by T, the padded
	// response length, a constant that removes length bias (Dr. GRPO). As in
	// verl there is no division by the batch size.
	SeqMeanTokenSumNorm = "seq-mean-token-sum-norm"
)

// aggDenoms are an aggregation's denominators: those of the [B,T] mask
// itself (AggWeights, verl's per-batch aggregation) or of a whole
// optimizer step (GRPOWeights, so micro-batches add up to the step).
type aggDenoms struct {
	tokens float64 // unmasked tokens
	seqs   float64 // sequences
	norm   float64 // seq-mean-token-sum-norm's constant
}

// aggFns map a [B,T] mask to the weights w with aggregate = Σ w·x. Every
// mode is linear in x, so w is also the gradient of the aggregate.
var aggFns = map[string]func(w, mask []float64, B, T int, d aggDenoms){
	TokenMean: func(w, mask []float64, B, T int, d aggDenoms) {
		if d.tokens == 0 {
			return // nothing counts: the loss is 0, not verl's NaN
		}
		for i, m := range mask {
			w[i] = m / d.tokens
		}
	},
	SeqMeanTokenSum: func(w, mask []float64, B, T int, d aggDenoms) {
		for i, m := range mask {
			w[i] = m / d.seqs
		}
	},
	SeqMeanTokenMean: func(w, mask []float64, B, T int, d aggDenoms) {
		for b := 0; b < B; b++ {
			row := mask[b*T : (b+1)*T]
			s := 0.0
			for _, m := range row {
				s += m
			}
			if s == 0 {
				continue // an empty sequence adds 0 but still counts in B
			}
			for t, m := range row {
				w[b*T+t] = m / (s * d.seqs)
			}
		}
	},
	SeqMeanTokenSumNorm: func(w, mask []float64, B, T int, d aggDenoms) {
		for i, m := range mask {
			w[i] = m / d.norm
		}
	},
}

// AggModes lists the accepted aggregation mode names.
func AggModes() []string {
	out := make([]string, 0, len(aggFns))
	for k := range aggFns {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// AggWeights returns, for a [B,T] mask, the weights w such that the mode's
// aggregate of any per-token x is Σ w_i·x_i; w is therefore also
// ∂aggregate/∂x: the policy, KL and value losses take them as their
// aggregation.
func AggWeights(mask []float64, T int, mode string) ([]float64, error) {
	fn, ok := aggFns[mode]
	if !ok {
		return nil, fmt.Errorf("loss: unknown aggregation mode %q (have %v)", mode, AggModes())
	}
	B, err := shape(mask, T)
	if err != nil {
		return nil, err
	}
	d := aggDenoms{seqs: float64(B), norm: float64(T)}
	for _, m := range mask {
		d.tokens += m
	}
	w := make([]float64, len(mask))
	fn(w, mask, B, T, d)
	return w, nil
}

func dot(a, b []float64) float64 {
	s := 0.0
	for i := range a {
		if a[i] != 0 {
			s += a[i] * b[i]
		}
	}
	return s
}

// MaskedMean is Σ m·x / Σ m (0 when the mask is empty).
func MaskedMean(x, mask []float64) float64 {
	var s, n float64
	for i, m := range mask {
		if m != 0 {
			s += m * x[i]
			n += m
		}
	}
	if n == 0 {
		return 0
	}
	return s / n
}
