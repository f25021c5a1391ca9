// Package reward scores completions for RL trainers and evaluation. Every
// source of reward — a built-in rule, a trained reward model, a long-running
// program, an HTTP endpoint, or a library user's own Go code — is a Func, so
// a trainer takes []Func and weights and never knows which kind it holds.
package reward

import (
	"context"

	"github.com/align-go/align/chat"
)

// Sample is one completion to score, with everything a reward may look at.
type Sample struct {
	// Prompt is the prompt as the model saw it (chat template applied);
	// Messages holds the conversation when the prompt row was
	// conversational, nil otherwise.
	Prompt   string
	Messages []chat.Message
	// Completion is the decoded text of exactly CompletionIDs (after stop
	// strings were cut), so the reward judges the tokens that are trained.
	Completion    string
	PromptIDs     []int32
	CompletionIDs []int32
	// Truncated is true when the completion ended without EOS or a stop string.
	Truncated bool
	// Fields are the prompt row's other fields (e.g. "answer"), as decoded
	// from JSON.
	Fields map[string]any
}

// Func is a reward function: one score per sample, in order. Implementations
// must be safe to call from one goroutine at a time; they may batch
// internally. An error means the whole batch is unscored (a trainer stops
// with it rather than training on a made-up number).
type Func interface {
	// Name is the metric name of this reward (e.g. "exact-match", "rm").
	Name() string
	Score(ctx context.Context, samples []Sample) ([]float64, error)
}
