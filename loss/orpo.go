package loss

import (
	"fmt"
	"math"
)

// log1mexp is log(1 − eˣ) for x < 0, accurate at both ends (Mächler 2012):
// log(−expm1(x)) near 0, where 1 − eˣ cancels, and log1p(−eˣ) below −ln 2.
func log1mexp(x float64) float64 {
	if x > -math.Ln2 {
		return math.Log(-math.Expm1(x))
	}
	return math.Log1p(-math.Exp(x))
}

// dlog1mexp is d/dx log(1 − eˣ) = −1/expm1(−x).
func dlog1mexp(x float64) float64 { return -1 / math.Expm1(-x) }

// orpoMaxLogp keeps a mean log-prob strictly below 0: a response whose
// every token has probability 1 in float32 has odds +∞. The bound keeps
// the log-odds and the gradient finite (their limit is the same).
const orpoMaxLogp = -1e-300

// ORPO is the odds-ratio preference loss (Hong et al. 2024) as TRL's
// ORPOTrainer computes it, with λ = beta: on the per-token mean log-probs
// a_c = π_c/n_c and a_r = π_r/n_r,
//
//	log_odds = (a_c − a_r) − (log(1 − e^a_c) − log(1 − e^a_r))
//	loss     = NLL − λ · mean_i log σ(log_odds_i)
//
// where NLL is the chosen responses' token-level cross-entropy,
// −Σ π_c / Σ n_c (b.NLLTokens replaces Σ n_c when > 0, as for DPO's RPO
// term). Gradients are with respect to the summed log-probs.
//
// Metrics carry TRL's names: rewards/chosen and rewards/rejected (means of
// λ·a), rewards/accuracies, rewards/margins, logps/chosen and
// logps/rejected (means of a), nll_loss, log_odds_ratio (the mean of
// log σ(log_odds)) and log_odds_chosen (the mean of log_odds).
func ORPO(beta float64, b PairBatch) (PairResult, error) {
	if !(beta >= 0) || math.IsInf(beta, 0) {
		return PairResult{}, fmt.Errorf("loss: orpo: beta (λ) %v must be ≥ 0 and finite", beta)
	}
	B := len(b.PolicyChosen)
	if B == 0 {
		return PairResult{}, fmt.Errorf("loss: orpo: empty batch")
	}
	if err := checkVec("policy chosen logps", b.PolicyChosen, B); err != nil {
		return PairResult{}, err
	}
	if err := checkVec("policy rejected logps", b.PolicyRejected, B); err != nil {
		return PairResult{}, err
	}
	if err := checkCounts("chosen token counts", b.ChosenTokens, B); err != nil {
		return PairResult{}, err
	}
	if err := checkCounts("rejected token counts", b.RejectedTokens, B); err != nil {
		return PairResult{}, err
	}
	if !(b.NLLTokens >= 0) || math.IsInf(b.NLLTokens, 0) {
		return PairResult{}, fmt.Errorf("loss: NLL token count %v, want ≥ 0", b.NLLTokens)
	}
	for i, p := range b.PChosen {
		if p != 1 {
			return PairResult{}, fmt.Errorf("loss: orpo has no soft-label form, but pair %d has p_chosen %v", i, p)
		}
	}
	res := PairResult{GradChosen: make([]float64, B), GradRejected: make([]float64, B)}
	inv := 1 / float64(B)
	var sumC, nTok, ratio, odds, rc, rr, acc, marg, lc, lr float64
	for i := range B {
		nc, nr := float64(b.ChosenTokens[i]), float64(b.RejectedTokens[i])
		ac, ar := min(b.PolicyChosen[i]/nc, orpoMaxLogp), min(b.PolicyRejected[i]/nr, orpoMaxLogp)
		lo := (ac - ar) - (log1mexp(ac) - log1mexp(ar))
		ratio += logSigmoid(lo)
		odds += lo
		// d/dlo of −λ·mean log σ(lo) = −λ·σ(−lo)/B
		g := -beta * sigmoid(-lo) * inv
		res.GradChosen[i] = g * (1 - dlog1mexp(ac)) / nc
		res.GradRejected[i] = -g * (1 - dlog1mexp(ar)) / nr
		sumC += b.PolicyChosen[i]
		nTok += nc
		c, r := beta*ac, beta*ar
		rc += c * inv
		rr += r * inv
		if c > r {
			acc += inv
		}
		marg += (c - r) * inv
		lc += ac * inv
		lr += ar * inv
	}
	if b.NLLTokens > 0 {
		nTok = b.NLLTokens
	}
	nll := -sumC / nTok
	for i := range res.GradChosen {
		res.GradChosen[i] -= 1 / nTok
	}
	res.Loss = nll - beta*ratio*inv
	res.Metrics = map[string]float64{
		"rewards/chosen":     rc,
		"rewards/rejected":   rr,
		"rewards/accuracies": acc,
		"rewards/margins":    marg,
		"logps/chosen":       lc,
		"logps/rejected":     lr,
		"nll_loss":           nll,
		"log_odds_ratio":     ratio * inv,
		"log_odds_chosen":    odds * inv,
	}
	return res, nil
}
