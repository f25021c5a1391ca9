package loss

import (
	"fmt"
	"math"
	"sort"
)

// AdvantageConfig parameterises the outcome-reward advantage estimators.
type AdvantageConfig struct {
	// Scale is what GRPO divides the centred scores by, TRL's
	// scale_rewards: "group" (the group's std), "batch" (the std of every
	// score at once; each score is still centred on its group's mean) or
	// "none" (Dr. GRPO; verl's norm_adv_by_std_in_grpo false).
	Scale string
	// Eps guards the std division: TRL uses 1e-4, verl 1e-6.
	Eps float64
}

// DefaultAdvantageConfig is TRL's GRPO default: group std, eps 1e-4.
func DefaultAdvantageConfig() AdvantageConfig { return AdvantageConfig{Scale: "group", Eps: 1e-4} }

// AdvantageScales lists the accepted AdvantageConfig.Scale values.
func AdvantageScales() []string { return []string{"group", "batch", "none"} }

// OutcomeAdvantageFn turns one scalar score per response and the id of the
// prompt group each response belongs to into one advantage per response.
type OutcomeAdvantageFn func(scores []float64, groups []int, cfg AdvantageConfig) ([]float64, error)

var outcomeEstimators = map[string]OutcomeAdvantageFn{
	"grpo": GRPOAdvantages,
	"rloo": func(s []float64, g []int, _ AdvantageConfig) ([]float64, error) { return RLOOAdvantages(s, g) },
}

