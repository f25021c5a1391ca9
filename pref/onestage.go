package pref

import (
	"fmt"
	"strings"

	"github.com/align-go/align/loss"
	"github.com/align-go/align/model"
	"github.com/align-go/align/pairenc"
)

// NewCPOObjective prepares pairs for Contrastive Preference Optimization
// (loss.CPO: a DPO-family loss with no reference model plus cpo_alpha
// times the chosen responses' NLL). It is a DPOObjective with the
// reference left out, so batching, --grad-accum's step-wide NLL token mean
// and the metrics (TRL's DPO names plus nll_loss) are DPO's. Soft labels
// (p_chosen < 1) train where the loss has a soft-label form (sigmoid, ipo).
func NewCPOObjective(policy *model.Model, cfg loss.CPOConfig, pairs []pairenc.Pair, maxLen int, pad int32) (*DPOObjective, error) {
	one := []float64{0}
	if _, err := loss.CPO(cfg, loss.PairBatch{PolicyChosen: one, PolicyRejected: one, ChosenTokens: []int{1}, RejectedTokens: []int{1}}); err != nil {
		return nil, err
	}
	pl, err := loss.LookupPreferenceLoss(cfg.LossType)
	if err != nil {
		return nil, err
	}
	o := &DPOObjective{
		Cfg:     loss.DPOConfig{LossType: cfg.LossType, Beta: cfg.Beta, LabelSmoothing: cfg.LabelSmoothing, SimPOGamma: cfg.SimPOGamma, RPOAlpha: cfg.Alpha},
		policy:  &LogProbs{Model: policy, Pad: pad},
		refFree: true,
		lossFn:  func(b loss.PairBatch) (loss.PairResult, error) { return loss.CPO(cfg, b) },
	}
	err = o.addPairs(pairs, maxLen, func(p pairenc.Pair, pc float64) error {
		if pc != 1 && pl.SoftLoss == nil {
			return fmt.Errorf("%s: p_chosen %v is a soft label, which the %s loss has no form for (use %s, or drop the p_chosen column)",
				p.Loc, pc, pl.Name, strings.Join(cpoSoftNames(), ", "))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return o, nil
}

func cpoSoftNames() []string {
	var out []string
	for _, n := range loss.CPOLossTypes() {
		if pl, err := loss.LookupPreferenceLoss(n); err == nil && pl.SoftLoss != nil {
			out = append(out, n)
		}
	}
	return out
}

// NewORPOObjective prepares pairs for ORPO (loss.ORPO with λ = beta): the
// chosen responses' NLL plus λ times the odds-ratio loss, with no reference
// model, so one stage trains a base model on preferences. Metrics carry
// TRL's names: nll_loss, log_odds_ratio, log_odds_chosen and DPO's rewards
// and logps (on per-token means). Soft labels are refused.
func NewORPOObjective(policy *model.Model, beta float64, pairs []pairenc.Pair, maxLen int, pad int32) (*DPOObjective, error) {
	one := []float64{-1}
	if _, err := loss.ORPO(beta, loss.PairBatch{PolicyChosen: one, PolicyRejected: one, ChosenTokens: []int{1}, RejectedTokens: []int{1}}); err != nil {
		return nil, err
	}
	o := &DPOObjective{
		Cfg:     loss.DPOConfig{LossType: "orpo", Beta: beta},
		policy:  &LogProbs{Model: policy, Pad: pad},
		refFree: true,
		lossFn:  func(b loss.PairBatch) (loss.PairResult, error) { return loss.ORPO(beta, b) },
	}
	err := o.addPairs(pairs, maxLen, func(p pairenc.Pair, pc float64) error {
		if pc != 1 {
			return fmt.Errorf("%s: p_chosen %v is a soft label, which ORPO has no form for (drop the p_chosen column)", p.Loc, pc)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return o, nil
}
