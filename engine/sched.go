package engine

import (
	"cmp"
	"math/rand/v2"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/align-go/align/generate"
	"github.com/align-go/align/model"
	"github.com/align-go/align/nn"
	"github.com/align-go/align/tensor"
)

// slot is one cache row and the job decoding in it.
type slot struct {
	job     *Job
	rng     *rand.Rand
	sampler generate.Sampler
	tokens  []Token
	ids     []int32 // tokens' ids, for decoding
	sent    int     // bytes of text already delivered
	pending int     // tokens not yet delivered with an event
	next    int32   // the last sampled token, fed at the next step
	done    bool
	reason  string
	text    string // final text, once done
}

// run is the scheduler: admit waiting jobs into free rows (prefilling each),
// then advance every active row by one token, until Close.
func (e *Engine) run(cache *model.KVCache) {
	defer close(e.done)
	slots := make([]*slot, e.batch)
	V := e.Model.Cfg.Vocab
	for {
		e.mu.Lock()
		closed := e.closed
		var admit []*Job
		if !closed {
			for b := range slots {
				if slots[b] == nil && len(e.waiting) > 0 {
					j := e.waiting[0]
					e.waiting = e.waiting[1:]
					slots[b] = &slot{job: j}
					admit = append(admit, j)
				}
			}
		} else {
			for _, j := range e.waiting {
				e.finishErr(j, ErrClosed)
			}
			e.waiting = nil
		}
		e.mu.Unlock()
		if closed {
			for _, s := range slots {
				// A job that finished at the last step has closed its events.
				if s != nil && !s.done {
					e.finishErr(s.job, ErrClosed)
				}
			}
			return
		}
		e.modelMu.Lock()
		e.prefillAdmitted(cache, slots)
		e.modelMu.Unlock()
		var active []int
		var ids []int32
		for b, s := range slots {
			if s == nil {
				continue
			}
			if s.done || s.job.ctx.Err() != nil {
				if !s.done {
					e.finishErr(s.job, s.job.ctx.Err())
				}
				slots[b] = nil
				continue
			}
			active = append(active, b)
			ids = append(ids, s.next)
		}
		if len(active) == 0 {
			e.mu.Lock()
			idle := len(e.waiting) == 0 && !e.closed
			e.mu.Unlock()
			if idle {
				<-e.wake
			}
			continue
		}
		e.modelMu.Lock()
		lg, err := e.decode(cache, slots, active, ids)
		e.modelMu.Unlock()
		if err != nil {
			for _, b := range active {
				e.finishErr(slots[b].job, err)
				slots[b] = nil
			}
			continue
		}
		// Rows sample independently (each has its own rng and buffers).
		tensor.ParallelFor(len(active), 1, func(lo, hi int) {
			for k := lo; k < hi; k++ {
				e.step(slots[active[k]], lg[k*V:(k+1)*V])
			}
		})
	}
}

func (e *Engine) finishErr(j *Job, err error) {
	e.unclaim(j)
	j.events <- Event{Done: true, Err: err}
	close(j.events)
}

// step samples the slot's next token from its logits, decides whether the
// job is done, and delivers the text that is safe to show.
func (e *Engine) step(s *slot, logits []float32) {
	r := &s.job.req
	tok := s.sampler.Sample(logits, s.rng)
	t := Token{ID: tok}
	if r.Logprobs || r.TopLogprobs > 0 {
		t.Logprob = generate.LogProb(logits, tok)
		t.Top = topLogprobs(logits, r.TopLogprobs)
	}
	s.tokens = append(s.tokens, t)
	s.pending++
	s.next = tok
	eos := false
	if !r.IgnoreEOS {
		for _, id := range e.EOS {
			if tok == id {
				eos = true
			}
		}
	}
	if !eos {
		s.ids = append(s.ids, tok)
	}
	// The whole text is decoded each step: decoding is not always
	// prefix-stable (a split UTF-8 character decodes as U+FFFD until its last
	// byte arrives).
	text := e.Decode(s.ids)
	cut := -1
	for _, st := range r.Stop {
		if i := strings.Index(text, st); i >= 0 && (cut < 0 || i < cut) {
			cut = i
		}
	}
	switch {
	case cut >= 0:
		s.done, s.reason, text = true, generate.FinishStop, text[:cut]
	case eos, s.sampler.Finished(): // EOS, or a constraint's text is complete
		s.done, s.reason = true, generate.FinishStop
	case len(s.tokens) >= r.MaxTokens:
		s.done, s.reason = true, generate.FinishLength
	}
	safe := len(text)
	if !s.done {
		safe = safePrefix(text, r.Stop)
	}
	ev := Event{Done: s.done, FinishReason: s.reason}
	if safe > s.sent {
		ev.Text = text[s.sent:safe]
		s.sent = safe
	}
	if ev.Text != "" || s.done {
		ev.Tokens = s.tokens[len(s.tokens)-s.pending:]
		s.pending = 0
		s.job.events <- ev
	}
	if s.done {
		e.unclaim(s.job)
		close(s.job.events)
	}
}

// safePrefix is how much of text may be shown while decoding goes on: not a
// trailing U+FFFD (half a character), and not a suffix that could still grow
// into a stop string.
func safePrefix(text string, stops []string) int {
	n := len(text)
	for n > 0 {
		r, size := utf8.DecodeLastRuneInString(text[:n])
		if r != utf8.RuneError {
			break
		}
		n -= size
	}
	hold := 0
	for _, st := range stops {
		for k := min(len(st)-1, n); k > hold; k-- {
			if strings.HasSuffix(text[:n], st[:k]) {
				hold = k
				break
			}
		}
	}
	return n - hold
}

// topLogprobs returns the k most likely tokens of logits with their log
// softmax, most likely first (lowest id first on ties).
func topLogprobs(logits []float32, k int) []Candidate {
	if k <= 0 {
		return nil
	}
	lse := nn.LogSumExp(logits)
	if k > 64 {
		// Many candidates (a local judge asks for the whole vocabulary):
		// the insertion below would be O(V·k), 27 s for one V = 151,936
		// call; a stable sort of every index by logit is O(V log V) and
		// orders ties by id, as the insertion does.
		idx := make([]int32, len(logits))
		for i := range idx {
			idx[i] = int32(i)
		}
		slices.SortStableFunc(idx, func(a, b int32) int { return cmp.Compare(logits[b], logits[a]) })
		top := make([]Candidate, min(k, len(idx)))
		for i := range top {
			top[i] = Candidate{ID: idx[i], Logprob: float32(float64(logits[idx[i]]) - lse)}
		}
		return top
	}
	top := make([]Candidate, 0, k+1)
	for i, l := range logits {
		if len(top) == k && l <= top[k-1].Logprob {
			continue
		}
		// Insertion into the short sorted list.
		j := len(top)
		top = append(top, Candidate{})
		for j > 0 && top[j-1].Logprob < l {
			top[j] = top[j-1]
			j--
		}
		top[j] = Candidate{ID: int32(i), Logprob: l}
		if len(top) > k {
			top = top[:k]
		}
	}
	for i := range top {
		top[i].Logprob = float32(float64(top[i].Logprob) - lse)
	}
	return top
}
