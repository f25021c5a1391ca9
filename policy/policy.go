// Package policy turns a causal LM's final hidden states over a batch of
// sequences into the per-token quantities every trainer and scorer needs —
// the log-prob of each token at a temperature (logits/temperature, as TRL
// does), the entropy of that distribution and the raw (temperature 1)
// log-prob for comparing with generation — and turns d(loss)/d(logp) and
// d(loss)/d(entropy) back into d(loss)/d(hidden) for model.Backward. It is
// the one per-token log-prob of the project: PPO, GRPO, DPO and the reward
// model's pairs, eval's KL and the logprobs command all come here, and
// everything runs through the model's fused head (nn.LMHead), so the
// [B·T, V] logits are never held.
//
// Position t of a row holds the token predicted by the hidden state at
// t−1, so every [B,T] output is aligned with the batch's IDs and mask
// (for a rollout, generate.Rollout's IDs and CompletionMask).
//
//	_, hidden, _ := m.Forward(model.Batch{B: ro.B, T: ro.T, IDs: ro.IDs, Mask: ro.Mask}, false)
//	p := policy.LogProbs(m.LMHead(), hidden, ro.IDs, ro.CompletionMask, ro.B, ro.T, temp, policy.All)
//	... loss gives dlogp (and optionally dent) per token ...
//	p.Backward(dhidden, dlogp, dent)
//	m.Backward(nil, dhidden)
package policy

import (
	"github.com/align-go/align/model"
	"github.com/align-go/align/nn"
)

// Tokens are per-token values, [B,T], zero where the mask is 0. Entropy
// and Raw are nil unless asked for.
type Tokens struct {
	Logp    []float64 // log softmax(logits/temp)[id]
	Entropy []float64 // −Σ p log p of softmax(logits/temp)
	Raw     []float64 // log softmax(logits)[id], generation's convention
}

// Want says which optional values LogProbs computes (the entropy costs a
// little more per row, Raw at a temperature other than 1 another pass).
type Want = nn.HeadWant

// All asks for the entropy and the raw log-probs too; LogpOnly for neither.
var (
	All      = Want{Entropy: true, Raw: true}
	LogpOnly = Want{}
)

// Pass is one LogProbs call: its Tokens and what Backward needs.
type Pass struct {
	Tokens
	head *nn.LMHead
	hp   *nn.HeadPass
	n, T int
}

// LogProbs computes Tokens for every position with mask = 1 (the first
// column of a row never counts: nothing predicts it) from the final hidden
// states [B·T, C] of a forward pass without logits. mask nil scores every
// position after the first. hidden, ids and mask must stay unchanged until
// Backward.
func LogProbs(head *nn.LMHead, hidden []float32, ids, mask []int32, B, T int, temp float64, want Want) *Pass {
	n := B * T
	// Row i−1 of hidden predicts ids[i].
	targets := make([]int32, n)
	for i := range targets {
		targets[i] = -1
	}
	for i := 0; i < n; i++ {
		if i%T != 0 && (mask == nil || mask[i] != 0) {
			targets[i-1] = ids[i]
		}
	}
	hp := head.Forward(hidden, targets, n, temp, want)
	p := &Pass{head: head, hp: hp, n: n, T: T}
	p.Logp = shift(hp.Logp)
	if want.Entropy {
		p.Entropy = shift(hp.Entropy)
	}
	if want.Raw {
		p.Raw = shift(hp.Raw)
	}
	return p
}

// shift moves a row-aligned value (row i predicts i+1) onto the position it
// predicts.
func shift(x []float64) []float64 {
	out := make([]float64, len(x))
	copy(out[1:], x[:len(x)-1])
	return out
}

// Backward adds to dhidden [B·T, C] (and to the head weight's gradient when
// it is trainable) the gradient of a loss with d(loss)/d(Logp) = dlogp and
// d(loss)/d(Entropy) = dent, both [B,T] as LogProbs returned them (either
// may be nil; dent needs the entropy to have been asked for). Each chunk's
// logits are recomputed from the hidden states. With p = softmax(z),
// z = logits/temp and H = −Σ p log p:
//
//	d logp_id / d z_v = 1[v = id] − p_v
//	d H / d z_v       = −p_v (log p_v + H)
//
// and d/d logits = d/dz / temp.
func (p *Pass) Backward(dhidden []float32, dlogp, dent []float64) {
	p.head.Backward(dhidden, p.hp, unshift(dlogp, p.T), unshift(dent, p.T))
}

// unshift moves a per-position value back onto the row that predicted it;
// a row's first column (predicted by nothing) is dropped.
func unshift(x []float64, T int) []float64 {
	if x == nil {
		return nil
	}
	out := make([]float64, len(x))
	for i := 1; i < len(x); i++ {
		if i%T != 0 {
			out[i-1] = x[i]
		}
	}
	return out
}

// SequenceLogprobs scores one sequence with m: out[i] = log p(ids[i+1] |
// ids[..i]), len(ids)−1 values.
func SequenceLogprobs(m *model.Model, ids []int32) ([]float64, error) {
	T := len(ids)
	_, hidden, err := m.Forward(model.Batch{B: 1, T: T, IDs: ids}, false)
	if err != nil {
		return nil, err
	}
	p := LogProbs(m.LMHead(), hidden, ids, nil, 1, T, 1, LogpOnly)
	return p.Logp[1:], nil
}
