package quickstart

import (
	"context"

	"github.com/align-go/align/judge"
	"github.com/align-go/align/reward"
)

// GoldJudge compares two responses by the gold reward (a tie at equal
// reward) and grades a response as passing when its gold reward is
// positive: the judge of the quickstart's win-rates unless another is given.
type GoldJudge struct{ Gold *Gold }

var _ judge.Judge = GoldJudge{}

// item is the world's request whose text a judge was shown.
func (j GoldJudge) item(prompt string) (Item, error) {
	return j.Gold.Lookup(reward.Sample{Prompt: prompt, Fields: map[string]any{"prompt": prompt}})
}

func (j GoldJudge) score(prompt, resp string) (float64, error) {
	it, err := j.item(prompt)
	if err != nil {
		return 0, err
	}
	return Score(it, resp), nil
}

// Compare prefers the response with the higher gold reward.
func (j GoldJudge) Compare(_ context.Context, reqs []judge.Comparison) ([]judge.Preference, error) {
	out := make([]judge.Preference, len(reqs))
	for i, r := range reqs {
		a, err := j.score(r.Prompt, r.A)
		if err != nil {
			return nil, err
		}
		b, err := j.score(r.Prompt, r.B)
		if err != nil {
			return nil, err
		}
		out[i].PA = higher(a, b)
	}
	return out, nil
}

// higher is a rule judge's P(A preferred): 1 when a scores above b, 0 when
// below, 0.5 on a tie.
func higher(a, b float64) float64 {
	switch {
	case a > b:
		return 1
	case a < b:
		return 0
	}
	return 0.5
}

// Grade passes a response whose gold reward is positive.
func (j GoldJudge) Grade(_ context.Context, reqs []judge.Grading) ([]judge.Grade, error) {
	out := make([]judge.Grade, len(reqs))
	for i, r := range reqs {
		s, err := j.score(r.Prompt, r.Response)
		if err != nil {
			return nil, err
		}
		if s > 0 {
			out[i].P = 1
		}
	}
	return out, nil
}
