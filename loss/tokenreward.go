package loss

import "fmt"

// TokenRewards is PPO's per-token reward (TRL's PPOTrainer, verl's
// apply_kl_penalty): −coef·kl on every unmasked token of a [B,T] batch,
// plus each row's scalar score on its last unmasked token — the EOS when
// the completion has one, since completions are right-padded and the
// padding is masked out. kl is per token (KLPenalty). It also returns the
// non-score part alone, −coef·kl, for the objective/non_score_reward metric.
// A row with no unmasked token is an error: its score would be lost.
func TokenRewards(scores, kl, mask []float64, T int, coef float64) (rewards, nonScore []float64, err error) {
	B, err := shape(mask, T)
	if err != nil {
		return nil, nil, err
	}
	if err := checkVec("scores", scores, B); err != nil {
		return nil, nil, err
	}
	if err := checkVec("KL estimates", kl, B*T); err != nil {
		return nil, nil, err
	}
	if err := checkParam("KL coefficient", coef); err != nil {
		return nil, nil, err
	}
	rewards, nonScore = make([]float64, B*T), make([]float64, B*T)
	for b := 0; b < B; b++ {
		last := -1
		for i := b * T; i < (b+1)*T; i++ {
			if mask[i] == 0 {
				continue
			}
			nonScore[i] = -coef * kl[i]
			rewards[i] = nonScore[i]
			last = i
		}
		if last < 0 {
			return nil, nil, fmt.Errorf("loss: row %d has no unmasked token to carry its score", b)
		}
		rewards[last] += scores[b]
	}
	return rewards, nonScore, nil
}
