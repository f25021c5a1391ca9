package loss

import "fmt"

// PairResult is a loss over a batch of (chosen, rejected) pairs. GradChosen
// and GradRejected are the derivatives of Loss with respect to the chosen and
// rejected inputs: reward scores for BradleyTerry, summed policy log-probs
// for DPO.
type PairResult struct {
	Loss         float64
	GradChosen   []float64
	GradRejected []float64
	Metrics      map[string]float64
}

// BradleyTerry is the reward-model loss of TRL's RewardTrainer:
//
//	mean_i −log σ(c_i − r_i − m_i)  +  centerCoef · mean_i (c_i + r_i)²
//
// where c and r are the scalar rewards of the chosen and rejected responses
// and m an optional per-pair margin (nil for none). The centring term
// (TRL's center_rewards_coefficient) pins the reward scale's free offset.
// Metrics: accuracy (fraction with c > r), margin (mean c − r),
// rewards/chosen, rewards/rejected (means).
func BradleyTerry(chosen, rejected, margin []float64, centerCoef float64) (PairResult, error) {
	B := len(chosen)
	if B == 0 {
		return PairResult{}, fmt.Errorf("loss: BradleyTerry: empty batch")
	}
	if err := checkVec("chosen rewards", chosen, B); err != nil {
		return PairResult{}, err
	}
	if err := checkVec("rejected rewards", rejected, B); err != nil {
		return PairResult{}, err
	}
	if margin != nil {
		if err := checkVec("margin", margin, B); err != nil {
			return PairResult{}, err
		}
	}
	if err := checkParam("center coefficient", centerCoef); err != nil {
		return PairResult{}, err
	}
	res := PairResult{GradChosen: make([]float64, B), GradRejected: make([]float64, B)}
	inv := 1 / float64(B)
	var sum, acc, marg, mc, mr float64
	for i := range chosen {
		d := chosen[i] - rejected[i]
		if margin != nil {
			d -= margin[i]
		}
		sum -= logSigmoid(d)
		// d/dd −log σ(d) = −σ(−d)
		g := -sigmoid(-d) * inv
		res.GradChosen[i] = g
		res.GradRejected[i] = -g
		if centerCoef != 0 {
			s := chosen[i] + rejected[i]
			sum += centerCoef * s * s
			res.GradChosen[i] += 2 * centerCoef * s * inv
			res.GradRejected[i] += 2 * centerCoef * s * inv
		}
		if chosen[i] > rejected[i] {
			acc += inv
		}
		marg += (chosen[i] - rejected[i]) * inv
		mc += chosen[i] * inv
		mr += rejected[i] * inv
	}
	res.Loss = sum / float64(B)
	res.Metrics = map[string]float64{
		"accuracy":         acc,
		"margin":           marg,
		"rewards/chosen":   mc,
		"rewards/rejected": mr,
	}
	return res, nil
}
