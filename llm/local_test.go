package llm

import (
	"context"
	"math"
	"testing"

	"github.com/align-go/align/chat"
	"github.com/align-go/align/engine"
	"github.com/align-go/align/engine/enginetest"
	"github.com/align-go/align/generate"
)

// Local's answers are generate.Generate's for the chat-rendered prompt, and
// its top log-probabilities are a normalised distribution's head.
func TestLocalChat(t *testing.T) {
	l, err := NewLocal(enginetest.ModelDir(t, 5), engine.Options{MaxBatch: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	reqs := []Request{
		{Messages: []chat.Message{{Role: "user", Content: "Is the sea deep?"}}, MaxTokens: 6, TopLogprobs: 4},
		{Messages: []chat.Message{{Role: "system", Content: "Be brief."}, {Role: "user", Content: "Hi"}}, MaxTokens: 5, Temperature: 0.7, Seed: 9},
		{Messages: []chat.Message{{Role: "user", Content: "Count"}}, MaxTokens: 7},
	}
	got, err := l.Chat(context.Background(), reqs)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range reqs {
		msgs := r.Messages
		text, err := l.E.Tok.RenderChat(msgs, true)
		if err != nil {
			t.Fatal(err)
		}
		ids := l.E.Tok.Encode(text)
		p := make([]int32, len(ids))
		for k, v := range ids {
			p[k] = int32(v)
		}
		want, err := generate.Generate(l.E.Model, [][]int32{p}, generate.Options{MaxNewTokens: r.MaxTokens, Seed: r.Seed,
			Sampling: generate.Sampling{Temperature: r.Temperature}, EOS: l.E.EOS, Decode: l.E.Decode})
		if err != nil {
			t.Fatal(err)
		}
		if got[i].Text != want[0].Text || got[i].FinishReason != want[0].FinishReason ||
			got[i].PromptTokens != len(p) || got[i].CompletionTokens != len(want[0].Tokens) {
			t.Fatalf("request %d: got %+v, want %q (%s, %d tokens)", i, got[i], want[0].Text, want[0].FinishReason, len(want[0].Tokens))
		}
	}
	top := got[0].TopLogprobs
	if len(top) != got[0].CompletionTokens {
		t.Fatalf("%d logprob positions for %d tokens", len(top), got[0].CompletionTokens)
	}
	for i, cands := range top {
		var mass float64
		for k, c := range cands {
			mass += math.Exp(c.Logprob)
			if k > 0 && c.Logprob > cands[k-1].Logprob {
				t.Fatalf("position %d not sorted: %+v", i, cands)
			}
		}
		if len(cands) != 4 || mass > 1+1e-5 {
			t.Fatalf("position %d: %+v (mass %v)", i, cands, mass)
		}
	}
	if got[1].TopLogprobs != nil {
		t.Error("logprobs returned unasked")
	}
}
