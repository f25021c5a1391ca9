package pref

import (
	"fmt"
	"slices"

	"github.com/align-go/align/data"
	"github.com/align-go/align/loss"
	"github.com/align-go/align/model"
	"github.com/align-go/align/pairenc"
	"github.com/align-go/align/train"
)

// Unpaired is one encoded row of unpaired feedback; the completion ends
// with EOS, as a preference pair's responses do.
type Unpaired struct {
	Prompt, Completion []int32
	Desirable          bool
	Loc                string
}

// EncodeUnpaired encodes rows through e, token for token as preference
// pairs are, stopping at the first error (named by its row).
func EncodeUnpaired(e *pairenc.Encoder, exs []data.UnpairedExample) ([]Unpaired, error) {
	out := make([]Unpaired, len(exs))
	for i, ex := range exs {
		var p, c []int32
		var err error
		if ex.Conversational {
			p, c, err = e.Chat(ex.Prompt, ex.Completion)
		} else {
			p, c, err = e.Plain(ex.PromptText, ex.CompletionText)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", ex.Loc, err)
		}
		out[i] = Unpaired{Prompt: p, Completion: c, Desirable: ex.Label, Loc: ex.Loc}
	}
	return out, nil
}

// KTOObjective trains a policy with KTO (loss.KTO) on unpaired feedback.
// The unit is the row. For the kto loss type each row also carries a
// mismatched pair, its prompt with another row's completion, whose policy
// and reference log-probs estimate the reference point z₀; that pair is
// run forward only (z₀ is detached, as in TRL). The reference is a frozen
// model, or the policy itself with its LoRA adapters switched off.
//
// Metrics carry TRL's names: loss, kl (z₀, the mean over micro-batches),
// rewards/chosen, rewards/rejected, rewards/margins, logps/chosen and
// logps/rejected (means over the step's desirable and undesirable rows; a
// step without one kind leaves its keys out).
type KTOObjective struct {
	Cfg loss.KTOConfig

	policy, ref *LogProbs
	seqs, kl    []pairenc.Seq
	desirable   []bool
	locs        []string
	nC, nR      int // desirable and undesirable rows in the whole set
	// refRow, refKL are the reference log-probs of every row and its
	// mismatched pair once PrecomputeRef has run (ref is then nil).
	refRow, refKL []float64

	stepUnits, stepC, stepR int // PrepareBatch's counts for the step
}

// klTries bounds the search for a mismatched completion.
const klTries = 8

// NewKTOObjective prepares rows for training policy against ref (which may
// be policy itself when it carries LoRA adapters). Sequences longer than
// maxLen (> 0) keep their last maxLen tokens; a row whose completion keeps
// no predicted token is an error naming it.
//
// Row i's mismatched pair takes the completion of the row half the dataset
// away (TRL rotates completions within its shuffled data by one), moving on
// past rows with the same prompt, such as the other half of a split
// preference pair, for up to klTries rows.
func NewKTOObjective(policy, ref *model.Model, cfg loss.KTOConfig, rows []Unpaired, maxLen int, pad int32) (*KTOObjective, error) {
	if _, err := loss.KTO(cfg, loss.KTOBatch{Policy: []float64{0}, Ref: []float64{0}, Desirable: []bool{true},
		PolicyKL: []float64{0}, RefKL: []float64{0}}); err != nil {
		return nil, err
	}
	if ref == nil {
		return nil, fmt.Errorf("pref: kto needs a reference model")
	}
	if err := checkSelfRef(policy, ref); err != nil {
		return nil, err
	}
	o := &KTOObjective{Cfg: cfg, policy: &LogProbs{Model: policy, Pad: pad}, ref: &LogProbs{Model: ref, Pad: pad}}
	N := len(rows)
	for i, r := range rows {
		s := pairenc.Join(r.Prompt, r.Completion).KeepEnd(maxLen)
		if len(s.IDs) <= max(s.Start, 1) {
			return nil, fmt.Errorf("%s: no completion token left to score (max length %d)", r.Loc, maxLen)
		}
		o.seqs = append(o.seqs, s)
		o.desirable = append(o.desirable, r.Desirable)
		o.locs = append(o.locs, r.Loc)
		if r.Desirable {
			o.nC++
		} else {
			o.nR++
		}
		if !cfg.UsesKL() {
			continue
		}
		j := (i - 1 + N) % N
		for d := max(N/2, 1); d < max(N/2, 1)+klTries && d < N+max(N/2, 1); d++ {
			if k := ((i-d)%N + N) % N; k != i && !slices.Equal(rows[k].Prompt, r.Prompt) {
				j = k
				break
			}
		}
		ks := pairenc.Join(r.Prompt, rows[j].Completion).KeepEnd(maxLen)
		if len(ks.IDs) <= max(ks.Start, 1) {
			return nil, fmt.Errorf("%s: no completion token left in its mismatched pair with %s (max length %d)", r.Loc, rows[j].Loc, maxLen)
		}
		o.kl = append(o.kl, ks)
	}
	return o, nil
}

