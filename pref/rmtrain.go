package pref

import (
	"fmt"

	"github.com/align-go/align/loss"
	"github.com/align-go/align/pairenc"
	"github.com/align-go/align/rewardmodel"
	"github.com/align-go/align/train"
)

// RMObjective trains a reward model on preference pairs with the
// Bradley-Terry loss, −log σ(r_c − r_r − margin), plus TRL's optional
// centring term. A pair with a soft label p (the row's p_chosen) trains on
// −p·log σ(r_c − r_r − margin) − (1−p)·log σ(r_r − r_c − margin)
// (loss.BradleyTerrySoft), and its accuracy counts agreement with p.
// Chosen and rejected sequences of a micro-batch share one forward pass. The unit is the pair: the loss and every metric (accuracy,
// margin, rewards/chosen, rewards/rejected) are means over the pairs of the
// accumulated batch.
type RMObjective struct {
	RM *rewardmodel.RewardModel
	// CenterCoef is TRL's center_rewards_coefficient (0: off).
	CenterCoef float64

	chosen, rejected [][]int32
	margins          []*float64
	pChosen          []float64 // per pair, 1 for rows without p_chosen
	soft             bool      // some pair has p_chosen < 1
}

// NewRMObjective joins each pair's prompt and responses. Pairs with a
// sequence longer than maxLen (> 0) are dropped, as TRL's RewardTrainer
// filters them (a cut sequence would lose the EOS the reward is read at);
// dropped counts them.
func NewRMObjective(rm *rewardmodel.RewardModel, pairs []pairenc.Pair, maxLen int, centerCoef float64) (o *RMObjective, dropped int) {
	o = &RMObjective{RM: rm, CenterCoef: centerCoef}
	for _, p := range pairs {
		c, r := pairenc.Join(p.Prompt, p.Chosen), pairenc.Join(p.Prompt, p.Rejected)
		if maxLen > 0 && (len(c.IDs) > maxLen || len(r.IDs) > maxLen) {
			dropped++
			continue
		}
		o.chosen = append(o.chosen, c.IDs)
		o.rejected = append(o.rejected, r.IDs)
		o.margins = append(o.margins, p.Margin)
		pc := 1.0
		if p.PChosen != nil {
			pc = *p.PChosen
			o.soft = o.soft || pc != 1
		}
		o.pChosen = append(o.pChosen, pc)
	}
	return o, dropped
}

// Len implements train.Objective.
func (o *RMObjective) Len() int { return len(o.chosen) }

// Length implements train.Objective: both sequences' tokens.
func (o *RMObjective) Length(i int) int { return len(o.chosen[i]) + len(o.rejected[i]) }

// Units implements train.Objective: one per pair.
func (o *RMObjective) Units(idx []int) int { return len(idx) }

// Accumulate implements train.Objective.
func (o *RMObjective) Accumulate(idx []int, totalUnits int) (train.Metrics, error) {
	return o.run(idx, totalUnits, true)
}

// Eval implements train.Evaluator.
func (o *RMObjective) Eval(idx []int, totalUnits int) (train.Metrics, error) {
	return o.run(idx, totalUnits, false)
}

func (o *RMObjective) run(idx []int, totalUnits int, backward bool) (train.Metrics, error) {
	B := len(idx)
	if B == 0 {
		return train.Metrics{"loss": 0}, nil
	}
	rows := make([][]int32, 0, 2*B)
	for _, i := range idx {
		rows = append(rows, o.chosen[i])
	}
	for _, i := range idx {
		rows = append(rows, o.rejected[i])
	}
	// Everything per pair is gathered through idx, so the loop's shuffling
	// and length grouping keep margins and labels with their pairs.
	var margin, pc []float64
	if o.soft {
		pc = make([]float64, B)
		for k, i := range idx {
			pc[k] = o.pChosen[i]
		}
	}
	for k, i := range idx {
		if o.margins[i] != nil {
			if margin == nil {
				margin = make([]float64, B)
			}
			margin[k] = *o.margins[i]
		}
	}
	rew, err := o.RM.Forward(rows)
	if err != nil {
		return nil, err
	}
	res, err := loss.BradleyTerrySoft(rew[:B], rew[B:], margin, pc, o.CenterCoef)
	if err != nil {
		return nil, fmt.Errorf("pref: reward model loss: %w", err)
	}
	m, drew := weighPair(res, B, totalUnits)
	if !backward {
		return m, nil
	}
	return m, o.RM.Backward(drew)
}
