// Package grpo is group relative policy optimisation (TRL's GRPOTrainer) as
// a train.Objective: each optimizer step samples G completions per prompt
// with the KV-cache generator (PrepareBatch, seeded from the loop's
// checkpointed RNG, so runs resume bit-exactly), scores them with
// reward.Funcs, turns each group's rewards into advantages (r − mean)/std
// or the RLOO baseline, and trains on the clipped surrogate with an
// optional k3 KL penalty to a reference, aggregated with the step's global
// token and sequence counts. Advantages, policy loss, aggregation weights
// and KL come from the loss package's registries by name (verl's
// core_algos style): OutcomeEstimator, PolicyLoss, GRPOWeights, KLLoss.
package grpo

import (
	"context"
	"fmt"
	"io"
	"math"
	"slices"
	"time"

	"github.com/align-go/align/generate"
	"github.com/align-go/align/loss"
	"github.com/align-go/align/model"
	"github.com/align-go/align/reward"
	"github.com/align-go/align/rl"
	"github.com/align-go/align/train"
)

// Config holds GRPO's knobs; DefaultConfig gives TRL's.
type Config struct {
	NumGenerations  int
	ScaleRewards    string // group, batch or none (loss.AdvantageScales)
	LossType        string // grpo, bnpo, dr_grpo, dapo (loss.GRPOLossTypes)
	Epsilon         float64
	EpsilonHigh     float64 // 0: Epsilon
	Beta            float64 // k3 KL coefficient; 0 needs no reference
	MaskTruncated   bool
	Advantage       string // grpo or rloo (loss.OutcomeEstimator)
	DynamicSampling bool
	ISLevel         string // token or sequence
	RewardWeights   []float64

	Sampling     generate.Sampling
	MaxNewTokens int
	GenBatchSize int // sequences decoded together (generate.Options.BatchSize)

	SamplesEvery int // samples.jsonl every N steps; 0: never
	Alarms       rl.Alarms
}

// DefaultConfig is TRL's GRPOConfig: 8 generations, scale_rewards group,
// loss_type dapo, ε 0.2, β 0, temperature 1, max_completion_length 256.
func DefaultConfig() Config {
	return Config{NumGenerations: 8, ScaleRewards: "group", LossType: "dapo", Epsilon: 0.2,
		Advantage: "grpo", ISLevel: loss.TokenLevel, Sampling: generate.Sampling{Temperature: 1},
		MaxNewTokens: 256}
}

// Prompt is one prompt row, tokenised (rl.EncodePrompts makes them).
type Prompt = rl.Prompt

// Objective is GRPO over a prompt set; the loop's batch size counts prompts.
type Objective struct {
	Cfg     Config
	Policy  *model.Model
	Ref     *model.Model // nil unless Beta > 0; may be Policy (LoRA: adapters off)
	Prompts []Prompt
	EOS     []int32
	Pad     int32
	Decode  func([]int32) string
	Log     io.Writer
	Samples string // samples.jsonl path; "" writes none

	combined   *reward.Combined
	policyLoss loss.PolicyLossFn // the registry's loss for cfg.ISLevel
	trimmed    bool              // samples.jsonl holds no rows beyond the run's start
	step       *stepData
	dhidden    []float32
}

// stepData is one optimizer step's rollout.
type stepData struct {
	num     int
	pos     map[int]int // dataset index → position among the step's prompts
	cs      []generate.Completion
	adv     []float64 // per completion
	keep    []bool    // per completion: counts in the loss
	counts  loss.Counts
	metrics train.Metrics // step-level, handed out with the first micro-batch
	done    int           // completions trained on so far this step
	kl      float64       // the step's kl so far
}

// isLosses names the loss registry's policy loss for each
// --importance-sampling-level: PPO's clipped surrogate with a token ratio,
// or GSPO's sequence ratio.
var isLosses = map[string]string{loss.TokenLevel: "vanilla", loss.SequenceLevel: "gspo"}

