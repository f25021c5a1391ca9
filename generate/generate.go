// Package generate samples completions from a model with a KV cache: prompts
// are left-padded into batches, prefilled once, fanned out to N samples per
// prompt, and decoded one token per step until EOS, a stop string or the token
// limit. Generate returns each completion's ids, the model's log-probabilities
// of them and why it stopped; NewRollout lays completions out as the padded
// batch the RL trainers score and train on.
package generate

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"

	"github.com/align-go/align/model"
	"github.com/align-go/align/tensor"
)

// Options controls Generate. The zero value of each field is its default.
type Options struct {
	Sampling
	// MaxNewTokens caps each completion (required, > 0). The model's context
	// length (n_positions, max_position_embeddings) caps prompt + completion.
	MaxNewTokens int
	// N is the number of completions per prompt (default 1).
	N int
	// Seed seeds completion i of prompt p with stream p*N+i: the same seed
	// gives the same tokens whatever the batch size or the other prompts
	// (up to float rounding of the logits, which batch composition does not
	// change in decode).
	Seed uint64
	// EOS ends a completion when sampled (the token stays in Tokens).
	EOS []int32
	// Stop ends a completion when its decoded text contains one of these;
	// Text is cut before the earliest match. Needs Decode.
	Stop []string
	// Decode turns ids into text; when set, Completion.Text is filled. It is
	// called from several goroutines at once.
	Decode func(ids []int32) string
	// BatchSize is the most sequences decoded together (default 16).
	BatchSize int
	// Logprobs fills Completion.Logprobs (one exp per vocabulary entry per token).
	Logprobs bool
	// OnBatch, when set, receives each batch's finished completions as soon
	// as the batch is done, in order (a CLI can print them while the rest run).
	OnBatch func([]Completion)
}

// Finish reasons, as OpenAI names them.
const (
	FinishStop   = "stop"   // EOS or a stop string
	FinishLength = "length" // MaxNewTokens, or the model's context length
)

// Completion is one sampled continuation of a prompt.
type Completion struct {
	Prompt, Sample int     // which prompt, and which of its N samples
	Tokens         []int32 // generated ids, including a final EOS
	// Logprobs[i] is log p(Tokens[i] | prompt, Tokens[:i]) under the model's
	// raw distribution (temperature 1, unfiltered); nil unless Options.Logprobs.
	Logprobs     []float32
	Text         string // decoded Tokens without EOS, cut at a stop string; "" without Decode
	FinishReason string
}

// row is one sequence being decoded.
type row struct {
	out     *Completion
	rng     *rand.Rand
	limit   int // new tokens allowed
	done    bool
	cut     bool // Text was set by a stop string
	sampler Sampler
}

// Generate samples opt.N completions for every prompt (token ids, without
// padding) and returns them prompt-major: result[p*N+i].
func Generate(m *model.Model, prompts [][]int32, opt Options) ([]Completion, error) {
	if err := opt.Validate(); err != nil {
		return nil, err
	}
	if opt.MaxNewTokens <= 0 {
		return nil, fmt.Errorf("max new tokens %d: want > 0", opt.MaxNewTokens)
	}
	if len(opt.Stop) > 0 && opt.Decode == nil {
		return nil, fmt.Errorf("stop strings need a Decode function")
	}
	for i, s := range opt.Stop {
		if s == "" {
			return nil, fmt.Errorf("stop string %d is empty", i+1)
		}
	}
	if c := opt.Constraint; c != nil && c.Vocab().Size() != m.Cfg.Vocab {
		return nil, fmt.Errorf("the constraint's vocabulary has %d tokens, the model %d", c.Vocab().Size(), m.Cfg.Vocab)
	}
	n, bs := max(opt.N, 1), opt.BatchSize
	if bs <= 0 {
		bs = 16
	}
	cfg := m.Cfg
	for p, pr := range prompts {
		if len(pr) == 0 {
			return nil, fmt.Errorf("prompt %d is empty", p)
		}
		for j, id := range pr {
			if id < 0 || int(id) >= cfg.Vocab {
				return nil, fmt.Errorf("prompt %d: token %d is id %d, outside vocabulary [0,%d)", p, j, id, cfg.Vocab)
			}
		}
		if len(pr) >= cfg.MaxPos {
			return nil, fmt.Errorf("prompt %d: %d tokens leave no room in the model's context of %d", p, len(pr), cfg.MaxPos)
		}
	}
	out := make([]Completion, len(prompts)*n)
	for lo := 0; lo < len(out); lo += bs {
		hi := min(lo+bs, len(out))
		if err := generateChunk(m, prompts, out, lo, hi, n, &opt); err != nil {
			return nil, err
		}
		if opt.OnBatch != nil {
			opt.OnBatch(out[lo:hi])
		}
	}
	return out, nil
}

