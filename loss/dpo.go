package loss

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"sync"
)

// DPOConfig selects and parameterises a preference loss.
type DPOConfig struct {
	// LossType names a registered preference loss: "sigmoid" (DPO; with
	// LabelSmoothing > 0 it is cDPO), "robust", "hinge", "ipo", "simpo".
	// As in TRL, ipo and simpo work on per-token mean log-probs (sum/count);
	// the others on summed log-probs.
	LossType string
	// Beta is the KL-strength β (TRL default 0.1; SimPO uses ~2).
	Beta float64
	// LabelSmoothing is the assumed label-flip probability ε of cDPO and
	// robust DPO (0 ≤ ε < 0.5 for robust). Other losses reject ε ≠ 0,
	// where TRL would silently ignore it. It applies on top of a pair's soft
	// label (PairBatch.PChosen): see sigmoidSoftLoss.
	LabelSmoothing float64
	// SimPOGamma is SimPO's target reward margin γ (TRL's simpo_gamma,
	// default 0.5); the loss compares β·Δ against γ.
	SimPOGamma float64
	// RPOAlpha weights an NLL term on the chosen responses (TRL's rpo_alpha,
	// or CPO's cpo_alpha for SimPO); 0 disables it.
	RPOAlpha float64
}

// DefaultDPOConfig is TRL's DPOConfig default: sigmoid loss, β = 0.1.
func DefaultDPOConfig() DPOConfig { return DPOConfig{LossType: "sigmoid", Beta: 0.1} }

// PairBatch holds the per-sequence inputs of a preference loss. Log-probs are
// always the SUMS over each response's tokens; losses that want per-token
// averages (ipo, simpo) divide by the token counts themselves, and the
// returned gradients are still with respect to the sums.
type PairBatch struct {
	PolicyChosen, PolicyRejected []float64
	// RefChosen, RefRejected are the frozen reference model's summed
	// log-probs; nil for reference-free losses (simpo).
	RefChosen, RefRejected []float64
	// ChosenTokens, RejectedTokens count each response's tokens. Needed by
	// length-normalised losses and by the RPO term; may be nil otherwise.
	ChosenTokens, RejectedTokens []int
	// PChosen holds each pair's soft label, the probability that the chosen
	// response is the better one (data's p_chosen column); nil means every
	// pair is hard-labelled, p = 1. Pairs with p < 1 need a loss with a
	// SoftLoss.
	PChosen []float64
	// NLLTokens, when > 0, replaces Σ ChosenTokens as the denominator of
	// the RPO term's token mean: a trainer that splits a step into
	// micro-batches passes the step's chosen tokens (scaled to how it
	// weighs this batch), so the step's NLL is one token mean.
	NLLTokens float64
}

// PreferenceLoss is one registered member of the DPO family. Every member is
// a function of the per-pair logit
//
//	z = (π_c − π_r) − (ref_c − ref_r) − Margin(cfg)
//
// where the four log-probs are sums, or per-token means when
// LengthNormalized, and the reference terms are 0 when ReferenceFree.
type PreferenceLoss struct {
	Name             string
	LengthNormalized bool
	ReferenceFree    bool
	// Margin is subtracted from z (nil: 0).
	Margin func(cfg DPOConfig) float64
	// Loss returns the per-pair loss at logit z and its derivative dL/dz.
	Loss func(cfg DPOConfig, z float64) (loss, dz float64)
	// SoftLoss is the loss of a pair with a soft label: chosen is the better
	// response with probability p ∈ [0, 1). It must equal Loss at p = 1
	// (DPO calls Loss for those pairs). nil: the loss has no standard
	// soft-label form, and DPO rejects pairs with p < 1 rather than
	// silently training them on the hard label.
	SoftLoss func(cfg DPOConfig, z, p float64) (loss, dz float64)
	// Check validates cfg for this loss beyond β > 0 (nil: LabelSmoothing must be 0).
	Check func(cfg DPOConfig) error
}

