package generate

import "fmt"

// Rollout lays completions out as one padded batch, the shape PPO and GRPO
// score and train on (TRL's prompt_completion_ids, attention_mask and
// completion_mask): row i is its prompt left-padded to P columns followed by
// its completion right-padded to T-P columns.
type Rollout struct {
	B, T, P int
	IDs     []int32 // [B,T]; padding holds Pad
	// Mask is 1 on real prompt and completion tokens (the attention mask).
	Mask []int32
	// CompletionMask is 1 on generated tokens (the loss mask), EOS included.
	CompletionMask []int32
	// Logprobs holds the generation-time raw log-probability at each
	// completion position and 0 elsewhere; nil when the completions have none.
	Logprobs    []float32
	Completions []Completion
}

// NewRollout builds the batch for completions cs of prompts (as returned by
// Generate for the same prompts). pad fills the padding; it is masked out,
// so any valid id will do.
func NewRollout(prompts [][]int32, cs []Completion, pad int32) (*Rollout, error) {
	r := &Rollout{B: len(cs), Completions: cs}
	gen := 0
	withLP := len(cs) > 0
	for i, c := range cs {
		if c.Prompt < 0 || c.Prompt >= len(prompts) {
			return nil, fmt.Errorf("rollout: completion %d names prompt %d of %d", i, c.Prompt, len(prompts))
		}
		if c.Logprobs != nil && len(c.Logprobs) != len(c.Tokens) {
			return nil, fmt.Errorf("rollout: completion %d has %d log-probs for %d tokens", i, len(c.Logprobs), len(c.Tokens))
		}
		r.P = max(r.P, len(prompts[c.Prompt]))
		gen = max(gen, len(c.Tokens))
		withLP = withLP && c.Logprobs != nil
	}
	r.T = r.P + gen
	N := r.B * r.T
	r.IDs, r.Mask, r.CompletionMask = make([]int32, N), make([]int32, N), make([]int32, N)
	if withLP {
		r.Logprobs = make([]float32, N)
	}
	for i := range r.IDs {
		r.IDs[i] = pad
	}
	for i, c := range cs {
		row := i * r.T
		pr := prompts[c.Prompt]
		for j, id := range pr {
			k := row + r.P - len(pr) + j
			r.IDs[k], r.Mask[k] = id, 1
		}
		for j, id := range c.Tokens {
			k := row + r.P + j
			r.IDs[k], r.Mask[k], r.CompletionMask[k] = id, 1, 1
			if withLP {
				r.Logprobs[k] = c.Logprobs[j]
			}
		}
	}
	return r, nil
}
