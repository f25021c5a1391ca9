// Package llm is the one way Align asks a language model for text: a local
// model directory or any OpenAI-compatible endpoint (vLLM, llama.cpp server,
// a hosted API, `align serve`). Constitutional AI, judges and evaluation take
// a Client and do not care which one they hold.
package llm

import (
	"context"
	"math"

	"github.com/align-go/align/chat"
)

// Request is one chat completion request.
type Request struct {
	Messages    []chat.Message
	MaxTokens   int     // 0: the client's default
	Temperature float64 // 0: greedy
	TopP        float64 // 0 or 1: no nucleus filtering
	// Seed: the same request and seed give the same answer where the
	// backend can. Only the low 63 bits count, on every client:
	// OpenAI-compatible servers take a signed 64-bit seed, and a local model
	// must sample what a served one would.
	Seed uint64
	Stop []string
	// TopLogprobs > 0 asks for the log-probabilities of the most likely first
	// tokens (judges read option probabilities from them).
	TopLogprobs int
}

// TokenLogprob is one candidate token of a response position.
type TokenLogprob struct {
	Token   string
	Logprob float64
}

// Response is the answer to one Request.
type Response struct {
	Text         string
	FinishReason string // "stop" or "length"
	// TopLogprobs[i] are the candidates at response position i (only when
	// Request.TopLogprobs > 0 and the backend supports it).
	TopLogprobs [][]TokenLogprob
	// PromptTokens and CompletionTokens are the usage counts.
	PromptTokens, CompletionTokens int
}

// Client answers chat requests. Chat returns one response per request, in
// order; implementations batch or run requests concurrently as they can.
type Client interface {
	Chat(ctx context.Context, reqs []Request) ([]Response, error)
}

// seed is the part of r.Seed every client uses.
func (r Request) seed() uint64 { return r.Seed & math.MaxInt64 }
