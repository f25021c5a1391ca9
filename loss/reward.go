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
	return BradleyTerrySoft(chosen, rejected, margin, nil, centerCoef)
}

// BradleyTerrySoft is BradleyTerry with a soft label per pair: p_i, the
// probability that the chosen response is the better one (nil: every p_i =
// 1, which is BradleyTerry exactly). The pair's loss is the expectation of
// the hard-label loss over which side wins, i.e. the binary cross-entropy
// between p and the model's σ(c − r):
//
//	−p·log σ(c − r − m) − (1 − p)·log σ(r − c − m)
//
// with derivative ∂/∂c = −p·σ(m − (c − r)) + (1 − p)·σ(c − r + m) (= σ(c − r) − p
// without a margin), and ∂/∂r its negative; the centring term is unchanged.
// A margin stays with whichever side wins: the flipped outcome is the
// swapped pair, which must be won by m too. (Shifting the one logit,
// −p·log σ(z) − (1−p)·log σ(−z) with z = c − r − m, as cDPO-style smoothing
// of SimPO does, would make a p = 0.5 tie train chosen m ahead.)
//
// The accuracy metric counts a pair when the model's preference agrees
// with the label's (p > 0.5: c > r; p < 0.5: r > c), and a p = 0.5 pair as
// half; see agreement.
func BradleyTerrySoft(chosen, rejected, margin, pChosen []float64, centerCoef float64) (PairResult, error) {
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
	if err := checkLabels(pChosen, B); err != nil {
		return PairResult{}, err
	}
	if err := checkParam("center coefficient", centerCoef); err != nil {
		return PairResult{}, err
	}
	res := PairResult{GradChosen: make([]float64, B), GradRejected: make([]float64, B)}
	inv := 1 / float64(B)
	var sum, acc, marg, mc, mr float64
	for i := range chosen {
		p := 1.0
		if pChosen != nil {
			p = pChosen[i]
		}
		var g float64
		if p == 1 {
			// The hard label, computed as it always was.
			d := chosen[i] - rejected[i]
			if margin != nil {
				d -= margin[i]
			}
			sum -= logSigmoid(d)
			// d/dd −log σ(d) = −σ(−d)
			g = -sigmoid(-d) * inv
		} else {
			m := 0.0
			if margin != nil {
				m = margin[i]
			}
			xc, xr := chosen[i]-rejected[i]-m, rejected[i]-chosen[i]-m
			// A zero weight skips its term, so p = 0 is the swapped hard pair.
			if p != 0 {
				sum -= p * logSigmoid(xc)
				g -= p * sigmoid(-xc)
			}
			sum -= (1 - p) * logSigmoid(xr)
			// d/dc −log σ(r − c − m) = σ(−(r − c − m))
			g += (1 - p) * sigmoid(-xr)
			g *= inv
		}
		res.GradChosen[i] = g
		res.GradRejected[i] = -g
		if centerCoef != 0 {
			s := chosen[i] + rejected[i]
			sum += centerCoef * s * s
			res.GradChosen[i] += 2 * centerCoef * s * inv
			res.GradRejected[i] += 2 * centerCoef * s * inv
		}
		acc += agreement(chosen[i], rejected[i], p) * inv
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