// PrecomputeRef computes the reference log-probs of every row and its
// mismatched pair once, batchSize rows at a time, and drops the reference
// (TRL's precompute_ref_log_probs), so a frozen copy can be freed before
// training. The numbers equal what the live reference gives, up to float
// rounding from different padding.
func (o *KTOObjective) PrecomputeRef(batchSize int) error {
	if o.ref == nil {
		return nil
	}
	bs := max(batchSize, 1)
	n := len(o.seqs)
	o.refRow = make([]float64, 0, n)
	for lo := 0; lo < n; lo += bs {
		sums, _, err := refForward(o.ref, o.seqs[lo:min(lo+bs, n)])
		if err != nil {
			return fmt.Errorf("reference model: %w", err)
		}
		o.refRow = append(o.refRow, sums...)
		if o.kl != nil {
			k, _, err := refForward(o.ref, o.kl[lo:min(lo+bs, n)])
			if err != nil {
				return fmt.Errorf("reference model: %w", err)
			}
			o.refKL = append(o.refKL, k...)
		}
	}
	o.ref = nil
	return nil
}

// Len implements train.Objective.
func (o *KTOObjective) Len() int { return len(o.seqs) }

// Length implements train.Objective: the row's tokens and its mismatched
// pair's.
func (o *KTOObjective) Length(i int) int {
	n := len(o.seqs[i].IDs)
	if o.kl != nil {
		n += len(o.kl[i].IDs)
	}
	return n
}

// Units implements train.Objective: one per row.
func (o *KTOObjective) Units(idx []int) int { return len(idx) }

// PrepareBatch implements train.BatchPreparer: it counts the step's
// desirable and undesirable rows, the denominators of the reward metrics.
func (o *KTOObjective) PrepareBatch(_ *train.StepContext, idx []int) error {
	o.stepUnits, o.stepC, o.stepR = len(idx), 0, 0
	for _, i := range idx {
		if o.desirable[i] {
			o.stepC++
		} else {
			o.stepR++
		}
	}
	return nil
}

// Accumulate implements train.Objective.
func (o *KTOObjective) Accumulate(idx []int, totalUnits int) (train.Metrics, error) {
	return o.run(idx, totalUnits, true)
}

// Eval implements train.Evaluator.
func (o *KTOObjective) Eval(idx []int, totalUnits int) (train.Metrics, error) {
	return o.run(idx, totalUnits, false)
}

func (o *KTOObjective) run(idx []int, totalUnits int, backward bool) (train.Metrics, error) {
	B := len(idx)
	if B == 0 {
		return train.Metrics{"loss": 0}, nil
	}
	seqs := make([]pairenc.Seq, 0, 2*B)
	kb := loss.KTOBatch{Desirable: make([]bool, B)}
	for k, i := range idx {
		seqs = append(seqs, o.seqs[i])
		kb.Desirable[k] = o.desirable[i]
	}
	useKL := o.Cfg.UsesKL()
	var klSeqs []pairenc.Seq
	if useKL {
		for _, i := range idx {
			klSeqs = append(klSeqs, o.kl[i])
		}
	}
	// The reference runs first and the policy's mismatched pairs next, both
	// forward only: the reference may be the policy itself with adapters
	// switched off, and the backward pass needs the last forward's
	// activations to be the rows'. Rows and mismatched pairs go through
	// each model in the same batches, so a reference equal to the policy
	// gives rewards and z₀ of exactly 0.
	var err error
	if o.ref == nil {
		kb.Ref = make([]float64, B)
		for k, i := range idx {
			kb.Ref[k] = o.refRow[i]
		}
		if useKL {
			kb.RefKL = make([]float64, B)
			for k, i := range idx {
				kb.RefKL[k] = o.refKL[i]
			}
		}
	} else if kb.Ref, _, err = refForward(o.ref, seqs); err == nil && useKL {
		kb.RefKL, _, err = refForward(o.ref, klSeqs)
	}
	if err != nil {
		return nil, fmt.Errorf("reference model: %w", err)
	}
	if useKL {
		if kb.PolicyKL, _, err = o.policy.Forward(klSeqs); err != nil {
			return nil, err
		}
	}
	if kb.Policy, _, err = o.policy.Forward(seqs); err != nil {
		return nil, err
	}
	res, err := loss.KTO(o.Cfg, kb)
	if err != nil {
		return nil, fmt.Errorf("batch with %s: %w", o.locs[idx[0]], err)
	}
	w := float64(B) / float64(totalUnits)
	m := train.Metrics{"loss": res.Loss * w}
	if useKL {
		m["kl"] = res.KL * w
	}
	// Reward and log-prob means over the step's rows of each kind: the
	// step's counts when training (PrepareBatch), the whole set's when
	// evaluating it.
	nC, nR := o.nC, o.nR
	if backward && o.stepUnits == totalUnits {
		nC, nR = o.stepC, o.stepR
	}
	var rc, rr, lc, lr float64
	for k := range B {
		if kb.Desirable[k] {
			rc += res.Rewards[k]
			lc += kb.Policy[k]
		} else {
			rr += res.Rewards[k]
			lr += kb.Policy[k]
		}
	}
	if nC > 0 {
		m["rewards/chosen"], m["logps/chosen"] = rc/float64(nC), lc/float64(nC)
	}
	if nR > 0 {
		m["rewards/rejected"], m["logps/rejected"] = rr/float64(nR), lr/float64(nR)
	}
	if nC > 0 && nR > 0 {
		m["rewards/margins"] = rc/float64(nC) - rr/float64(nR)
	}
	if !backward {
		return m, nil
	}
	g := make([]float64, B)
	for k := range g {
		g[k] = res.Grad[k] * w
	}
	return m, o.policy.Backward(g)
}