var (
	prefMu     sync.RWMutex
	prefLosses = map[string]PreferenceLoss{}
)

// RegisterPreferenceLoss adds a loss to the registry; names are unique.
func RegisterPreferenceLoss(l PreferenceLoss) error {
	if l.Name == "" || l.Loss == nil {
		return fmt.Errorf("loss: preference loss needs a name and a Loss function")
	}
	prefMu.Lock()
	defer prefMu.Unlock()
	if _, ok := prefLosses[l.Name]; ok {
		return fmt.Errorf("loss: preference loss %q already registered", l.Name)
	}
	prefLosses[l.Name] = l
	return nil
}

// LookupPreferenceLoss returns the registered loss called name.
func LookupPreferenceLoss(name string) (PreferenceLoss, error) {
	prefMu.RLock()
	defer prefMu.RUnlock()
	l, ok := prefLosses[name]
	if !ok {
		return PreferenceLoss{}, fmt.Errorf("loss: unknown preference loss %q (have %v)", name, preferenceNamesLocked())
	}
	return l, nil
}

// PreferenceLossNames lists the registered preference losses.
func PreferenceLossNames() []string {
	prefMu.RLock()
	defer prefMu.RUnlock()
	return preferenceNamesLocked()
}

// SoftLabelLossNames lists the registered preference losses that accept
// soft labels (p_chosen < 1).
func SoftLabelLossNames() []string {
	prefMu.RLock()
	defer prefMu.RUnlock()
	var out []string
	for _, k := range preferenceNamesLocked() {
		if prefLosses[k].SoftLoss != nil {
			out = append(out, k)
		}
	}
	return out
}

