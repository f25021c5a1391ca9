package cai

import (
	"context"
	"fmt"
	"math"
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

// Label is a judge's verdict on one Pair under one principle.
type Label struct {
	Index     int
	Principle string
	// PA is the probability that A is better, averaged over both orders:
	// (P(A|A first) + 1 − P(B|B first)) / 2, so a judge that always picks
	// the first position lands on 0.5.
	PA float64
	// PAB and PBA are the judge's answers in each order: the probability
	// that the response shown first is better.
	PAB, PBA float64
	// Consistent is false when the two orders disagree: opposite winners,
	// or a tie in one order and a winner in the other.
	Consistent bool
}

// Tie reports a pair the judge could not separate; it makes no preference
// row.
func (l Label) Tie() bool { return math.Abs(l.PA-0.5) < 1e-9 }

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
// drawn principle, in both orders, in one Compare call.
func LabelPairs(ctx context.Context, j judge.Judge, c *Constitution, pairs []Pair, o LabelOptions) ([]Label, error) {
	reqs := make([]judge.Comparison, 0, 2*len(pairs))
	ps := make([]Principle, len(pairs))
	for i, p := range pairs {
		ps[i] = c.Principles[rand.New(rand.NewPCG(o.Seed, uint64(p.Index))).IntN(len(c.Principles))]
		prompt := RenderPrompt(p.Prompt)
		crit := ps[i].Criterion()
		reqs = append(reqs, judge.Comparison{Prompt: prompt, A: p.A, B: p.B, Criterion: crit},
			judge.Comparison{Prompt: prompt, A: p.B, B: p.A, Criterion: crit})
	}
	got, err := j.Compare(ctx, reqs)
	if err == nil && len(got) != len(reqs) {
		err = fmt.Errorf("judge returned %d answers for %d comparisons", len(got), len(reqs))
	}
	if err != nil {
		return nil, fmt.Errorf("cai: labelling: %w", err)
	}
	out := make([]Label, len(pairs))
	for i, p := range pairs {
		ab, ba := got[2*i].PA, got[2*i+1].PA
		for _, v := range []float64{ab, ba} {
			if !(v >= 0 && v <= 1) {
				return nil, fmt.Errorf("cai: labelling pair %d: judge probability %v outside [0,1]", p.Index, v)
			}
		}
		out[i] = Label{Index: p.Index, Principle: ps[i].Name, PAB: ab, PBA: ba, PA: (ab + 1 - ba) / 2,
			Consistent: sign(ab-0.5) == -sign(ba-0.5)}
	}
	return out, nil
}

func sign(x float64) int {
	switch {
	case x > 1e-9:
		return 1
	case x < -1e-9:
		return -1
	}
	return 0
}

// Row is the preference row for a labelled pair: chosen is the side the
// judge preferred, PChosen the averaged probability for it. Ties give nil.
func (l Label) Row(p Pair) *PreferenceRow {
	if l.Tie() {
		return nil
	}
	chosen, rejected, pc := p.A, p.B, l.PA
	if l.PA < 0.5 {
		chosen, rejected, pc = p.B, p.A, 1-l.PA
	}
	cons := l.Consistent
	return &PreferenceRow{Prompt: p.Prompt, Chosen: assistant(chosen), Rejected: assistant(rejected),
		PChosen: &pc, Principle: l.Principle, Consistent: &cons}
}
