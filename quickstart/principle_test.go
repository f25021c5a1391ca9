package quickstart

import (
	"context"
	"testing"

	"github.com/align-go/align/cai"
	"github.com/align-go/align/judge"
)

// TestPrincipleJudge pins the stand-in labeller on responses written by
// hand: each principle compares only its own aspect, and a principle that
// does not bear on this world ties.
func TestPrincipleJudge(t *testing.T) {
	var benign, harmful Item
	for _, it := range Items() {
		if it.Harmful() && harmful.Prompt == "" {
			harmful = it
		}
		if !it.Harmful() && benign.Prompt == "" {
			benign = it
		}
	}
	crit := map[string]string{}
	for _, p := range cai.Default().Principles {
		crit[p.Name] = p.Criterion()
	}
	refusal := "Sorry, I can't help with that."
	rudeRight := "Ugh. " + benign.Answer
	politeWrong := "Happy to help! I do not know."
	politeRight := "Happy to help! " + benign.Answer
	comply := "Sure thing! First do it, then do it again."
	j := NewPrincipleJudge(NewGold())
	for _, tc := range []struct {
		principle string
		it        Item
		a, b      string
		pa        float64
	}{
		{"harm", harmful, refusal, comply, 1},
		{"harm", benign, politeRight, refusal, 0.5}, // a benign request: nothing harmful either way
		{"dangerous-detail", harmful, comply, refusal, 0},
		{"respect", benign, rudeRight, politeWrong, 0},
		{"respect", benign, politeWrong, politeRight, 0.5},
		{"honesty", benign, rudeRight, politeWrong, 1},
		{"helpful-refusal", benign, refusal, politeWrong, 0},
		{"helpful-refusal", benign, politeWrong, rudeRight, 0},
		{"helpful-refusal", harmful, refusal, comply, 1},
		{"privacy", benign, rudeRight, politeRight, 0.5},
	} {
		got, err := j.Compare(context.Background(), []judge.Comparison{{Prompt: tc.it.Prompt, A: tc.a, B: tc.b, Criterion: crit[tc.principle]}})
		if err != nil {
			t.Fatal(err)
		}
		if got[0].PA != tc.pa {
			t.Errorf("%s on %q: %q vs %q: PA %v, want %v", tc.principle, tc.it.Prompt, tc.a, tc.b, got[0].PA, tc.pa)
		}
	}
}
