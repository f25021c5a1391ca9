package llm

import (
	"context"
	"fmt"

	"github.com/align-go/align/engine"
	"github.com/align-go/align/generate"
)

// Local answers chat requests with a model directory on this machine, through
// the same continuous-batching engine `align serve` runs: the chat template
// is applied, all requests of a Chat call decode together, and concurrent
// callers share the batch.
type Local struct {
	E *engine.Engine
	// MaxTokens is the completion limit of requests that set none
	// (default 256, cut to what the context leaves).
	MaxTokens int
}

// NewLocal loads dir (config.json, safetensors, tokenizer) with an unbounded
// queue, since a library caller hands over whole data sets at once.
func NewLocal(dir string, o engine.Options) (*Local, error) {
	if o.QueueSize == 0 {
		o.QueueSize = -1
	}
	e, err := engine.Load(dir, o)
	if err != nil {
		return nil, err
	}
	return &Local{E: e}, nil
}

// Close stops the engine.
func (l *Local) Close() { l.E.Close() }

// Chat implements Client. Temperature 0 is greedy; the same request and seed
// give the same answer.
func (l *Local) Chat(ctx context.Context, reqs []Request) ([]Response, error) {
	ereqs := make([]engine.Request, len(reqs))
	for i, r := range reqs {
		msgs := r.Messages
		if len(msgs) == 0 {
			return nil, fmt.Errorf("llm local: request %d has no messages", i)
		}
		ids, err := l.E.ChatPrompt(msgs)
		if err != nil {
			return nil, fmt.Errorf("llm local: request %d: %w", i, err)
		}
		mt := r.MaxTokens
		if mt <= 0 {
			mt = l.MaxTokens
			if mt <= 0 {
				mt = 256
			}
			mt = min(mt, l.E.ContextLen()-len(ids))
		}
		topP := r.TopP
		if topP >= 1 {
			topP = 0
		}
		ereqs[i] = engine.Request{Prompt: ids, MaxTokens: mt, Seed: r.seed(), Stop: r.Stop,
			Sampling: generate.Sampling{Temperature: r.Temperature, TopP: topP}, TopLogprobs: r.TopLogprobs}
	}
	jobs, err := l.E.Submit(ctx, ereqs...)
	if err != nil {
		return nil, fmt.Errorf("llm local: %w", err)
	}
	out := make([]Response, len(jobs))
	var firstErr error
	for i, j := range jobs {
		res, err := j.Wait()
		if err != nil {
			if firstErr == nil {
				firstErr = fmt.Errorf("llm local: request %d: %w", i, err)
			}
			continue
		}
		resp := Response{Text: res.Text, FinishReason: res.FinishReason,
			PromptTokens: len(ereqs[i].Prompt), CompletionTokens: len(res.Tokens)}
		if ereqs[i].TopLogprobs > 0 {
			for _, t := range res.Tokens {
				cands := make([]TokenLogprob, len(t.Top))
				for k, c := range t.Top {
					text, _ := l.E.TokenText(c.ID)
					cands[k] = TokenLogprob{Token: text, Logprob: float64(c.Logprob)}
				}
				resp.TopLogprobs = append(resp.TopLogprobs, cands)
			}
		}
		out[i] = resp
	}
	if firstErr != nil {
		return nil, firstErr
	}
	return out, nil
}
