package serve

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"sync"

	"github.com/align-go/align/engine"
)

// Admission control. A request's cost is counted from the request alone,
// before anything is allocated for it: its sequences (prompts × n) and its
// tokens (Σ over sequences of prompt + max_tokens), in saturating arithmetic
// so no request can overflow the count. What can never fit (more sequences
// than the queue holds, more tokens than the whole budget, one sequence past
// the context) is a 400; what fits once others finish is a 429 with
// Retry-After. The budget is held until the response is written or the
// client goes away.

// satAdd and satMul add and multiply non-negative counts, stopping at MaxInt64.
func satAdd(a, b int64) int64 {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

func satMul(a, b int64) int64 {
	if a != 0 && b > math.MaxInt64/a {
		return math.MaxInt64
	}
	return a * b
}

// budget is the tokens reserved by requests in flight.
type budget struct {
	mu          sync.Mutex
	limit, used int64
}

func (b *budget) acquire(n int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.used+n > b.limit {
		return false
	}
	b.used += n
	return true
}

func (b *budget) release(n int64) {
	b.mu.Lock()
	b.used -= n
	b.mu.Unlock()
}

func (b *budget) inUse() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used
}

// PendingTokenLimit is the most tokens requests in flight may reserve
// (Options.MaxPendingTokens or its default).
func (s *Server) PendingTokenLimit() int64 { return s.tokens.limit }

// maxSequences is the most sequences one request may ask for: all of them
// wait in the engine's queue together.
func (s *Server) maxSequences() int64 {
	if q := s.e.QueueSize(); q > 0 {
		return int64(q)
	}
	return 1024
}

// countCheck refuses, before prompts are tokenized, a request for more
// sequences than the queue can ever hold.
func (s *Server) countCheck(prompts int, pr *parsed, param string) *apiError {
	seqs := satMul(int64(prompts), int64(pr.n))
	if max := s.maxSequences(); seqs > max {
		if pr.n > 1 {
			param = "n"
		}
		return badRequest(param, "request_too_large",
			"this request asks for %d sequences (%d prompts × n %d); this server holds at most %d at once",
			seqs, prompts, pr.n, max)
	}
	return nil
}

// requests checks the tokenized prompts, reserves the request's tokens, and
// builds its engine requests (n choices per prompt, choice index p*n+i, all
// drawing from the request's seed on stream i). release returns the
// reservation.
func (s *Server) requests(prompts [][]int32, pr *parsed, param string) (reqs []engine.Request, release func(), ae *apiError) {
	if ae := s.countCheck(len(prompts), pr, param); ae != nil {
		return nil, nil, ae
	}
	ctxLen := s.e.ContextLen()
	var tokens int64
	for pi, ids := range prompts {
		if len(ids) == 0 {
			return nil, nil, badRequest(param, "invalid_value", "prompt %d encodes to no tokens", pi)
		}
		mt := pr.maxTokens
		if mt == 0 {
			mt = ctxLen - len(ids)
		}
		if len(ids) >= ctxLen || mt > ctxLen-len(ids) {
			return nil, nil, engineError(&engine.TooLongError{Prompt: len(ids), MaxTokens: max(mt, 1), Context: ctxLen}, param)
		}
		tokens = satAdd(tokens, satMul(int64(pr.n), int64(len(ids)+mt)))
	}
	if tokens > s.tokens.limit {
		if pr.n > 1 {
			param = "n"
		}
		return nil, nil, badRequest(param, "request_too_large",
			"this request needs up to %d tokens (prompts + max_tokens, × n); this server holds at most %d at once",
			tokens, s.tokens.limit)
	}
	if !s.tokens.acquire(tokens) {
		return nil, nil, s.busy(fmt.Sprintf("the server is busy: this request needs up to %d tokens and %d of %d are in use; retry later",
			tokens, s.tokens.inUse(), s.tokens.limit))
	}
	reqs = make([]engine.Request, 0, len(prompts)*pr.n)
	for _, ids := range prompts {
		mt := pr.maxTokens
		if mt == 0 {
			mt = ctxLen - len(ids)
		}
		for i := 0; i < pr.n; i++ {
			r := pr.req
			r.Prompt, r.MaxTokens, r.Stream = ids, mt, uint64(i)
			reqs = append(reqs, r)
		}
	}
	var once sync.Once
	return reqs, func() { once.Do(func() { s.tokens.release(tokens) }) }, nil
}

// busy is a 429 that says when to retry.
func (s *Server) busy(msg string) *apiError {
	return &apiError{Message: msg, Type: "rate_limit_error", Code: "rate_limit_exceeded",
		status: http.StatusTooManyRequests, retryAfter: s.retryAfter()}
}

// retryAfter guesses the seconds until the tokens in use are generated, at
// the recent generation rate: at least 1, at most 60.
func (s *Server) retryAfter() string {
	rate := s.metrics.tokensPerSecond()
	secs := 1.0
	if rate > 0 {
		secs = math.Ceil(float64(s.tokens.inUse()) / rate)
	}
	return strconv.Itoa(int(min(max(secs, 1), 60)))
}
