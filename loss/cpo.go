package loss

import (
	"fmt"
	"slices"
)

// CPOConfig parameterises Contrastive Preference Optimization (Xu et al.
// 2024) as TRL's CPOTrainer computes it: a DPO-family loss with no
// reference model plus an NLL term on the chosen responses.
type CPOConfig struct {
	// LossType is one of CPOLossTypes: sigmoid (CPO), hinge, ipo, simpo.
	// ipo and simpo work on per-token mean log-probs, the others on sums.
	LossType string
	// Beta is β (TRL default 0.1).
	Beta float64
	// LabelSmoothing is the sigmoid and simpo losses' ε (default 0).
	LabelSmoothing float64
	// SimPOGamma is SimPO's target reward margin γ (TRL default 0.5).
	SimPOGamma float64
	// Alpha weights the NLL term (TRL's cpo_alpha, default 1; 0 with simpo
	// is plain SimPO).
	Alpha float64
}

// DefaultCPOConfig is TRL's CPOConfig default.
func DefaultCPOConfig() CPOConfig {
	return CPOConfig{LossType: "sigmoid", Beta: 0.1, SimPOGamma: 0.5, Alpha: 1}
}

// CPOLossTypes lists the loss types CPO accepts.
func CPOLossTypes() []string { return []string{"sigmoid", "hinge", "ipo", "simpo"} }

// CPO evaluates the CPO loss and its gradient with respect to the policy's
// summed log-probs: the preference loss named by LossType on the logit
// z = π_c − π_r (minus γ/β for simpo), with no reference terms, averaged
// over pairs, plus Alpha times the chosen responses' token-mean NLL. It is
// the DPO family's loss with the reference log-probs held at 0, which is
// how it is computed. Metrics are DPO's (rewards are β·π, on per-token
// means for ipo and simpo) and nll_loss when Alpha ≠ 0.
func CPO(cfg CPOConfig, b PairBatch) (PairResult, error) {
	if !slices.Contains(CPOLossTypes(), cfg.LossType) {
		return PairResult{}, fmt.Errorf("loss: unknown CPO loss type %q (have %v)", cfg.LossType, CPOLossTypes())
	}
	if b.RefChosen != nil || b.RefRejected != nil {
		return PairResult{}, fmt.Errorf("loss: cpo uses no reference log-probs")
	}
	b.RefChosen = make([]float64, len(b.PolicyChosen))
	b.RefRejected = make([]float64, len(b.PolicyRejected))
	return DPO(DPOConfig{LossType: cfg.LossType, Beta: cfg.Beta, LabelSmoothing: cfg.LabelSmoothing,
		SimPOGamma: cfg.SimPOGamma, RPOAlpha: cfg.Alpha}, b)
}
