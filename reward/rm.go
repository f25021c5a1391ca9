package reward

import (
	"context"
	"fmt"
	"slices"

	"github.com/align-go/align/model"
	"github.com/align-go/align/pairenc"
	"github.com/align-go/align/rewardmodel"
)

// RM scores completions with a trained reward model (align rm), read at the
// last token of prompt + completion — the EOS when the completion has one,
// as TRL's PPO scores. Samples with token ids are scored on exactly those
// ids (the reward model must share the policy's tokenizer, as in TRL);
// samples built from text alone are encoded with the reward model's
// tokenizer, EOS appended, as align score does.
type RM struct {
	Scorer *rewardmodel.Scorer
	// Set, when not "", names the LoRA set (with the Scorer's score head)
	// that makes the reward model out of a base it shares with the policy;
	// it is selected before each scoring pass, so all of PPO's roles can
	// live on one copy of the weights.
	Set string
}

// LoadRM loads a reward-model directory.
func LoadRM(dir string, batchSize int) (*RM, error) {
	return LoadRMOpts(dir, batchSize, model.LoadOptions{})
}

// LoadRMOpts is LoadRM with the reward model's frozen weights stored as opt
// says (rewardmodel.LoadScorerOpts).
func LoadRMOpts(dir string, batchSize int, opt model.LoadOptions) (*RM, error) {
	sc, err := rewardmodel.LoadScorerOpts(dir, "", opt)
	if err != nil {
		return nil, err
	}
	sc.BatchSize = batchSize
	return &RM{Scorer: sc}, nil
}

// Name is the reward's metric name.
func (*RM) Name() string { return "rm" }

// Score runs the reward model over the batch.
func (r *RM) Score(_ context.Context, samples []Sample) ([]float64, error) {
	rows := make([][]int32, len(samples))
	vocab := int32(r.Scorer.RM.Model.Cfg.Vocab)
	for i, s := range samples {
		if s.PromptIDs == nil && s.CompletionIDs == nil {
			p, c, err := r.Scorer.Enc.Plain(s.Prompt, s.Completion)
			if err != nil {
				return nil, fmt.Errorf("rm: sample %d: %w", i, err)
			}
			rows[i] = pairenc.Join(p, c).IDs
			continue
		}
		rows[i] = append(slices.Clip(s.PromptIDs), s.CompletionIDs...)
		for _, id := range rows[i] {
			if id < 0 || id >= vocab {
				return nil, fmt.Errorf("rm: sample %d has token id %d outside the reward model's vocab_size %d (policy and reward model tokenizers differ)", i, id, vocab)
			}
		}
	}
	if r.Set != "" {
		if err := r.Scorer.RM.Model.UseLoRA(r.Set); err != nil {
			return nil, fmt.Errorf("rm: %w", err)
		}
	}
	return r.Scorer.ScoreIDs(rows)
}
