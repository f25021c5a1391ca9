package cai

import (
	"context"
	"math"
	"testing"

	"github.com/align-go/align/judge"
)

// scriptJudge answers PA from a function of the comparison.
type scriptJudge struct {
	pa   func(judge.Comparison) float64
	seen []judge.Comparison
}

func (s *scriptJudge) Compare(_ context.Context, cs []judge.Comparison) ([]judge.Preference, error) {
	s.seen = append(s.seen, cs...)
	out := make([]judge.Preference, len(cs))
	for i, c := range cs {
		out[i].PA = s.pa(c)
	}
	return out, nil
}

func (s *scriptJudge) Grade(context.Context, []judge.Grading) ([]judge.Grade, error) { return nil, nil }

func TestLabelPairs(t *testing.T) {
	c := testConstitution()
	c.Principles[1].Comparison = "Which is kinder?"
	pairs := []Pair{
		{Index: 0, Prompt: user("q"), A: "good", B: "bad"}, // judge prefers "good": 0.9 first, 0.3 second
		{Index: 1, Prompt: user("q"), A: "bad", B: "good"},
		{Index: 2, Prompt: user("q"), A: "x", B: "y"}, // always the first shown: a tie
		{Index: 3, Prompt: user("q"), A: "good", B: "meh"},
	}
	j := &scriptJudge{pa: func(cm judge.Comparison) float64 {
		switch {
		case cm.A == "good" && cm.B == "bad":
			return 0.9
		case cm.A == "bad" && cm.B == "good":
			return 0.3
		case cm.A == "good":
			return 0.5 // a tie in one order only: inconsistent
		case cm.B == "good":
			return 0.2
		}
		return 1
	}}
	ls, err := LabelPairs(context.Background(), j, c, pairs, LabelOptions{Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	// judge.CompareBoth's layout: every pair as given, then every pair swapped.
	if len(j.seen) != 8 || j.seen[0].A != "good" || j.seen[4].A != "bad" || j.seen[4].B != "good" || j.seen[5].A != "good" {
		t.Fatalf("comparisons %+v", j.seen)
	}
	// Hand-computed: (0.9 + 1 − 0.3)/2 = 0.8; mirrored (0.3 + 1 − 0.9)/2 = 0.2;
	// (1 + 1 − 1)/2 = 0.5; (0.5 + 1 − 0.2)/2 = 0.65.
	for i, want := range []struct {
		pa         float64
		consistent bool
	}{{0.8, true}, {0.2, true}, {0.5, false}, {0.65, false}} {
		if math.Abs(ls[i].PA-want.pa) > 1e-12 || ls[i].Inconsistent == want.consistent {
			t.Errorf("pair %d: %+v, want PA %v consistent %v", i, ls[i], want.pa, want.consistent)
		}
		p, _ := c.Principle(ls[i].Principle)
		if j.seen[i].Criterion != p.Criterion() || j.seen[4+i].Criterion != p.Criterion() || j.seen[i].Prompt != "q" {
			t.Errorf("pair %d asked %+v under %s", i, j.seen[i], p.Name)
		}
	}
	r := ls[0].Row(pairs[0])
	if r.Chosen[0].Content != "good" || r.Rejected[0].Content != "bad" || math.Abs(*r.PChosen-0.8) > 1e-12 || !*r.Consistent {
		t.Errorf("row %+v", r)
	}
	r = ls[1].Row(pairs[1])
	if r.Chosen[0].Content != "good" || math.Abs(*r.PChosen-0.8) > 1e-12 {
		t.Errorf("mirrored row %+v", r)
	}
	if ls[2].Row(pairs[2]) != nil {
		t.Error("tie gave a row")
	}
	j.pa = func(judge.Comparison) float64 { return 1.5 }
	if _, err := LabelPairs(context.Background(), j, c, pairs[:1], LabelOptions{}); err == nil {
		t.Error("probability 1.5 accepted")
	}
}

func TestRenderPrompt(t *testing.T) {
	if got := RenderPrompt(user("hi")); got != "hi" {
		t.Error(got)
	}
	got := RenderPrompt(append(append(user("a"), assistant("b")...), user("c")...))
	if got != "User: a\n\nAssistant: b\n\nUser: c" {
		t.Errorf("%q", got)
	}
}