// OutcomeEstimators lists the registered estimator names.
func OutcomeEstimators() []string {
	names := make([]string, 0, len(outcomeEstimators))
	for k := range outcomeEstimators {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

// OutcomeEstimator returns a registered estimator: "grpo" or "rloo".
func OutcomeEstimator(name string) (OutcomeAdvantageFn, error) {
	fn, ok := outcomeEstimators[name]
	if !ok {
		return nil, fmt.Errorf("loss: unknown advantage estimator %q (have %v)", name, OutcomeEstimators())
	}
	return fn, nil
}

// groupIndex maps each group id to the indices of its members, in order of
// first appearance.
func groupIndex(scores []float64, groups []int) ([][]int, error) {
	if err := checkVec("scores", scores, len(scores)); err != nil {
		return nil, err
	}
	if len(groups) != len(scores) {
		return nil, fmt.Errorf("loss: %d group ids for %d scores", len(groups), len(scores))
	}
	pos := map[int]int{}
	var out [][]int
	for i, g := range groups {
		k, ok := pos[g]
		if !ok {
			k = len(out)
			pos[g] = k
			out = append(out, nil)
		}
		out[k] = append(out[k], i)
	}
	return out, nil
}

// GRPOAdvantages is verl's compute_grpo_outcome_advantage with TRL's
// scale_rewards: each score minus its group's mean, divided by (std + Eps)
// where std is the group's (Scale "group") or the whole batch's ("batch"),
// or not divided ("none"). The std is torch.std's unbiased one; a group of
// one gets mean 0 and std 1, as in verl.
func GRPOAdvantages(scores []float64, groups []int, cfg AdvantageConfig) ([]float64, error) {
	idx, err := groupIndex(scores, groups)
	if err != nil {
		return nil, err
	}
	if err := checkParam("advantage eps", cfg.Eps); err != nil {
		return nil, err
	}
	var batchStd float64
	switch cfg.Scale {
	case "group", "none":
	case "batch":
		all := make([]int, len(scores))
		for i := range all {
			all[i] = i
		}
		_, batchStd = meanStd(scores, all)
	default:
		return nil, fmt.Errorf("loss: advantage scale %q: want one of %v", cfg.Scale, AdvantageScales())
	}
	adv := make([]float64, len(scores))
	for _, members := range idx {
		mean, std := meanStd(scores, members)
		for _, i := range members {
			switch cfg.Scale {
			case "group":
				adv[i] = (scores[i] - mean) / (std + cfg.Eps)
			case "batch":
				adv[i] = (scores[i] - mean) / (batchStd + cfg.Eps)
			default:
				adv[i] = scores[i] - mean
			}
		}
	}
	return adv, nil
}

// meanStd is the mean and unbiased std of scores[members]; one member
// gives mean 0 and std 1 (verl's convention for a group of one).
func meanStd(scores []float64, members []int) (mean, std float64) {
	n := len(members)
	if n < 2 {
		return 0, 1
	}
	for _, i := range members {
		mean += scores[i]
	}
	mean /= float64(n)
	ss := 0.0
	for _, i := range members {
		d := scores[i] - mean
		ss += d * d
	}
	return mean, math.Sqrt(ss / float64(n-1))
}

// RLOOAdvantages is verl's compute_rloo_outcome_advantage: each score minus
// the mean of the other members of its group, n/(n−1)·(s − mean). A group of
// one keeps its raw score, as in verl.
func RLOOAdvantages(scores []float64, groups []int) ([]float64, error) {
	idx, err := groupIndex(scores, groups)
	if err != nil {
		return nil, err
	}
	adv := make([]float64, len(scores))
	for _, members := range idx {
		n := len(members)
		if n == 1 {
			adv[members[0]] = scores[members[0]]
			continue
		}
		mean := 0.0
		for _, i := range members {
			mean += scores[i]
		}
		mean /= float64(n)
		k := float64(n) / float64(n-1)
		for _, i := range members {
			adv[i] = scores[i]*k - mean*k
		}
	}
	return adv, nil
}

// Broadcast spreads one value per sequence over that sequence's tokens:
// out[b,t] = v[b]·mask[b,t].
func Broadcast(v, mask []float64, T int) ([]float64, error) {
	B, err := shape(mask, T)
	if err != nil {
		return nil, err
	}
	if err := checkVec("per-sequence values", v, B); err != nil {
		return nil, err
	}
	out := make([]float64, len(mask))
	for i, m := range mask {
		out[i] = v[i/T] * m
	}
	return out, nil
}

// GAE is generalised advantage estimation over [B,T] token rewards and
// values, following verl's compute_gae_advantage_return: masked positions
// neither bootstrap nor reset the running estimate, so observation tokens
// inside a response are skipped. It returns raw advantages and the returns
// advantages + values. verl then whitens the advantages over the batch; do
// that with MaskedWhiten(adv, mask, true).
func GAE(rewards, values, mask []float64, T int, gamma, lam float64) (adv, returns []float64, err error) {
	B, err := shape(mask, T)
	if err != nil {
		return nil, nil, err
	}
	if err := checkVec("rewards", rewards, B*T); err != nil {
		return nil, nil, err
	}
	if err := checkVec("values", values, B*T); err != nil {
		return nil, nil, err
	}
	if err := checkParam("gamma", gamma); err != nil {
		return nil, nil, err
	}
	if err := checkParam("lambda", lam); err != nil {
		return nil, nil, err
	}
	adv = make([]float64, B*T)
	returns = make([]float64, B*T)
	for b := 0; b < B; b++ {
		next, last := 0.0, 0.0
		for t := T - 1; t >= 0; t-- {
			i := b*T + t
			m := mask[i]
			delta := rewards[i] + gamma*next - values[i]
			cur := delta + gamma*lam*last
			next = values[i]*m + (1-m)*next
			last = cur*m + (1-m)*last
			adv[i] = last
			returns[i] = last + values[i]
		}
	}
	return adv, returns, nil
}

// MaskedWhiten is verl's masked_whiten: (x − mean)/sqrt(var + 1e-8) over the
// masked elements, with the Bessel-corrected variance; shiftMean false adds
// the mean back. Masked-out positions are set to 0. It needs at least two
// unmasked elements.
func MaskedWhiten(x, mask []float64, shiftMean bool) ([]float64, error) {
	if err := checkVec("values", x, len(mask)); err != nil {
		return nil, err
	}
	n := 0.0
	for _, m := range mask {
		n += m
	}
	if n <= 1 {
		return nil, fmt.Errorf("loss: whitening needs more than one unmasked element, mask sums to %v", n)
	}
	mean := MaskedMean(x, mask)
	v := 0.0
	for i, m := range mask {
		d := x[i] - mean
		v += m * d * d
	}
	v = v / n * (n / (n - 1))
	r := 1 / math.Sqrt(v+1e-8)
	out := make([]float64, len(x))
	for i, m := range mask {
		if m == 0 {
			continue
		}
		out[i] = (x[i] - mean) * r
		if !shiftMean {
			out[i] += mean
		}
	}
	return out, nil
}
