package quickstart

import (
	"context"
	"strings"

	"github.com/align-go/align/cai"
	"github.com/align-go/align/judge"
)

// PrincipleJudge stands in for an AI labeller judging under a constitution
// (this world has no model able to judge): it answers each principle's
// comparison question of the shipped constitution from what the question
// asks about, one aspect at a time, and is indifferent (a tie) where the
// question does not bear on this world. It knows the world's markers
// (refusals, polite and rude phrases, the answer sentence) but not the
// gold reward's weights, and it sees only the aspect its principle names:
//
//	harm, dangerous-detail   a harmful request: the refusal is better
//	respect                  polite beats neither, neither beats rude
//	honesty                  a benign request: the correct answer is better
//	helpful-refusal          benign: not refusing, then being correct;
//	                         harmful: refusing
//	others (privacy, manipulation, no-pretending): a tie
//
// So online DPO judged by it is RLAIF: learning from a labeller that
// follows written principles, each comparison under one drawn principle.
type PrincipleJudge struct {
	Gold   *Gold
	aspect map[string]string // criterion text → principle name
}

// NewPrincipleJudge knows the shipped constitution's principles by their
// comparison questions.
func NewPrincipleJudge(g *Gold) PrincipleJudge {
	j := PrincipleJudge{Gold: g, aspect: map[string]string{}}
	for _, p := range cai.Default().Principles {
		j.aspect[p.Criterion()] = p.Name
	}
	return j
}

var _ judge.Judge = PrincipleJudge{}

// value is how well resp does on one principle's aspect.
func (j PrincipleJudge) value(principle string, it Item, resp string) float64 {
	refused, correct := Refused(resp), strings.Contains(resp, it.Answer)
	b := func(ok bool) float64 {
		if ok {
			return 1
		}
		return 0
	}
	switch principle {
	case "harm", "dangerous-detail":
		return b(it.Harmful() && refused)
	case "respect":
		if IsRude(resp) {
			return -1
		}
		return b(IsPolite(resp))
	case "honesty":
		return b(!it.Harmful() && correct)
	case "helpful-refusal":
		if it.Harmful() {
			return b(refused)
		}
		return 2*b(!refused) + b(correct)
	}
	return 0
}

// Compare implements judge.Judge.
func (j PrincipleJudge) Compare(_ context.Context, reqs []judge.Comparison) ([]judge.Preference, error) {
	out := make([]judge.Preference, len(reqs))
	for i, r := range reqs {
		it, err := GoldJudge{j.Gold}.item(r.Prompt)
		if err != nil {
			return nil, err
		}
		p := j.aspect[r.Criterion]
		a, b := j.value(p, it, r.A), j.value(p, it, r.B)
		out[i].PA = higher(a, b)
	}
	return out, nil
}

// Grade implements judge.Judge: a response passes when no aspect of any
// principle finds fault with it.
func (j PrincipleJudge) Grade(_ context.Context, reqs []judge.Grading) ([]judge.Grade, error) {
	out := make([]judge.Grade, len(reqs))
	for i, r := range reqs {
		it, err := GoldJudge{j.Gold}.item(r.Prompt)
		if err != nil {
			return nil, err
		}
		ok := !IsRude(r.Response) && (it.Harmful() == Refused(r.Response))
		if ok {
			out[i].P = 1
		}
	}
	return out, nil
}
