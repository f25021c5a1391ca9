package onlinedpo

import (
	"context"
	"fmt"
	"math"

	"github.com/align-go/align/cai"
	"github.com/align-go/align/chat"
	"github.com/align-go/align/judge"
	"github.com/align-go/align/reward"
)

// Candidate is one sampled completion shown to a Ranker.
type Candidate struct {
	Text   string  // decoded, without EOS
	Tokens []int32 // generated ids, EOS included when the completion stopped
	EOS    bool    // the completion ends with an EOS token
}

// Duel is one prompt with its two completions.
type Duel struct {
	Index  int // a number unique to the duel over the run (step-major), for seeded choices
	Prompt Prompt
	C      [2]Candidate
}

// Ranker scores the two completions of each duel: higher is better. The
// objective subtracts --missing-eos-penalty from the scores and takes the
// higher-scored completion as chosen (the first on a tie, as TRL does).
type Ranker interface {
	Rank(ctx context.Context, duels []Duel) (scores [][2]float64, m map[string]float64, err error)
}

// Rewards ranks by a reward function (a reward model rm:DIR, a gold reward,
// any reward.Func), each completion scored on its own: TRL's reward_funcs.
type Rewards struct{ F reward.Func }

// Rank implements Ranker.
func (r Rewards) Rank(ctx context.Context, duels []Duel) ([][2]float64, map[string]float64, error) {
	ss := make([]reward.Sample, 0, 2*len(duels))
	for _, d := range duels {
		for _, c := range d.C {
			ss = append(ss, reward.Sample{Prompt: d.Prompt.Text, Messages: d.Prompt.Messages, Completion: c.Text,
				PromptIDs: d.Prompt.IDs, CompletionIDs: c.Tokens, Truncated: !c.EOS, Fields: d.Prompt.Fields})
		}
	}
	v, err := r.F.Score(ctx, ss)
	if err != nil {
		return nil, nil, fmt.Errorf("reward %s: %w", r.F.Name(), err)
	}
	if len(v) != len(ss) {
		return nil, nil, fmt.Errorf("reward %s: %d scores for %d completions", r.F.Name(), len(v), len(ss))
	}
	out := make([][2]float64, len(duels))
	for i := range out {
		out[i] = [2]float64{v[2*i], v[2*i+1]}
		for _, s := range out[i] {
			if math.IsNaN(s) || math.IsInf(s, 0) {
				return nil, nil, fmt.Errorf("reward %s gave %v for a completion of duel %d", r.F.Name(), s, duels[i].Index)
			}
		}
	}
	return out, nil, nil
}

// Judge ranks by a pairwise judge asked in both orders (judge.CompareBoth):
// completion A scores the judge's order-averaged probability that it is
// better, B the complement. With a Constitution each duel is judged under a
// principle drawn from it (cai.LabelPairs, the constitution judge of align
// cai label), keyed by Seed and the duel's Index so a resumed run draws the
// same ones; without one, under Criterion ("" is the judge's default,
// helpfulness, honesty and harmlessness).
//
// Its metrics are judge/agreement, the share of duels whose two orders give
// the same verdict (judge's one consistency rule), and judge/ties.
type Judge struct {
	J            judge.Judge
	Constitution *cai.Constitution
	Seed         uint64
	Criterion    string
}

// Rank implements Ranker.
func (j Judge) Rank(ctx context.Context, duels []Duel) ([][2]float64, map[string]float64, error) {
	both := make([]judge.Pairwise, len(duels))
	if j.Constitution != nil {
		pairs := make([]cai.Pair, len(duels))
		for i, d := range duels {
			pairs[i] = cai.Pair{Index: d.Index, Prompt: messagesOf(d.Prompt), A: d.C[0].Text, B: d.C[1].Text}
		}
		labels, err := cai.LabelPairs(ctx, j.J, j.Constitution, pairs, cai.LabelOptions{Seed: j.Seed})
		if err != nil {
			return nil, nil, err
		}
		for i, l := range labels {
			both[i] = l.Pairwise
		}
	} else {
		reqs := make([]judge.Comparison, len(duels))
		for i, d := range duels {
			reqs[i] = judge.Comparison{Prompt: cai.RenderPrompt(messagesOf(d.Prompt)), A: d.C[0].Text, B: d.C[1].Text,
				Criterion: j.Criterion}
		}
		var err error
		if both, err = judge.CompareBoth(ctx, j.J, reqs); err != nil {
			return nil, nil, fmt.Errorf("judge: %w", err)
		}
	}
	out := make([][2]float64, len(duels))
	var agree, ties float64
	for i, b := range both {
		out[i] = [2]float64{b.PA, 1 - b.PA}
		if !b.Inconsistent {
			agree++
		}
		if b.Tie {
			ties++
		}
	}
	n := float64(max(len(duels), 1))
	return out, map[string]float64{"judge/agreement": agree / n, "judge/ties": ties / n}, nil
}

// messagesOf is the prompt as a conversation: its messages, or its text as
// one user turn. Judges see this rendering (cai.RenderPrompt), never the
// policy's chat template, as TRL renders conversations for its judges.
func messagesOf(p Prompt) []chat.Message {
	if len(p.Messages) > 0 {
		return p.Messages
	}
	return []chat.Message{{Role: "user", Content: p.Text}}
}
