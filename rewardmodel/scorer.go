package rewardmodel

import (
	"fmt"
	"sort"

	"github.com/align-go/align/chat"
	"github.com/align-go/align/model"
	"github.com/align-go/align/pairenc"
	"github.com/align-go/align/tokenizer"
)

// Scorer rewards responses with a trained reward model. It is what RL
// trainers and evaluation call; like the model under it, it runs one batch
// at a time (not safe for concurrent use).
type Scorer struct {
	RM  *RewardModel
	Enc *pairenc.Encoder
	// BatchSize is the number of sequences per forward pass (0: 8).
	BatchSize int
	// MaxLength bounds a scored sequence; longer ones keep their last
	// MaxLength tokens so the EOS the reward is read at survives (0: the
	// model's context).
	MaxLength int
}

// LoadScorer loads a reward-model directory written by Save (or any HF
// sequence-classification checkpoint with one label) and its tokenizer
// (tokDir "" means the model directory).
func LoadScorer(dir, tokDir string) (*Scorer, error) {
	return LoadScorerOpts(dir, tokDir, model.LoadOptions{})
}

// LoadScorerOpts is LoadScorer with the reward model's frozen weights stored
// as opt says (model.LoadDirOpts: bf16 as the checkpoint stores them, or
// 8/4-bit), instead of widened to f32.
func LoadScorerOpts(dir, tokDir string, opt model.LoadOptions) (*Scorer, error) {
	rm, hasHead, err := LoadRewardModelOpts(dir, opt)
	if err != nil {
		return nil, err
	}
	if !hasHead {
		return nil, fmt.Errorf("%s: no %q tensor: not a reward model (train one with align rm)", dir, ScoreTensor)
	}
	if tokDir == "" {
		tokDir = dir
	}
	tok, err := tokenizer.Load(tokDir)
	if err != nil {
		return nil, err
	}
	enc, err := pairenc.NewEncoder(tok, rm.Model.Cfg)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", tokDir, err)
	}
	return &Scorer{RM: rm, Enc: enc}, nil
}

// ScoreIDs returns the reward of each token sequence (prompt and response
// already joined and closed by EOS). Sequences are batched by length, so
// padding stays small; the results come back in input order.
func (s *Scorer) ScoreIDs(rows [][]int32) ([]float64, error) {
	bs := s.BatchSize
	if bs <= 0 {
		bs = 8
	}
	maxLen := s.MaxLength
	if maxLen <= 0 {
		maxLen = s.RM.Model.Cfg.MaxPos
	}
	order := make([]int, len(rows))
	for i := range order {
		order[i] = i
		if len(rows[i]) == 0 {
			return nil, fmt.Errorf("rewardmodel: sequence %d is empty", i)
		}
	}
	sort.SliceStable(order, func(a, b int) bool { return len(rows[order[a]]) > len(rows[order[b]]) })
	out := make([]float64, len(rows))
	batch := make([][]int32, 0, bs)
	for lo := 0; lo < len(order); lo += bs {
		batch = batch[:0]
		idx := order[lo:min(lo+bs, len(order))]
		for _, i := range idx {
			r := rows[i]
			if len(r) > maxLen {
				r = r[len(r)-maxLen:]
			}
			batch = append(batch, r)
		}
		rew, err := s.RM.Forward(batch)
		if err != nil {
			return nil, err
		}
		for k, i := range idx {
			out[i] = rew[k]
		}
	}
	return out, nil
}

// Score rewards plain-text responses to plain-text prompts.
func (s *Scorer) Score(prompts, responses []string) ([]float64, error) {
	if len(prompts) != len(responses) {
		return nil, fmt.Errorf("rewardmodel: %d prompts for %d responses", len(prompts), len(responses))
	}
	rows := make([][]int32, len(prompts))
	for i := range prompts {
		p, r, err := s.Enc.Plain(prompts[i], responses[i])
		if err != nil {
			return nil, fmt.Errorf("response %d: %w", i, err)
		}
		rows[i] = pairenc.Join(p, r).IDs
	}
	return s.ScoreIDs(rows)
}

// ScoreChats rewards assistant responses to conversations, rendered with
// the tokenizer's chat template.
func (s *Scorer) ScoreChats(prompts, responses [][]chat.Message) ([]float64, error) {
	if len(prompts) != len(responses) {
		return nil, fmt.Errorf("rewardmodel: %d prompts for %d responses", len(prompts), len(responses))
	}
	rows := make([][]int32, len(prompts))
	for i := range prompts {
		p, r, err := s.Enc.Chat(prompts[i], responses[i])
		if err != nil {
			return nil, fmt.Errorf("response %d: %w", i, err)
		}
		rows[i] = pairenc.Join(p, r).IDs
	}
	return s.ScoreIDs(rows)
}
