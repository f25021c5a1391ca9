package pref

import (
	"fmt"
	"sort"
	"strings"

	"github.com/align-go/align/loss"
	"github.com/align-go/align/model"
	"github.com/align-go/align/pairenc"
	"github.com/align-go/align/policy"
	"github.com/align-go/align/train"
)

// LogProbs computes per-sequence summed log-probabilities of response
// tokens, and their gradient, for one model, through the model's fused
// head (package policy): no [rows·T, vocab] logits are held.
type LogProbs struct {
	Model *model.Model
	Pad   int32

	pad     pairenc.Padder
	mask    []int32 // [N] 1 at response tokens that are predicted
	rowOf   []int32
	dhidden []float32
	pass    *policy.Pass
	N, T    int
}

// Forward runs the model on seqs (right-padded into one batch) and returns,
// for each, Σ log p(token) over its response tokens IDs[Start:] (each
// predicted from the position before it, so a response starting at
// position 0 loses its first token) and how many tokens that sum has.
// The hidden states stay available to Backward until the model's next
// forward.
func (l *LogProbs) Forward(seqs []pairenc.Seq) (sums []float64, counts []int, err error) {
	rows := make([][]int32, len(seqs))
	for i, s := range seqs {
		rows[i] = s.IDs
	}
	b, err := l.pad.Batch(rows, l.Pad)
	if err != nil {
		return nil, nil, err
	}
	_, hidden, err := l.Model.Forward(b, false)
	if err != nil {
		return nil, nil, err
	}
	N, T := b.B*b.T, b.T
	l.N, l.T = N, T
	l.mask = grow(l.mask, N)
	l.rowOf = grow(l.rowOf, N)
	clear(l.mask)
	counts = make([]int, len(seqs))
	for r, s := range seqs {
		for t := range T {
			l.rowOf[r*T+t] = int32(r)
		}
		for t := max(s.Start, 1); t < len(s.IDs); t++ {
			l.mask[r*T+t] = 1
			counts[r]++
		}
	}
	l.pass = policy.LogProbs(l.Model.LMHead(), hidden, b.IDs, l.mask, b.B, T, 1, policy.LogpOnly)
	sums = make([]float64, len(seqs))
	for i, m := range l.mask[:N] {
		if m != 0 {
			sums[l.rowOf[i]] += l.pass.Logp[i]
		}
	}
	return sums, counts, nil
}

// Backward accumulates into the model's gradients the gradient of a loss
// with g[r] = d(loss)/d(sum of row r's response log-probs), through the
// last Forward.
func (l *LogProbs) Backward(g []float64) error {
	if l.pass == nil {
		return fmt.Errorf("pref: log-prob backward without a forward")
	}
	dlogp := make([]float64, l.N)
	for i, m := range l.mask[:l.N] {
		if m != 0 {
			dlogp[i] = g[l.rowOf[i]]
		}
	}
	l.dhidden = grow(l.dhidden, l.N*l.Model.Cfg.Dim)
	clear(l.dhidden)
	l.pass.Backward(l.dhidden, dlogp, nil)
	return l.Model.Backward(nil, l.dhidden)
}

// DPOObjective trains a policy with a DPO-family loss (package loss picks
// the member: sigmoid, ipo, hinge, robust, simpo). The unit is the pair;
// metrics carry TRL's names (rewards/chosen, rewards/rejected,
// rewards/accuracies, rewards/margins, logps/chosen, logps/rejected).
// Pairs with a soft label (p_chosen) pass it to the loss: sigmoid, robust
// and ipo have soft-label forms, and the others refuse such pairs when the
// objective is built.
//
// The reference is a frozen model (a clone of the initial policy, or the
// policy itself when it carries LoRA adapters: the reference pass switches
// them off), or log-probs computed once by PrecomputeRef, or nothing for a
// reference-free loss.
type DPOObjective struct {
	Cfg loss.DPOConfig

	policy, ref *LogProbs
	chosen      []pairenc.Seq
	rejected    []pairenc.Seq
	refLogps    [][2]float64 // per pair, once precomputed
	refFree     bool
	locs        []string
	pChosen     []float64 // per pair, 1 for rows without p_chosen
	soft        bool      // some pair has p_chosen < 1
	// lossFn replaces loss.DPO for the reference-free one-stage losses
	// (CPO, ORPO: see NewCPOObjective, NewORPOObjective).
	lossFn func(loss.PairBatch) (loss.PairResult, error)

	// SequenceKL adds TRL's online-DPO sequence statistics to the metrics
	// when a reference is present: objective/kl (the mean over both
	// responses of Σ log π − Σ log π_ref), objective/entropy (minus the mean
	// Σ log π) and objective/non_score_reward (−β·kl).
	SequenceKL bool

	// The training step's pairs and chosen response tokens (PrepareBatch):
	// the RPO term is a token mean over the whole step, as the pair losses
	// are a mean over its pairs, so --grad-accum equals one big batch.
	stepPairs, stepChosen int
}

