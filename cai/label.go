package cai

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"

	"github.com/align-go/align/chat"
	"github.com/align-go/align/judge"
)

// Pair is two responses to one prompt, in no particular order.
type Pair struct {
	Index  int
	Prompt []chat.Message // ends with a user turn
	A, B   string
}

// Label is a judge's verdict on one Pair under one principle: the pair
// judged in both orders by judge.CompareBoth, whose Pairwise holds PA (the
// probability that A is better, averaged over the orders, so a judge that
// always picks the first position lands on 0.5), the raw answer in each
// order, Tie, and Inconsistent (judge's one consistency rule: the orders do
// not give the same verdict).
type Label struct {
	Index     int
	Principle string
	judge.Pairwise
}

// LabelOptions control LabelPairs.
type LabelOptions struct {
	Seed uint64 // draws each pair's principle from a stream keyed by its Index
}

// RenderPrompt flattens a conversation into the one string a judge.Comparison
// holds: a single user turn as itself, a longer conversation with role names.
func RenderPrompt(msgs []chat.Message) string {
	if len(msgs) == 1 && msgs[0].Role == "user" {
		return msgs[0].Content
	}
	var b strings.Builder
	for i, m := range msgs {
		if i > 0 {
			b.WriteString("\n\n")
		}
		b.WriteString(strings.ToUpper(m.Role[:1]) + m.Role[1:] + ": " + m.Content)
	}
	return b.String()
}

// LabelPairs asks j which response of each pair better follows a randomly
// drawn principle, in both orders, in one judge.CompareBoth call.
func LabelPairs(ctx context.Context, j judge.Judge, c *Constitution, pairs []Pair, o LabelOptions) ([]Label, error) {
	reqs := make([]judge.Comparison, len(pairs))
	ps := make([]Principle, len(pairs))
	for i, p := range pairs {
		ps[i] = c.Principles[rand.New(rand.NewPCG(o.Seed, uint64(p.Index))).IntN(len(c.Principles))]
		reqs[i] = judge.Comparison{Prompt: RenderPrompt(p.Prompt), A: p.A, B: p.B, Criterion: ps[i].Criterion()}
	}
	both, err := judge.CompareBoth(ctx, j, reqs)
	if err != nil {
		return nil, fmt.Errorf("cai: labelling: %w", err)
	}
	out := make([]Label, len(pairs))
	for i, p := range pairs {
		out[i] = Label{Index: p.Index, Principle: ps[i].Name, Pairwise: both[i]}
	}
	return out, nil
}

// Row is the preference row for a labelled pair: chosen is the side the
// judge preferred, PChosen the averaged probability for it. Ties give nil.
func (l Label) Row(p Pair) *PreferenceRow {
	if l.Tie {
		return nil
	}
	chosen, rejected, pc := p.A, p.B, l.PA
	if l.PA < 0.5 {
		chosen, rejected, pc = p.B, p.A, 1-l.PA
	}
	cons := !l.Inconsistent
	return &PreferenceRow{Prompt: p.Prompt, Chosen: assistant(chosen), Rejected: assistant(rejected),
		PChosen: &pc, Principle: l.Principle, Consistent: &cons}
}
