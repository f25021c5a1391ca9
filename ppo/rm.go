package ppo

import (
	"context"
	"slices"

	"github.com/align-go/align/pref"
	"github.com/align-go/align/reward"
)

// TODO(reward): use reward's rm:DIR Func once it lands on main.

// RMReward scores each completion with a trained reward model read at the
// completion's last token (its EOS when it has one), over exactly the
// prompt and completion ids that are trained. With Set, the reward model is
// a LoRA set (plus its score head) on the policy's own base, selected for
// each scoring pass: then all four roles share one copy of the weights.
type RMReward struct {
	Scorer *pref.Scorer
	Set    string
}

// Name is the reward's metric name.
func (r RMReward) Name() string { return "rm" }

// Score joins each sample's prompt and completion ids and scores them.
func (r RMReward) Score(_ context.Context, samples []reward.Sample) ([]float64, error) {
	rows := make([][]int32, len(samples))
	for i, s := range samples {
		rows[i] = append(slices.Clip(s.PromptIDs), s.CompletionIDs...)
	}
	if r.Set != "" {
		if err := r.Scorer.RM.Model.UseLoRA(r.Set); err != nil {
			return nil, err
		}
	}
	return r.Scorer.ScoreIDs(rows)
}