// NewDPOObjective prepares pairs for training policy against ref (nil for
// a reference-free loss, or when PrecomputeRef will be given the model).
// Sequences longer than maxLen (> 0) keep their last maxLen tokens. A pair
// whose response keeps no predicted token is an error naming its row.
func NewDPOObjective(policy, ref *model.Model, cfg loss.DPOConfig, pairs []pairenc.Pair, maxLen int, pad int32) (*DPOObjective, error) {
	pl, err := loss.LookupPreferenceLoss(cfg.LossType)
	if err != nil {
		return nil, err
	}
	// Validate the configuration once, on a dummy pair, so a bad β fails
	// before the first forward pass.
	one := []float64{0}
	if _, err := loss.DPO(cfg, loss.PairBatch{PolicyChosen: one, PolicyRejected: one, RefChosen: one, RefRejected: one,
		ChosenTokens: []int{1}, RejectedTokens: []int{1}}); err != nil {
		return nil, err
	}
	o := &DPOObjective{Cfg: cfg, policy: &LogProbs{Model: policy, Pad: pad}, refFree: pl.ReferenceFree}
	if ref != nil && !pl.ReferenceFree {
		if err := checkSelfRef(policy, ref); err != nil {
			return nil, err
		}
		o.ref = &LogProbs{Model: ref, Pad: pad}
	}
	err = o.addPairs(pairs, maxLen, func(p pairenc.Pair, pc float64) error {
		if pc != 1 && pl.SoftLoss == nil {
			return fmt.Errorf("%s: p_chosen %v is a soft label, which the %s loss has no form for (use %s, or drop the p_chosen column)",
				p.Loc, pc, pl.Name, strings.Join(loss.SoftLabelLossNames(), ", "))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return o, nil
}

// addPairs encodes pairs, each response cut to maxLen, after soft
// accepts the pair's label (1 when it has no p_chosen).
func (o *DPOObjective) addPairs(pairs []pairenc.Pair, maxLen int, soft func(p pairenc.Pair, pc float64) error) error {
	for _, p := range pairs {
		c, r := pairenc.Join(p.Prompt, p.Chosen).KeepEnd(maxLen), pairenc.Join(p.Prompt, p.Rejected).KeepEnd(maxLen)
		for _, s := range []pairenc.Seq{c, r} {
			if len(s.IDs) <= max(s.Start, 1) {
				return fmt.Errorf("%s: no response token left to score (max length %d)", p.Loc, maxLen)
			}
		}
		pc := 1.0
		if p.PChosen != nil {
			pc = *p.PChosen
		}
		if err := soft(p, pc); err != nil {
			return err
		}
		o.soft = o.soft || pc != 1
		o.chosen = append(o.chosen, c)
		o.rejected = append(o.rejected, r)
		o.locs = append(o.locs, p.Loc)
		o.pChosen = append(o.pChosen, pc)
	}
	return nil
}

// checkSelfRef allows the policy to be its own reference only through
// LoRA: with the adapters switched off the model is the frozen base.
func checkSelfRef(policy, ref *model.Model) error {
	if ref == policy && policy.LoRA() == nil {
		return fmt.Errorf("pref: the reference is the policy itself, which only works with LoRA adapters attached (pass a copy: model.Clone)")
	}
	return nil
}

// refForward runs the reference; when it is the policy's own base, with
// the adapters switched off for the pass.
func refForward(lp *LogProbs, seqs []pairenc.Seq) ([]float64, []int, error) {
	if lp.Model.LoRA() != nil {
		lp.Model.SetLoRAEnabled(false)
		defer lp.Model.SetLoRAEnabled(true)
	}
	return lp.Forward(seqs)
}

// PrecomputeRef computes the reference log-probs of every pair with ref
// in batches of batchSize pairs, so the reference model can be dropped
// before training starts. The numbers equal what a live reference gives,
// up to float rounding from different padding.
func (o *DPOObjective) PrecomputeRef(ref *model.Model, batchSize int) error {
	if o.refFree {
		return nil
	}
	if err := checkSelfRef(o.policy.Model, ref); err != nil {
		return err
	}
	lp := &LogProbs{Model: ref, Pad: o.policy.Pad}
	n := len(o.chosen)
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return o.Length(order[a]) > o.Length(order[b]) })
	o.refLogps = make([][2]float64, n)
	for lo := 0; lo < n; lo += max(batchSize, 1) {
		idx := order[lo:min(lo+max(batchSize, 1), n)]
		seqs := o.seqs(idx)
		sums, _, err := refForward(lp, seqs)
		if err != nil {
			return err
		}
		for k, i := range idx {
			o.refLogps[i] = [2]float64{sums[k], sums[len(idx)+k]}
		}
	}
	o.ref = nil
	return nil
}

// Len implements train.Objective.
func (o *DPOObjective) Len() int { return len(o.chosen) }

// Length implements train.Objective: both sequences' tokens.
func (o *DPOObjective) Length(i int) int { return len(o.chosen[i].IDs) + len(o.rejected[i].IDs) }

// Units implements train.Objective: one per pair.
func (o *DPOObjective) Units(idx []int) int { return len(idx) }

// PrepareBatch implements train.BatchPreparer: it counts the step's chosen
// response tokens, the denominator of the RPO term. (TRL averages the NLL
// over each micro-batch's tokens and then over micro-batches, which is the
// step's token mean only when every micro-batch holds as many tokens.)
func (o *DPOObjective) PrepareBatch(_ *train.StepContext, idx []int) error {
	o.stepPairs, o.stepChosen = len(idx), 0
	for _, i := range idx {
		c := o.chosen[i]
		o.stepChosen += len(c.IDs) - max(c.Start, 1)
	}
	return nil
}

// Accumulate implements train.Objective.
func (o *DPOObjective) Accumulate(idx []int, totalUnits int) (train.Metrics, error) {
	return o.run(idx, totalUnits, true)
}

// Eval implements train.Evaluator.
func (o *DPOObjective) Eval(idx []int, totalUnits int) (train.Metrics, error) {
	return o.run(idx, totalUnits, false)
}

// seqs lists the chosen sequences of idx, then the rejected ones.
func (o *DPOObjective) seqs(idx []int) []pairenc.Seq {
	out := make([]pairenc.Seq, 0, 2*len(idx))
	for _, i := range idx {
		out = append(out, o.chosen[i])
	}
	for _, i := range idx {
		out = append(out, o.rejected[i])
	}
	return out
}

func (o *DPOObjective) run(idx []int, totalUnits int, backward bool) (train.Metrics, error) {
	B := len(idx)
	if B == 0 {
		return train.Metrics{"loss": 0}, nil
	}
	seqs := o.seqs(idx)
	pb := loss.PairBatch{}
	// The reference runs first: were it the policy itself with adapters
	// switched off, it would otherwise overwrite the activations the
	// policy's backward needs.
	switch {
	case o.refFree:
	case o.refLogps != nil:
		pb.RefChosen, pb.RefRejected = make([]float64, B), make([]float64, B)
		for k, i := range idx {
			pb.RefChosen[k], pb.RefRejected[k] = o.refLogps[i][0], o.refLogps[i][1]
		}
	case o.ref != nil:
		sums, _, err := refForward(o.ref, seqs)
		if err != nil {
			return nil, fmt.Errorf("reference model: %w", err)
		}
		pb.RefChosen, pb.RefRejected = sums[:B], sums[B:]
	default:
		return nil, fmt.Errorf("pref: loss %q needs a reference model or precomputed reference log-probs", o.Cfg.LossType)
	}
	sums, counts, err := o.policy.Forward(seqs)
	if err != nil {
		return nil, err
	}
	pb.PolicyChosen, pb.PolicyRejected = sums[:B], sums[B:]
	pb.ChosenTokens, pb.RejectedTokens = counts[:B], counts[B:]
	if o.soft {
		// Gathered through idx like every other per-pair input, so the
		// loop's shuffling and length grouping keep labels with their pairs.
		pb.PChosen = make([]float64, B)
		for k, i := range idx {
			pb.PChosen[k] = o.pChosen[i]
		}
	}
	if backward && o.stepPairs == totalUnits && o.stepChosen > 0 {
		// weighPair scales this batch by B/totalUnits; dividing its NLL by
		// the step's tokens times that share leaves Σ log p / step tokens.
		pb.NLLTokens = float64(o.stepChosen) * float64(B) / float64(totalUnits)
	}
	var res loss.PairResult
	if o.lossFn != nil {
		res, err = o.lossFn(pb)
	} else {
		res, err = loss.DPO(o.Cfg, pb)
	}
	if err != nil {
		return nil, fmt.Errorf("batch with %s: %w", o.locs[idx[0]], err)
	}
	if o.SequenceKL && pb.RefChosen != nil {
		var kl, ent float64
		for k := range B {
			kl += (pb.PolicyChosen[k] - pb.RefChosen[k] + pb.PolicyRejected[k] - pb.RefRejected[k]) / float64(2*B)
			ent -= (pb.PolicyChosen[k] + pb.PolicyRejected[k]) / float64(2*B)
		}
		res.Metrics["objective/kl"], res.Metrics["objective/entropy"] = kl, ent
		res.Metrics["objective/non_score_reward"] = -o.Cfg.Beta * kl
	}
	m, g := weighPair(res, B, totalUnits)
	if !backward {
		return m, nil
	}
	return m, o.policy.Backward(g)
}

// weighPair scales a pair loss computed as a mean over this micro-batch's B
// pairs by the micro-batch's share of the step's pairs, so the loop's sum over
// micro-batches is a mean over the step. It returns the metrics and the
// gradient w.r.t. the chosen scores then the rejected ones, scaled alike.
func weighPair(res loss.PairResult, B, totalUnits int) (train.Metrics, []float64) {
	w := float64(B) / float64(totalUnits)
	m := train.Metrics{"loss": res.Loss * w}
	for k, v := range res.Metrics {
		m[k] = v * w
	}
	g := make([]float64, 2*B)
	for k := 0; k < B; k++ {
		g[k] = res.GradChosen[k] * w
		g[B+k] = res.GradRejected[k] * w
	}
	return m, g
}
