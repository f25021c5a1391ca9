// Package engine serves a local model to many callers at once: requests are
// queued (bounded), admitted into free rows of one shared KV cache as rows
// free up, and every active row advances one token per forward pass
// (continuous batching), each with its own sampling settings, seed, stop
// strings and token limit. `align serve` and llm.Local both run on it.
package engine

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"

	"github.com/align-go/align/generate"
	"github.com/align-go/align/model"
	"github.com/align-go/align/tokenizer"
)

// Options configures an Engine. The zero value of each field is its default.
type Options struct {
	// Adapter is a PEFT LoRA adapter directory applied on top of the model.
	Adapter string
	// DType is the weights decoding reads: "f32" (default) or "bf16"
	// (model.SetDecodeDType).
	DType string
	// Load stores the model's Linear weights compactly (bf16/f16 as the
	// checkpoint has them, int8, NF4/FP4: model.LoadDirOpts); zero: f32.
	Load model.LoadOptions
	// MaxBatch is the most sequences decoded together (default 8).
	MaxBatch int
	// QueueSize is the most requests waiting for a free row (default 64);
	// Submit answers ErrQueueFull beyond it. Negative: unbounded (library
	// callers that submit a whole data set at once).
	QueueSize int
	// MaxSeqLen caps prompt + completion per sequence (default: the model's
	// context length, at most 2048, since the cache holds MaxBatch rows of it).
	MaxSeqLen int
	// MaxAdapters caps the LoRA adapters LoadAdapter holds at once
	// (default 8).
	MaxAdapters int
}

// Errors a caller maps to its own answers (HTTP 429, 400).
var (
	ErrQueueFull = errors.New("engine: request queue is full")
	ErrClosed    = errors.New("engine: closed")
)

// TooLongError is a request whose prompt plus completion does not fit the
// context.
type TooLongError struct{ Prompt, MaxTokens, Context int }

func (e *TooLongError) Error() string {
	return fmt.Sprintf("the prompt has %d tokens and %d more were asked for, beyond this model's context of %d tokens",
		e.Prompt, e.MaxTokens, e.Context)
}

// Engine is a loaded model with its tokenizer and a running scheduler.
type Engine struct {
	Model *model.Model
	Tok   *tokenizer.Tokenizer
	// EOS ends a sequence (config.json, generation_config.json, tokenizer).
	EOS []int32
	// Defaults is the model's generation_config.json sampling (greedy when it
	// does not set do_sample).
	Defaults generate.Sampling

	batch, queueSize, ctxLen int
	kvBytes                  int64

	// modelMu is held by the scheduler for its forward passes and by
	// LoadAdapter/UnloadAdapter, which change the model's adapter sets.
	modelMu     sync.Mutex
	amu         sync.Mutex // guards adapters, sets and inUse
	adapters    []string   // loaded, in load order
	sets        map[string]*model.LoRA
	inUse       map[*model.LoRA]int // sequences queued or running per set, unloaded ones included
	maxAdapters int
	own         *model.LoRA  // the set the model had selected at New (Options.Adapter's): a request without an adapter runs it
	prefilled   atomic.Int64 // prompt tokens run through the model (PrefillTokens)

	mu      sync.Mutex
	waiting []*Job
	closed  bool
	wake    chan struct{} // a request arrived or Close was called
	done    chan struct{} // the scheduler has exited
}

// Load reads a model directory (config.json, safetensors, tokenizer files)
// and starts its scheduler.
func Load(dir string, o Options) (*Engine, error) { return LoadWith(dir, nil, o) }

// LoadWith is Load with a tokenizer already parsed (nil: read dir's), for
// callers that open several models over one vocabulary: parsing a
// 151k-token tokenizer.json costs more than loading a small model.
func LoadWith(dir string, tok *tokenizer.Tokenizer, o Options) (*Engine, error) {
	m, err := loadModel(dir, o)
	if err != nil {
		return nil, err
	}
	if tok == nil {
		if tok, err = tokenizer.Load(dir); err != nil {
			return nil, err
		}
	}
	gc, err := ReadGenerationConfig(dir)
	if err != nil {
		return nil, err
	}
	return New(m, tok, EOSIDs(m.Cfg, gc, tok), gc.Sampling(), o)
}