// New checks cfg against the roles it is given.
func New(cfg Config, policy, ref *model.Model, rewards []reward.Func, prompts []Prompt, eos []int32, pad int32) (*Objective, error) {
	switch {
	case cfg.NumGenerations < 2:
		return nil, fmt.Errorf("grpo: --num-generations %d: want ≥ 2 (advantages compare completions of one prompt)", cfg.NumGenerations)
	case !slices.Contains(loss.AdvantageScales(), cfg.ScaleRewards):
		return nil, fmt.Errorf("grpo: --scale-rewards %q: want one of %v", cfg.ScaleRewards, loss.AdvantageScales())
	case !slices.Contains(loss.OutcomeEstimators(), cfg.Advantage):
		return nil, fmt.Errorf("grpo: --advantage %q: want one of %v", cfg.Advantage, loss.OutcomeEstimators())
	case cfg.ISLevel != loss.TokenLevel && cfg.ISLevel != loss.SequenceLevel:
		return nil, fmt.Errorf("grpo: --importance-sampling-level %q: want token or sequence", cfg.ISLevel)
	case !slices.Contains(loss.GRPOLossTypes(), cfg.LossType):
		return nil, fmt.Errorf("grpo: --loss-type %q: want one of %v", cfg.LossType, loss.GRPOLossTypes())
	case !(cfg.Epsilon >= 0 && cfg.Epsilon < 1) || cfg.EpsilonHigh < 0:
		return nil, fmt.Errorf("grpo: --epsilon %v / --epsilon-high %v out of range", cfg.Epsilon, cfg.EpsilonHigh)
	case cfg.Beta < 0:
		return nil, fmt.Errorf("grpo: --beta %v: want ≥ 0", cfg.Beta)
	case cfg.Beta > 0 && ref == nil:
		return nil, fmt.Errorf("grpo: --beta %v needs a reference model", cfg.Beta)
	case cfg.Sampling.Temperature <= 0:
		return nil, fmt.Errorf("grpo: --temperature %v: GRPO samples, want > 0", cfg.Sampling.Temperature)
	case cfg.MaxNewTokens <= 0:
		return nil, fmt.Errorf("grpo: --max-new-tokens %d: want > 0", cfg.MaxNewTokens)
	case len(rewards) == 0:
		return nil, fmt.Errorf("grpo: no reward functions")
	case len(cfg.RewardWeights) != 0 && len(cfg.RewardWeights) != len(rewards):
		return nil, fmt.Errorf("grpo: %d --reward-weights for %d rewards", len(cfg.RewardWeights), len(rewards))
	case len(prompts) == 0:
		return nil, fmt.Errorf("grpo: no prompts")
	}
	if err := cfg.Sampling.Validate(); err != nil {
		return nil, fmt.Errorf("grpo: %w", err)
	}
	for i, p := range prompts {
		if len(p.IDs) == 0 {
			return nil, fmt.Errorf("grpo: prompt %d is empty", i+1)
		}
	}
	if cfg.Beta == 0 {
		ref = nil
	}
	comb, err := reward.Combine(rewards, cfg.RewardWeights)
	if err != nil {
		return nil, fmt.Errorf("grpo: %w", err)
	}
	pl, err := loss.PolicyLoss(isLosses[cfg.ISLevel])
	if err != nil {
		return nil, fmt.Errorf("grpo: %w", err)
	}
	return &Objective{Cfg: cfg, Policy: policy, Ref: ref, Prompts: prompts, EOS: eos, Pad: pad,
		combined: comb, policyLoss: pl}, nil
}

// Len implements train.Objective: the examples are prompts.
func (o *Objective) Len() int { return len(o.Prompts) }

// Length implements train.Objective.
func (o *Objective) Length(i int) int { return len(o.Prompts[i].IDs) }

// Units counts the loss tokens of the prompts idx in the prepared step. The
// loss itself uses the step's own counts (loss.Counts), so totalUnits in
// Accumulate only sizes the loop's bookkeeping.
func (o *Objective) Units(idx []int) int {
	n := 0
	for _, c := range o.rows(idx) {
		if o.step.keep[c] {
			n += len(o.step.cs[c].Tokens)
		}
	}
	return n
}

// rows lists the step's completion indices of the prompts idx.
func (o *Objective) rows(idx []int) []int {
	G := o.Cfg.NumGenerations
	out := make([]int, 0, len(idx)*G)
	for _, i := range idx {
		p := o.step.pos[i]
		for g := 0; g < G; g++ {
			out = append(out, p*G+g)
		}
	}
	return out
}

// State implements train.StatefulObjective: the alarms' length baseline.
func (o *Objective) State() ([]byte, error) { return o.Cfg.Alarms.State() }

// LoadState implements train.StatefulObjective.
func (o *Objective) LoadState(b []byte) error { return o.Cfg.Alarms.LoadState(b) }