// generateChunk decodes completions [lo, hi) of out together.
func generateChunk(m *model.Model, prompts [][]int32, out []Completion, lo, hi, n int, opt *Options) error {
	cfg := m.Cfg
	V := cfg.Vocab
	// The distinct prompts of the chunk, prefilled once each.
	var uniq []int // prompt index per prefill row
	fan := []int{} // prefill row per chunk row
	first := map[int]int{}
	rows := make([]*row, hi-lo)
	maxLimit := 0
	for i := lo; i < hi; i++ {
		p := i / n
		u, ok := first[p]
		if !ok {
			u = len(uniq)
			first[p] = u
			uniq = append(uniq, p)
		}
		fan = append(fan, u)
		c := &out[i]
		*c = Completion{Prompt: p, Sample: i % n, FinishReason: FinishLength}
		// GPT-2 has no position past n_positions; RoPE models have one but
		// were not trained there, so both stop at the context length.
		limit := min(opt.MaxNewTokens, cfg.MaxPos-len(prompts[p]))
		maxLimit = max(maxLimit, limit)
		rows[i-lo] = &row{out: c, limit: limit, rng: NewRand(opt.Seed, uint64(i)),
			sampler: Sampler{Sampling: opt.Sampling}}
	}
	T := 0
	for _, p := range uniq {
		T = max(T, len(prompts[p]))
	}
	ids := make([]int32, len(uniq)*T)
	mask := make([]int32, len(uniq)*T)
	for u, p := range uniq {
		pr := prompts[p]
		copy(ids[u*T+T-len(pr):], pr)
		for j := T - len(pr); j < T; j++ {
			mask[u*T+j] = 1
		}
	}
	cache, err := getCache(cfg, len(uniq), T+maxLimit)
	if err != nil {
		return err
	}
	defer cachePool.Put(cache)
	logits, err := m.ForwardCached(cache, nil, ids, mask, T, false)
	if err != nil {
		return err
	}
	// Fan the prefilled rows out to the samples. With one sample per prompt
	// every row is its own prompt's, and the logits are sampled in place.
	cur := logits
	if len(uniq) != len(rows) {
		cur = make([]float32, len(rows)*V)
		for i, u := range fan {
			copy(cur[i*V:(i+1)*V], logits[u*V:(u+1)*V])
		}
		if err := cache.Select(fan); err != nil {
			return err
		}
	}
	active := make([]int, len(rows))
	for i := range active {
		active[i] = i
	}
	next := make([]int32, len(rows))
	for len(active) > 0 {
		// Rows sample independently (each has its own rng and buffers).
		tensor.ParallelFor(len(active), 4, func(a, b int) {
			for k := a; k < b; k++ {
				r := rows[active[k]]
				lg := cur[k*V : (k+1)*V]
				tok := r.sampler.Sample(lg, r.rng)
				next[k] = tok
				r.out.Tokens = append(r.out.Tokens, tok)
				if opt.Logprobs {
					r.out.Logprobs = append(r.out.Logprobs, LogProb(lg, tok))
				}
				r.finish(tok, opt)
			}
		})
		kept, ids := active[:0], next[:0]
		for k, i := range active {
			if !rows[i].done {
				kept = append(kept, i)
				ids = append(ids, next[k])
			}
		}
		active = kept
		if len(active) == 0 {
			break
		}
		// Sampled from in place: the logits view stays valid until the next
		// ForwardCached, and copying it (3.2 MB at batch 16) cost ~2% of a step.
		lg, err := m.ForwardCached(cache, active, ids, nil, 1, false)
		if err != nil {
			return err
		}
		cur = lg
	}
	if opt.Decode != nil {
		for _, r := range rows {
			if !r.cut {
				r.out.Text = opt.Decode(r.textTokens(opt.EOS))
			}
		}
	}
	return nil
}

// finish marks the row done after tok if tok is EOS, the text now contains a
// stop string, or the token budget is spent.
func (r *row) finish(tok int32, opt *Options) {
	c := r.out
	for _, e := range opt.EOS {
		if tok == e {
			r.done, c.FinishReason = true, FinishStop
			return
		}
	}
	if r.sampler.Finished() { // the grammar's sentence is complete
		r.done, c.FinishReason = true, FinishStop
		return
	}
	if len(opt.Stop) > 0 {
		// The whole text is searched each step: decoding is not always
		// prefix-stable (a split UTF-8 character decodes as U+FFFD until its
		// last byte arrives), and completions are short next to a forward pass.
		text := opt.Decode(c.Tokens)
		cut := -1
		for _, s := range opt.Stop {
			if i := strings.Index(text, s); i >= 0 && (cut < 0 || i < cut) {
				cut = i
			}
		}
		if cut >= 0 {
			r.done, r.cut, c.FinishReason, c.Text = true, true, FinishStop, text[:cut]
			return
		}
	}
	if len(c.Tokens) >= r.limit {
		r.done = true
	}
}

// textTokens is Tokens without a final EOS.
func (r *row) textTokens(eos []int32) []int32 {
	t := r.out.Tokens
	if r.out.FinishReason == FinishStop && len(t) > 0 {
		for _, e := range eos {
			if t[len(t)-1] == e {
				return t[:len(t)-1]
			}
		}
	}
	return t
}

// cachePool keeps KV caches between batches and calls: a batch-16 GPT-2-small
// cache is ~113 MB, and allocating it afresh each time costs its page faults
// and zeroing, and garbage for the collector.
var cachePool sync.Pool

// getCache returns an empty cache for B rows of capacity slots, from the pool
// when one there was made for cfg.
func getCache(cfg *model.Config, B, capacity int) (*model.KVCache, error) {
	if c, ok := cachePool.Get().(*model.KVCache); ok {
		if reused, err := c.Reuse(cfg, B, capacity); err != nil || reused {
			return c, err
		}
	}
	return model.NewKVCache(cfg, B, capacity)
}
