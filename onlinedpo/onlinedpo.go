// Package onlinedpo is online DPO (Guo et al. 2024, "Direct Language Model
// Alignment from Online AI Feedback"; TRL's OnlineDPOTrainer) as a
// train.Objective on the shared loop. Each optimizer step samples two
// completions per prompt from the current policy (PrepareBatch, seeded from
// the loop's checkpointed RNG, so runs resume bit-exactly), has a Ranker
// score them — a reward function such as a reward model (Rewards), or a
// pairwise judge asked in both orders, optionally under a constitution's
// principles (Judge: online RLAIF) — subtracts the missing-EOS penalty,
// makes the better one chosen, and trains on that pair with any loss of
// the DPO family (pref.DPOObjective, so the reference, LoRA's adapters-off
// reference, the RPO term and the metrics are DPO's own).
package onlinedpo

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/align-go/align/generate"
	"github.com/align-go/align/loss"
	"github.com/align-go/align/model"
	"github.com/align-go/align/pairenc"
	"github.com/align-go/align/pref"
	"github.com/align-go/align/rl"
	"github.com/align-go/align/train"
)

// Config holds online DPO's knobs; DefaultConfig gives TRL's.
type Config struct {
	Loss         loss.DPOConfig // the pair loss (TRL's loss_type and beta)
	Sampling     generate.Sampling
	MaxNewTokens int
	GenBatchSize int // sequences decoded together (generate.Options.BatchSize)
	// MaxLength caps prompt + completion tokens in the loss; longer
	// sequences lose the prompt's beginning (TRL's max_length). 0: no cap.
	MaxLength int
	// MissingEOSPenalty is subtracted from the score of every completion
	// that ends without EOS (TRL's missing_eos_penalty; 0: none), before
	// the pair is ordered. With a judge the scores are win probabilities,
	// so a penalty of 1 or more makes an unfinished completion lose to a
	// finished one whatever the judge said.
	MissingEOSPenalty float64
	SamplesEvery      int // samples.jsonl every N steps; 0: never
}

// DefaultConfig is TRL's OnlineDPOConfig: sigmoid loss, β 0.1, temperature
// 0.9, max_new_tokens 64, max_length 512, no missing-EOS penalty.
func DefaultConfig() Config {
	return Config{Loss: loss.DefaultDPOConfig(), Sampling: generate.Sampling{Temperature: 0.9}, MaxNewTokens: 64,
		MaxLength: 512}
}

// Prompt is one prompt row, tokenised (rl.EncodePrompts makes them).
type Prompt = rl.Prompt

// Objective is online DPO over a prompt set; the loop's batch size counts
// prompts, and the loss is a mean over the step's pairs.
type Objective struct {
	Cfg     Config
	Policy  *model.Model
	Ref     *model.Model // nil for reference-free losses; may be Policy (LoRA: adapters off)
	Prompts []Prompt
	Ranker  Ranker
	EOS     []int32
	Pad     int32
	Decode  func([]int32) string
	Samples string // samples.jsonl path; "" writes none

	trimmed bool
	step    *stepData
}

// stepData is one optimizer step's pairs.
type stepData struct {
	pos     map[int]int        // dataset index → the prompt's pair in dpo
	dpo     *pref.DPOObjective // the step's pairs
	metrics train.Metrics      // step-level, handed out with the first micro-batch
	scores  float64            // objective/scores, for objective/rlhf_reward
	handed  bool
	duels   []Duel // the step's prompts and completions
	chosen  []int  // which completion of each duel is chosen
}