func preferenceNamesLocked() []string {
	out := make([]string, 0, len(prefLosses))
	for k := range prefLosses {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// sigmoidLoss is cDPO's smoothed logistic loss at βz:
// −(1−ε)·log σ(βz) − ε·log σ(−βz).
func sigmoidLoss(c DPOConfig, z float64) (float64, float64) {
	b, e := c.Beta, c.LabelSmoothing
	x := b * z
	l := -(1-e)*logSigmoid(x) - e*logSigmoid(-x)
	// d/dx −log σ(x) = −σ(−x);  d/dx −log σ(−x) = σ(x)
	return l, b * (-(1-e)*sigmoid(-x) + e*sigmoid(x))
}

// sigmoidSoftLoss is the sigmoid loss of a pair whose label is soft. The
// loss is the expectation of the hard-label loss over which side wins,
// p·ℓ(z) + (1−p)·ℓ(−z) with ℓ the cDPO loss at the global ε, and that is
// again the cDPO loss, with the per-pair smoothing
//
//	ε_i = ε·p + (1−ε)·(1−p)
//
// (the target says rejected wins when chosen wins, probability p, and the
// label is flipped, ε, or when rejected wins, 1−p, and it is not). Without --label-smoothing this
// is exactly per-pair label smoothing ε_i = 1 − p_i (cDPO with the judge's
// confidence); rows without p_chosen (p = 1) get exactly the global ε, as
// before. We compose rather than let p_chosen override ε, because ε is a
// statement about label noise that applies to soft labels as much as to
// hard ones, and override would make --label-smoothing silently do nothing
// on labelled rows of a mixed file; we compose rather than reject the
// combination, because smoothing a file mixing judge-labelled and
// human-labelled rows is a reasonable thing to want.
func sigmoidSoftLoss(c DPOConfig, z, p float64) (float64, float64) {
	e := c.LabelSmoothing
	c.LabelSmoothing = e*p + (1-e)*(1-p)
	return sigmoidLoss(c, z)
}

// robustLoss is TRL's robust DPO (Chowdhury et al. 2024):
// [−(1−ε)·log σ(βz) + ε·log σ(−βz)] / (1−2ε).
func robustLoss(c DPOConfig, z float64) (float64, float64) {
	b, e := c.Beta, c.LabelSmoothing
	x := b * z
	k := 1 / (1 - 2*e)
	l := (-(1-e)*logSigmoid(x) + e*logSigmoid(-x)) * k
	return l, b * k * (-(1-e)*sigmoid(-x) - e*sigmoid(x))
}

// robustSoftLoss is robust DPO for a soft label: as for sigmoid, the
// expectation p·ℓ(z) + (1−p)·ℓ(−z) of the robust loss ℓ, which works out to
//
//	[−(p−ε)·log σ(βz) − (1−p−ε)·log σ(−βz)] / (1−2ε),
//	dL/dz = β·[−(p−ε)·σ(−βz) + (1−p−ε)·σ(βz)] / (1−2ε).
//
// At ε = 0 it is the sigmoid soft loss. Robust DPO's ε is a noise rate the
// loss corrects for (the 1/(1−2ε) factor), not a target; substituting
// ε_i = 1 − p_i into it would treat the judge's uncertainty as noise to
// undo, with a weight 1/(2p_i − 1) that diverges as p_i → 0.5.
func robustSoftLoss(c DPOConfig, z, p float64) (float64, float64) {
	b, e := c.Beta, c.LabelSmoothing
	x := b * z
	k := 1 / (1 - 2*e)
	l := (-(p-e)*logSigmoid(x) - (1-p-e)*logSigmoid(-x)) * k
	return l, b * k * (-(p-e)*sigmoid(-x) + (1-p-e)*sigmoid(x))
}

func checkSmoothing(c DPOConfig) error {
	if !(c.LabelSmoothing >= 0 && c.LabelSmoothing <= 1) {
		return fmt.Errorf("loss: %s: label smoothing %v outside [0,1]", c.LossType, c.LabelSmoothing)
	}
	return nil
}

func init() {
	must := func(err error) {
		if err != nil {
			panic(err)
		}
	}
	must(RegisterPreferenceLoss(PreferenceLoss{
		Name:     "sigmoid",
		Loss:     sigmoidLoss,
		SoftLoss: sigmoidSoftLoss,
		Check:    checkSmoothing,
	}))
	// Robust DPO (Chowdhury et al. 2024), TRL's form:
	// [−(1−ε)·log σ(βz) + ε·log σ(−βz)] / (1−2ε).
	must(RegisterPreferenceLoss(PreferenceLoss{
		Name:     "robust",
		Loss:     robustLoss,
		SoftLoss: robustSoftLoss,
		Check: func(c DPOConfig) error {
			if !(c.LabelSmoothing >= 0 && c.LabelSmoothing < 0.5) {
				return fmt.Errorf("loss: robust: label smoothing %v outside [0,0.5)", c.LabelSmoothing)
			}
			return nil
		},
	}))
	// RSO's hinge: relu(1 − βz). At the kink the derivative is 0, as torch's relu.
	// It has no standard soft-label form, so pairs with p < 1 are an error.
	must(RegisterPreferenceLoss(PreferenceLoss{
		Name: "hinge",
		Loss: func(c DPOConfig, z float64) (float64, float64) {
			h := 1 - c.Beta*z
			if h > 0 {
				return h, -c.Beta
			}
			return 0, 0
		},
	}))
	// IPO (Azar et al. 2023, eq. 17): (z − 1/(2β))², on per-token mean
	// log-probs as TRL computes them (it divides all four by the response
	// lengths when loss_type == "ipo").
	//
	// IPO's sampled loss regresses z onto τ⁻¹(I − ½) for the preference
	// indicator I (τ is our β; I = 1 gives 1/(2β)). A soft label replaces I
	// by its expectation p, the target form (z − (2p−1)/(2β))², with
	// dL/dz = 2(z − (2p−1)/(2β)). It differs from the expectation over the
	// winner, p·(z − τ')² + (1−p)·(z + τ')² with τ' = 1/(2β), only by the
	// constant 4τ'²p(1−p), so the gradients are the same; the target form
	// is 0 at its optimum and is the p = 1 loss exactly.
	must(RegisterPreferenceLoss(PreferenceLoss{
		Name:             "ipo",
		LengthNormalized: true,
		Loss: func(c DPOConfig, z float64) (float64, float64) {
			d := z - 1/(2*c.Beta)
			return d * d, 2 * d
		},
		SoftLoss: func(c DPOConfig, z, p float64) (float64, float64) {
			d := z - (2*p-1)/(2*c.Beta)
			return d * d, 2 * d
		},
	}))
	// SimPO (Meng et al. 2024) as TRL's CPOTrainer computes it: reference-free,
	// per-token mean log-probs, z = Δ − γ/β, then the (smoothed) sigmoid loss,
	// i.e. −log σ(β·Δ − γ). No soft-label form: its label smoothing (TRL's)
	// keeps the target margin γ on the flipped term, −ε·log σ(γ − βΔ), so a
	// per-pair ε_i = 1 − p_i would train a p = 0.5 tie toward chosen by γ;
	// pairs with p < 1 are an error.
	must(RegisterPreferenceLoss(PreferenceLoss{
		Name:             "simpo",
		LengthNormalized: true,
		ReferenceFree:    true,
		Margin:           func(c DPOConfig) float64 { return c.SimPOGamma / c.Beta },
		Loss:             sigmoidLoss,
		Check: func(c DPOConfig) error {
			if err := checkParam("simpo gamma", c.SimPOGamma); err != nil {
				return err
			}
			return checkSmoothing(c)
		},
	}))
}

// DPO evaluates a preference loss over a batch and its gradient with respect
// to the policy's summed log-probs, with TRL's semantics: the batch loss is
// the mean of the per-pair losses, plus RPOAlpha times the chosen responses'
// token-level NLL, −Σ_i π_c,i / Σ_i n_c,i (TRL's nll_loss is a cross-entropy
// averaged over all chosen tokens of the batch).
//
// A pair with a soft label p < 1 (b.PChosen) takes the loss's SoftLoss; a
// loss without one is an error for such a batch.
//
// Metrics carry TRL's names: rewards/chosen and rewards/rejected (means of
// β·(π − ref)), rewards/accuracies (fraction with chosen reward > rejected;
// with soft labels, fraction whose reward order agrees with p > 0.5 or
// p < 0.5, a p = 0.5 pair counting half),
// rewards/margins, logps/chosen and logps/rejected (means of the log-probs
// the loss used: per-token means for ipo and simpo), and nll_loss when
// RPOAlpha ≠ 0.
func DPO(cfg DPOConfig, b PairBatch) (PairResult, error) {
	if cfg.LossType == "" {
		cfg.LossType = "sigmoid"
	}
	pl, err := LookupPreferenceLoss(cfg.LossType)
	if err != nil {
		return PairResult{}, err
	}
	if !(cfg.Beta > 0) || math.IsInf(cfg.Beta, 0) {
		return PairResult{}, fmt.Errorf("loss: %s: beta %v must be positive and finite", cfg.LossType, cfg.Beta)
	}
	if err := checkParam("rpo alpha", cfg.RPOAlpha); err != nil {
		return PairResult{}, err
	}
	if pl.Check != nil {
		err = pl.Check(cfg)
	} else if cfg.LabelSmoothing != 0 {
		err = fmt.Errorf("loss: %s does not use label smoothing (got %v); set it to 0", cfg.LossType, cfg.LabelSmoothing)
	}
	if err != nil {
		return PairResult{}, err
	}
	B := len(b.PolicyChosen)
	if B == 0 {
		return PairResult{}, fmt.Errorf("loss: %s: empty batch", cfg.LossType)
	}
	if err := checkVec("policy chosen logps", b.PolicyChosen, B); err != nil {
		return PairResult{}, err
	}
	if err := checkVec("policy rejected logps", b.PolicyRejected, B); err != nil {
		return PairResult{}, err
	}
	if !pl.ReferenceFree {
		if err := checkVec("reference chosen logps", b.RefChosen, B); err != nil {
			return PairResult{}, err
		}
		if err := checkVec("reference rejected logps", b.RefRejected, B); err != nil {
			return PairResult{}, err
		}
	}
	needCounts := pl.LengthNormalized || cfg.RPOAlpha != 0
	if needCounts {
		if err := checkCounts("chosen token counts", b.ChosenTokens, B); err != nil {
			return PairResult{}, err
		}
	}
	if pl.LengthNormalized {
		if err := checkCounts("rejected token counts", b.RejectedTokens, B); err != nil {
			return PairResult{}, err
		}
	}
	if err := checkLabels(b.PChosen, B); err != nil {
		return PairResult{}, err
	}
	if !(b.NLLTokens >= 0) || math.IsInf(b.NLLTokens, 0) {
		return PairResult{}, fmt.Errorf("loss: NLL token count %v, want ≥ 0", b.NLLTokens)
	}
	if pl.SoftLoss == nil {
		for i, p := range b.PChosen {
			if p != 1 {
				return PairResult{}, fmt.Errorf("loss: %s has no soft-label form, but pair %d has p_chosen %v (use %s, or drop p_chosen)",
					cfg.LossType, i, p, strings.Join(SoftLabelLossNames(), ", "))
			}
		}
	}

	margin := 0.0
	if pl.Margin != nil {
		margin = pl.Margin(cfg)
	}
	res := PairResult{GradChosen: make([]float64, B), GradRejected: make([]float64, B)}
	inv := 1 / float64(B)
	// Sum then divide, as torch's mean does: with policy == reference every
	// pair gives exactly ln 2 and so does the mean.
	var sum, rc, rr, acc, marg, lc, lr float64
	for i := 0; i < B; i++ {
		nc, nr := 1.0, 1.0
		if pl.LengthNormalized {
			nc, nr = float64(b.ChosenTokens[i]), float64(b.RejectedTokens[i])
		}
		pc, pr := b.PolicyChosen[i]/nc, b.PolicyRejected[i]/nr
		var qc, qr float64
		if !pl.ReferenceFree {
			qc, qr = b.RefChosen[i]/nc, b.RefRejected[i]/nr
		}
		z := (pc - pr) - (qc - qr) - margin
		p := 1.0
		if b.PChosen != nil {
			p = b.PChosen[i]
		}
		var l, dz float64
		if p == 1 {
			l, dz = pl.Loss(cfg, z)
		} else {
			l, dz = pl.SoftLoss(cfg, z, p)
		}
		sum += l
		res.GradChosen[i] = dz * inv / nc
		res.GradRejected[i] = -dz * inv / nr

		cr, rj := cfg.Beta*(pc-qc), cfg.Beta*(pr-qr)
		rc += cr * inv
		rr += rj * inv
		acc += agreement(cr, rj, p) * inv
		marg += (cr - rj) * inv
		lc += pc * inv
		lr += pr * inv
	}
	res.Metrics = map[string]float64{
		"rewards/chosen":     rc,
		"rewards/rejected":   rr,
		"rewards/accuracies": acc,
		"rewards/margins":    marg,
		"logps/chosen":       lc,
		"logps/rejected":     lr,
	}
	loss := sum / float64(B)
	if cfg.RPOAlpha != 0 {
		var sum, n float64
		for i := 0; i < B; i++ {
			sum += b.PolicyChosen[i]
			n += float64(b.ChosenTokens[i])
		}
		if b.NLLTokens > 0 {
			n = b.NLLTokens
		}
		nll := -sum / n
		loss += cfg.RPOAlpha * nll
		for i := range res.GradChosen {
			res.GradChosen[i] -= cfg.RPOAlpha / n
		}
		res.Metrics["nll_loss"] = nll
	}
	res.Loss = loss
	return res, nil
}

func checkCounts(name string, n []int, B int) error {
	if len(n) != B {
		return fmt.Errorf("loss: %s has %d values, want %d", name, len(n), B)
	}
	for i, v := range n {
		if v <= 0 {
			return fmt.Errorf("loss: %s[%d] = %d, want a positive token count", name, i, v)
		}
	}
	return nil
}