// loadModel is the one place weights are read.
func loadModel(dir string, o Options) (*model.Model, error) {
	m, _, err := model.LoadDirOpts(dir, o.Load)
	if err != nil {
		return nil, err
	}
	if o.Adapter != "" {
		if err := m.LoadPEFT(o.Adapter); err != nil {
			return nil, fmt.Errorf("%s: %w", filepath.Clean(o.Adapter), err)
		}
		m.LoRA().DropGrad() // the engine's own model: never trained
	}
	if o.DType != "" {
		if err := m.SetDecodeDType(o.DType); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// New starts an engine over a model already in memory. Close stops it.
func New(m *model.Model, tok *tokenizer.Tokenizer, eos []int32, defaults generate.Sampling, o Options) (*Engine, error) {
	e := &Engine{Model: m, Tok: tok, EOS: eos, Defaults: defaults,
		batch: o.MaxBatch, queueSize: o.QueueSize, ctxLen: o.MaxSeqLen,
		wake: make(chan struct{}, 1), done: make(chan struct{}),
		sets: map[string]*model.LoRA{}, inUse: map[*model.LoRA]int{}, maxAdapters: o.MaxAdapters, own: m.LoRA()}
	if e.maxAdapters <= 0 {
		e.maxAdapters = 8
	}
	if e.batch <= 0 {
		e.batch = 8
	}
	if e.queueSize == 0 {
		e.queueSize = 64
	}
	if e.ctxLen <= 0 {
		e.ctxLen = min(m.Cfg.MaxPos, 2048)
	}
	if e.ctxLen > m.Cfg.MaxPos {
		return nil, fmt.Errorf("max sequence length %d exceeds the model's context length %d", e.ctxLen, m.Cfg.MaxPos)
	}
	cache, err := model.NewKVCache(m.Cfg, e.batch, e.ctxLen)
	if err != nil {
		return nil, err
	}
	for l := range cache.K {
		e.kvBytes += int64(len(cache.K[l])+len(cache.V[l])) * 4
	}
	go e.run(cache)
	return e, nil
}

// KVCacheBytes is the size of the KV cache, allocated once at New.
func (e *Engine) KVCacheBytes() int64 { return e.kvBytes }

// ContextLen is the most tokens (prompt + completion) of one sequence.
func (e *Engine) ContextLen() int { return e.ctxLen }

// Close fails waiting and running requests with ErrClosed and stops the
// scheduler.
func (e *Engine) Close() {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		<-e.done
		return
	}
	e.closed = true
	e.mu.Unlock()
	e.signal()
	<-e.done
}

func (e *Engine) signal() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// Request is one sequence to generate.
type Request struct {
	Prompt    []int32 // token ids, non-empty
	MaxTokens int     // > 0; prompt + MaxTokens must fit ContextLen
	generate.Sampling
	// Seed and Stream pick the random stream (generate.Generate's: seed,
	// stream p*N+i), so choice i of a request reproduces generate's sample i.
	Seed, Stream uint64
	Stop         []string // cut from the text; the earliest match wins
	IgnoreEOS    bool     // keep going past EOS (benchmarks, tests)
	Logprobs     bool     // fill Token.Logprob
	TopLogprobs  int      // fill Token.Top with this many candidates
	// Adapter names a LoRA adapter loaded with LoadAdapter; "" runs the
	// engine's own weights (the base model, or Options.Adapter on it).
	Adapter string
}

// Candidate is one likely token at a position.
type Candidate struct {
	ID      int32
	Logprob float32
}

// Token is one generated token. Logprob is under the model's raw
// distribution (temperature 1, unfiltered), as OpenAI-compatible servers
// report it.
type Token struct {
	ID      int32
	Logprob float32
	Top     []Candidate // most likely first
}

// Event is progress of one Job. Text is new text safe to show: held back while
// it may still turn into a stop string or is an incomplete UTF-8 character.
// Tokens are the tokens generated since the last event. The last event has
// Done set (and Err when the job failed).
type Event struct {
	Tokens       []Token
	Text         string
	Done         bool
	FinishReason string // generate.FinishStop or generate.FinishLength
	Err          error
}

// Result is a finished Job.
type Result struct {
	Tokens       []Token // including a final EOS
	Text         string  // without EOS, cut at a stop string
	FinishReason string
}

// Job is a submitted request.
type Job struct {
	req    Request
	lora   *model.LoRA // the set its rows run with (nil: the base model)
	ctx    context.Context
	events chan Event
}

// Events delivers the job's progress; it is closed after the Done event.
// Events never block the scheduler: the channel holds the whole job.
func (j *Job) Events() <-chan Event { return j.events }

// Wait collects the job's events into its result.
func (j *Job) Wait() (Result, error) {
	var r Result
	for ev := range j.events {
		r.Tokens = append(r.Tokens, ev.Tokens...)
		r.Text += ev.Text
		if ev.Done {
			if ev.Err != nil {
				return r, ev.Err
			}
			r.FinishReason = ev.FinishReason
		}
	}
	return r, nil
}

// Submit queues requests together (all or none: ErrQueueFull when the queue
// has no room for all of them; nothing is allocated per token before that).
// A job whose ctx ends leaves the queue at once (its place is free for the
// next caller) or, once running, is dropped at the next step; either way it
// ends with ctx's error.
func (e *Engine) Submit(ctx context.Context, reqs ...Request) ([]*Job, error) {
	for i := range reqs {
		if err := e.check(&reqs[i]); err != nil {
			return nil, err
		}
	}
	e.mu.Lock()
	switch {
	case e.closed:
		e.mu.Unlock()
		return nil, ErrClosed
	case e.queueSize > 0 && len(e.waiting)+len(reqs) > e.queueSize:
		e.mu.Unlock()
		return nil, ErrQueueFull
	}
	sets, err := e.claim(reqs)
	if err != nil {
		e.mu.Unlock()
		return nil, err
	}
	jobs := make([]*Job, len(reqs))
	for i, r := range reqs {
		r.Stop = append([]string(nil), r.Stop...)
		// One event per token plus the final one: the scheduler never waits
		// on a slow reader.
		jobs[i] = &Job{req: r, lora: sets[i], ctx: ctx, events: make(chan Event, r.MaxTokens+2)}
	}
	e.waiting = append(e.waiting, jobs...)
	e.mu.Unlock()
	if ctx.Done() != nil {
		context.AfterFunc(ctx, func() { e.dequeue(jobs, ctx.Err()) })
	}
	e.signal()
	return jobs, nil
}

// dequeue ends those of jobs still waiting with err (the scheduler owns the
// others and drops them at its next step).
func (e *Engine) dequeue(jobs []*Job, err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	drop := make(map[*Job]bool, len(jobs))
	for _, j := range jobs {
		drop[j] = true
	}
	kept := e.waiting[:0]
	for _, j := range e.waiting {
		if drop[j] {
			e.finishErr(j, err)
		} else {
			kept = append(kept, j)
		}
	}
	clear(e.waiting[len(kept):])
	e.waiting = kept
}

// QueueSize is the most requests that may wait for a row (<= 0: unbounded);
// a Submit of more sequences than this can never succeed.
func (e *Engine) QueueSize() int { return e.queueSize }

// MaxBatch is the number of rows decoded together.
func (e *Engine) MaxBatch() int { return e.batch }

func (e *Engine) check(r *Request) error {
	if len(r.Prompt) == 0 {
		return fmt.Errorf("empty prompt")
	}
	V := e.Model.Cfg.Vocab
	for i, id := range r.Prompt {
		if id < 0 || int(id) >= V {
			return fmt.Errorf("prompt token %d is id %d, outside the vocabulary [0,%d)", i, id, V)
		}
	}
	if r.MaxTokens <= 0 {
		return fmt.Errorf("max tokens %d: want > 0", r.MaxTokens)
	}
	if len(r.Prompt)+r.MaxTokens > e.ctxLen {
		return &TooLongError{Prompt: len(r.Prompt), MaxTokens: r.MaxTokens, Context: e.ctxLen}
	}
	for id := range r.LogitBias {
		if id < 0 || int(id) >= V {
			return fmt.Errorf("logit bias for token id %d, outside the vocabulary [0,%d)", id, V)
		}
	}
	if c := r.Constraint; c != nil && c.Vocab().Size() != V {
		return fmt.Errorf("the constraint's vocabulary has %d tokens, the model %d", c.Vocab().Size(), V)
	}
	if r.TopLogprobs < 0 || r.TopLogprobs > V {
		return fmt.Errorf("top logprobs %d: want [0, %d]", r.TopLogprobs, V)
	}
	for i, s := range r.Stop {
		if s == "" {
			return fmt.Errorf("stop string %d is empty", i+1)
		}
	}
	return r.Sampling.Validate()
}

// Queued is the number of requests waiting for a free row.
func (e *Engine) Queued() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.waiting)
}