// New checks cfg against the roles it is given.
func New(cfg Config, policy, ref *model.Model, ranker Ranker, prompts []Prompt, eos []int32, pad int32) (*Objective, error) {
	pl, err := loss.LookupPreferenceLoss(cfg.Loss.LossType)
	if err != nil {
		return nil, fmt.Errorf("online-dpo: --loss-type: %w", err)
	}
	switch {
	case !pl.ReferenceFree && ref == nil:
		return nil, fmt.Errorf("online-dpo: loss %s needs a reference model", pl.Name)
	case cfg.Sampling.Temperature <= 0:
		return nil, fmt.Errorf("online-dpo: --temperature %v: online DPO samples, want > 0", cfg.Sampling.Temperature)
	case cfg.MaxNewTokens <= 0:
		return nil, fmt.Errorf("online-dpo: --max-new-tokens %d: want > 0", cfg.MaxNewTokens)
	case cfg.MissingEOSPenalty < 0:
		return nil, fmt.Errorf("online-dpo: --missing-eos-penalty %v: want ≥ 0 (it is subtracted)", cfg.MissingEOSPenalty)
	case ranker == nil:
		return nil, fmt.Errorf("online-dpo: no judge or reward to rank completions with")
	case len(prompts) == 0:
		return nil, fmt.Errorf("online-dpo: no prompts")
	case len(eos) == 0:
		return nil, fmt.Errorf("online-dpo: no EOS token")
	}
	if err := cfg.Sampling.Validate(); err != nil {
		return nil, fmt.Errorf("online-dpo: %w", err)
	}
	for i, p := range prompts {
		if len(p.IDs) == 0 {
			return nil, fmt.Errorf("online-dpo: prompt %d is empty", i+1)
		}
	}
	if pl.ReferenceFree {
		ref = nil
	}
	// A bad β or label smoothing fails here, before any sampling.
	if _, err := pref.NewDPOObjective(policy, ref, cfg.Loss, nil, 0, pad); err != nil {
		return nil, fmt.Errorf("online-dpo: %w", err)
	}
	return &Objective{Cfg: cfg, Policy: policy, Ref: ref, Prompts: prompts, Ranker: ranker, EOS: eos, Pad: pad}, nil
}

// Len implements train.Objective: the examples are prompts.
func (o *Objective) Len() int { return len(o.Prompts) }

// Length implements train.Objective.
func (o *Objective) Length(i int) int { return len(o.Prompts[i].IDs) }

// Units implements train.Objective: one pair per prompt.
func (o *Objective) Units(idx []int) int { return len(idx) }

// PrepareBatch samples two completions for each of the step's prompts,
// ranks them and builds the step's pairs.
func (o *Objective) PrepareBatch(ctx *train.StepContext, idx []int) error {
	cfg := &o.Cfg
	if o.Ref == o.Policy && o.Policy.LoRA() != nil {
		o.Policy.SetLoRAEnabled(true)
	}
	prompts := make([][]int32, len(idx))
	for k, i := range idx {
		prompts[k] = o.Prompts[i].IDs
	}
	t0 := time.Now()
	cs, err := generate.Generate(o.Policy, prompts, generate.Options{Sampling: cfg.Sampling, MaxNewTokens: cfg.MaxNewTokens,
		N: 2, Seed: ctx.RNG.Uint64(), EOS: o.EOS, Decode: o.Decode, BatchSize: cfg.GenBatchSize})
	if err != nil {
		return fmt.Errorf("online-dpo: sampling: %w", err)
	}
	t1 := time.Now()
	duels := make([]Duel, len(idx))
	for k, i := range idx {
		duels[k] = Duel{Index: (ctx.Step-1)*len(o.Prompts) + i, Prompt: o.Prompts[i]}
		for g := range 2 {
			c := cs[2*k+g]
			duels[k].C[g] = Candidate{Text: c.Text, Tokens: c.Tokens, EOS: o.endsWithEOS(c.Tokens)}
		}
	}
	scores, rm, err := o.Ranker.Rank(context.Background(), duels)
	if err != nil {
		return fmt.Errorf("online-dpo: step %d: %w", ctx.Step, err)
	}
	if len(scores) != len(duels) {
		return fmt.Errorf("online-dpo: ranker scored %d of %d prompts", len(scores), len(duels))
	}
	pairs, chosen, met := o.pairs(ctx.Step, duels, scores)
	for k, v := range rm {
		met[k] = v
	}
	toks := make([][]int32, len(cs))
	for i, c := range cs {
		toks[i] = c.Tokens
	}
	for k, v := range rl.Monitors(toks) {
		met[k] = v
	}
	met["time/rollout_s"] = t1.Sub(t0).Seconds()
	met["time/judge_s"] = time.Since(t1).Seconds()
	dpo, err := pref.NewDPOObjective(o.Policy, o.Ref, cfg.Loss, pairs, cfg.MaxLength, o.Pad)
	if err != nil {
		return fmt.Errorf("online-dpo: %w", err)
	}
	dpo.SequenceKL = true
	all := make([]int, len(idx))
	sd := &stepData{pos: map[int]int{}, dpo: dpo, metrics: met, scores: met["objective/scores"], duels: duels, chosen: chosen}
	for k, i := range idx {
		sd.pos[i], all[k] = k, k
	}
	if err := dpo.PrepareBatch(ctx, all); err != nil {
		return err
	}
	o.step = sd
	return o.writeSamples(ctx.Step, duels, scores, chosen)
}

