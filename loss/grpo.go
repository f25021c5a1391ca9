package loss

import (
	"fmt"
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

// grpoAggs map TRL's GRPO loss types onto aggregation modes, with the
// whole step's counts c as denominators: the step's loss is Σ w·l over all
// of its micro-batches.
var grpoAggs = map[string]struct {
	mode   string
	denoms func(c Counts) aggDenoms
}{
	// grpo: each sequence's token mean, averaged over sequences (the paper).
	"grpo": {SeqMeanTokenMean, func(c Counts) aggDenoms { return aggDenoms{seqs: float64(c.Seqs)} }},
	// bnpo and dapo: every token of the batch weighs the same. TRL's bnpo
	// normalises per local batch and dapo per global batch; with global
	// counts both are the token mean of the step.
	"bnpo": {TokenMean, stepTokens},
	"dapo": {TokenMean, stepTokens},
	// dr_grpo: the token sum over sequences × the length cap (no length
	// bias): seq-mean-token-sum-norm with TRL's constant, which also
	// divides by the sequences, where verl's is the padded length alone.
	"dr_grpo": {SeqMeanTokenSumNorm, func(c Counts) aggDenoms { return aggDenoms{norm: float64(c.Seqs * c.MaxLen)} }},
}

func stepTokens(c Counts) aggDenoms { return aggDenoms{tokens: float64(c.Tokens)} }

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
	aggFns[fn.mode](w, mask, B, T, fn.denoms(c))
	return w, nil
}