// PrepareBatch samples and scores the step's completions and computes
// their advantages.
func (o *Objective) PrepareBatch(ctx *train.StepContext, idx []int) error {
	cfg := &o.Cfg
	G := cfg.NumGenerations
	prompts := make([][]int32, len(idx))
	sd := &stepData{num: ctx.Step, pos: map[int]int{}, metrics: train.Metrics{}}
	for k, i := range idx {
		prompts[k] = o.Prompts[i].IDs
		sd.pos[i] = k
	}
	if o.Ref == o.Policy && o.Policy.LoRA() != nil {
		o.Policy.SetLoRAEnabled(true)
	}
	t0 := time.Now()
	cs, err := generate.Generate(o.Policy, prompts, generate.Options{Sampling: cfg.Sampling, MaxNewTokens: cfg.MaxNewTokens,
		N: G, Seed: ctx.RNG.Uint64(), EOS: o.EOS, Decode: o.Decode, Logprobs: true, BatchSize: cfg.GenBatchSize})
	if err != nil {
		return fmt.Errorf("grpo: rollout: %w", err)
	}
	sd.cs = cs
	t1 := time.Now()
	rewards, err := o.score(cs, idx, sd.metrics)
	if err != nil {
		return err
	}
	// Wall times of the step's phases (time/train_s is added by each
	// micro-batch), for seeing where a step goes.
	sd.metrics["time/rollout_s"] = t1.Sub(t0).Seconds()
	sd.metrics["time/reward_s"] = time.Since(t1).Seconds()
	sd.adv, sd.keep, err = o.advantages(rewards, sd.metrics)
	if err != nil {
		return err
	}
	toks := make([][]int32, len(cs))
	for i, c := range cs {
		toks[i] = c.Tokens
		if c.FinishReason != generate.FinishStop && cfg.MaskTruncated {
			sd.keep[i] = false
		}
		if sd.keep[i] {
			sd.counts.Seqs++
			sd.counts.Tokens += len(c.Tokens)
		}
	}
	sd.counts.MaxLen = cfg.MaxNewTokens
	sd.counts.Tokens = max(sd.counts.Tokens, 1)
	sd.counts.Seqs = max(sd.counts.Seqs, 1)
	mon := rl.Monitors(toks)
	for k, v := range mon {
		sd.metrics[k] = v
	}
	sd.metrics["completion_length"] = mon["completions/mean_length"]
	o.step = sd
	if o.Samples != "" && !o.trimmed {
		// Rows past the step this process starts from were written by a
		// killed run after its checkpoint (or by an earlier run): a resumed
		// run writes them again.
		if err := rl.TrimSteps(o.Samples, ctx.Step-1); err != nil {
			return fmt.Errorf("grpo: samples: %w", err)
		}
		o.trimmed = true
	}
	if o.Samples != "" && cfg.SamplesEvery > 0 && ctx.Step%cfg.SamplesEvery == 0 {
		for i, c := range cs {
			p := o.Prompts[idx[c.Prompt]]
			if err := rl.AppendJSONL(o.Samples, map[string]any{"step": ctx.Step, "prompt": p.Text,
				"completion": c.Text, "finish_reason": c.FinishReason, "reward": rewards[i], "advantage": sd.adv[i]}); err != nil {
				return fmt.Errorf("grpo: samples: %w", err)
			}
		}
	}
	return nil
}

// score runs every reward and returns the weighted sums, logging each
// part's mean and std as TRL does (rewards/NAME/mean, rewards/NAME/std).
func (o *Objective) score(cs []generate.Completion, idx []int, met train.Metrics) ([]float64, error) {
	samples := make([]reward.Sample, len(cs))
	for i, c := range cs {
		p := o.Prompts[idx[c.Prompt]]
		samples[i] = reward.Sample{Prompt: p.Text, Messages: p.Messages, Completion: c.Text, PromptIDs: p.IDs,
			CompletionIDs: c.Tokens, Truncated: c.FinishReason != generate.FinishStop, Fields: p.Fields}
	}
	total, parts, err := o.combined.ScoreParts(context.Background(), samples)
	if err != nil {
		return nil, fmt.Errorf("grpo: %w", err)
	}
	for k, s := range parts {
		for i, v := range s {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, fmt.Errorf("grpo: reward %s gave %v for completion %d", o.combined.Names[k], v, i)
			}
		}
		mean, std := groupStats(s, len(s))
		met["rewards/"+o.combined.Names[k]+"/mean"] = mean[0]
		met["rewards/"+o.combined.Names[k]+"/std"] = std[0]
	}
	return total, nil
}

// advantages implements --advantage, --scale-rewards and
// --dynamic-sampling; keep is false for completions of dropped groups.
func (o *Objective) advantages(r []float64, met train.Metrics) ([]float64, []bool, error) {
	G := o.Cfg.NumGenerations
	n := len(r)
	keep := make([]bool, n)
	_, std := groupStats(r, G)
	var stdSum float64
	zeroStd := 0
	for p := 0; p < n/G; p++ {
		stdSum += std[p]
		if std[p] == 0 {
			zeroStd++
		}
	}
	groups := make([]int, n)
	for i := range groups {
		groups[i] = i / G
	}
	est, err := loss.OutcomeEstimator(o.Cfg.Advantage)
	if err != nil {
		return nil, nil, err
	}
	ac := loss.DefaultAdvantageConfig() // TRL's: std + 1e-4
	ac.Scale = o.Cfg.ScaleRewards
	adv, err := est(r, groups, ac)
	if err != nil {
		return nil, nil, err
	}
	for i := range keep {
		keep[i] = !(o.Cfg.DynamicSampling && std[i/G] == 0)
	}
	all, _ := groupStats(r, n)
	met["reward"] = all[0]
	met["reward_std"] = stdSum / float64(n/G)
	met["frac_reward_zero_std"] = float64(zeroStd) / float64(n/G)
	return adv, keep, nil
}

// groupStats returns each consecutive group of g values' mean and
// unbiased standard deviation (torch.std, as TRL uses).
func groupStats(r []float64, g int) (mean, std []float64) {
	for lo := 0; lo < len(r); lo += g {
		m := 0.0
		for _, v := range r[lo : lo+g] {
			m += v
		}
		m /= float64(g)
		s := 0.0
		for _, v := range r[lo : lo+g] {
			s += (v - m) * (v - m)
		}
		mean, std = append(mean, m), append(std, math.Sqrt(s/float64(max(g-1, 1))))
	}
	return mean, std
}