// endsWithEOS reports whether a completion stopped on an EOS token (TRL's
// contain_eos_token).
func (o *Objective) endsWithEOS(toks []int32) bool {
	return len(toks) > 0 && slices.Contains(o.EOS, toks[len(toks)-1])
}

// pairs applies the missing-EOS penalty to scores (in place) and orders
// each duel into a preference pair: chosen is the higher-scored completion,
// the first on a tie (TRL: first ≥ second). It returns the pairs and the
// step's score metrics with TRL's names, and which completion of each
// duel was chosen.
func (o *Objective) pairs(step int, duels []Duel, scores [][2]float64) ([]pairenc.Pair, []int, train.Metrics) {
	pairs := make([]pairenc.Pair, len(duels))
	chosen := make([]int, len(duels))
	var sum, margin, eos float64
	for k, d := range duels {
		for g := range 2 {
			if !d.C[g].EOS {
				scores[k][g] -= o.Cfg.MissingEOSPenalty
			} else {
				eos++
			}
			sum += scores[k][g]
		}
		c, r := 0, 1
		if scores[k][0] < scores[k][1] {
			c, r = 1, 0
		}
		chosen[k] = c
		margin += scores[k][c] - scores[k][r]
		pairs[k] = pairenc.Pair{Prompt: d.Prompt.IDs, Chosen: d.C[c].Tokens, Rejected: d.C[r].Tokens,
			Loc: fmt.Sprintf("step %d, prompt %d", step, d.Index%len(o.Prompts)+1)}
	}
	n := float64(len(duels))
	return pairs, chosen, train.Metrics{"objective/scores": sum / (2 * n), "objective/scores_margin": margin / n,
		"val/contain_eos_token": eos / (2 * n), "beta": o.Cfg.Loss.Beta}
}

// writeSamples appends the step's duels to samples.jsonl every
// SamplesEvery steps (after dropping rows past the step a resumed run
// starts from: a killed run wrote them after its checkpoint).
func (o *Objective) writeSamples(step int, duels []Duel, scores [][2]float64, chosen []int) error {
	if o.Samples == "" {
		return nil
	}
	if !o.trimmed {
		if err := rl.TrimSteps(o.Samples, step-1); err != nil {
			return fmt.Errorf("online-dpo: samples: %w", err)
		}
		o.trimmed = true
	}
	if o.Cfg.SamplesEvery <= 0 || step%o.Cfg.SamplesEvery != 0 {
		return nil
	}
	for k, d := range duels {
		if err := rl.AppendJSONL(o.Samples, map[string]any{"step": step, "prompt": d.Prompt.Text,
			"completions": []string{d.C[0].Text, d.C[1].Text}, "scores": scores[k][:],
			"contain_eos": []bool{d.C[0].EOS, d.C[1].EOS}, "chosen": chosen[k]}); err != nil {
			return fmt.Errorf("online-dpo: samples: %w", err)
		}
	}
	return nil
}

// Accumulate implements train.Objective: the DPO loss of the pairs of the
// prompts idx, with the step's sampling and ranking metrics on the first
// micro-batch.
func (o *Objective) Accumulate(idx []int, totalUnits int) (train.Metrics, error) {
	sd := o.step
	if sd == nil {
		return nil, fmt.Errorf("online-dpo: Accumulate before PrepareBatch")
	}
	pos := make([]int, len(idx))
	for k, i := range idx {
		p, ok := sd.pos[i]
		if !ok {
			return nil, fmt.Errorf("online-dpo: prompt %d is not in the prepared step", i)
		}
		pos[k] = p
	}
	t0 := time.Now()
	m, err := sd.dpo.Accumulate(pos, totalUnits)
	if err != nil {
		return nil, fmt.Errorf("online-dpo: %w", err)
	}
	if ns, ok := m["objective/non_score_reward"]; ok {
		// TRL's rlhf_reward: the score plus the KL penalty, a mean over
		// the step like every other metric.
		m["objective/rlhf_reward"] = ns + sd.scores*float64(len(idx))/float64(totalUnits)
	}
	if !sd.handed {
		m.Add(sd.metrics)
		sd.handed = true
	}
	m["time/train_s"] += time.Since(t0).Seconds()
	return m, nil
}
