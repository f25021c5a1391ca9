package main

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/align-go/align/grpo"
	"github.com/align-go/align/loss"
	"github.com/align-go/align/model"
	"github.com/align-go/align/reward"
	"github.com/align-go/align/train"
	"github.com/spf13/cobra"
)

type grpoOpts struct {
	*rolloutFlags
	rewards []string
	funcs   []reward.Func // set by the quickstart: used instead of parsing rewards
	cfg     grpo.Config
}

func init() {
	o := &grpoOpts{cfg: grpo.DefaultConfig()}
	cmd := &cobra.Command{
		Use:   "grpo --policy DIR --prompts FILE --reward SPEC [--reward SPEC ...] --out DIR",
		Short: "Group relative policy optimisation (GRPO, RLOO, DAPO, Dr. GRPO) with programmable rewards",
		Long: `Each step samples --num-generations completions for each of --batch-size prompts
(× --grad-accum), scores them with every --reward (summed with --reward-weights), turns each
group's rewards into advantages ((r − mean)/std with --scale-rewards group|batch|none, or the
RLOO leave-one-out baseline with --advantage rloo) and trains on the clipped surrogate
(--epsilon, --epsilon-high), aggregated per --loss-type grpo|bnpo|dr_grpo|dapo, with a k3 KL
penalty --beta to the starting policy (β = 0, the default, loads no reference; with --lora-r
the reference is the same base with adapters off).

Reward SPECs: exact-match[:field=NAME] (the row's "answer" field by default), regex:PATTERN,
length:TARGET, rm:DIR (a reward model from align rm), cmd:PROGRAM [ARGS] (a long-running
program: one JSON line {"prompt","completion", the row's other fields} in, one
{"reward": NUMBER} out per completion), http:URL (POST JSON).

--prompts is JSONL, JSON or Parquet with "prompt" (a string, or messages rendered with the
chat template) and any other fields, which rewards receive. Defaults are TRL's GRPOConfig
(lr 1e-6: tiny models need far more). Writes metrics.jsonl (reward, reward_std,
rewards/NAME/mean, completion_length, kl, clip_ratio, entropy, rollout/logprob_diff,
completions/*, time/rollout_s, time/reward_s, time/train_s), samples.jsonl every --sample-steps
steps and checkpoints that --resume continues exactly.`,
	}
	def := train.DefaultSettings()
	def.LR, def.GroupByLength = 1e-6, false
	flags := addTrainFlags(cmd, def)
	fs := cmd.Flags()
	c := &o.cfg
	o.rolloutFlags = addRolloutFlags(fs, rolloutConfig{Sampling: &c.Sampling, MaxNewTokens: &c.MaxNewTokens,
		GenBatchSize: &c.GenBatchSize, SamplesEvery: &c.SamplesEvery,
		TemperatureHelp: "sampling temperature (> 0); log-probs are taken at it", SamplesWhat: "completions"})
	fs.StringArrayVar(&o.rewards, "reward", nil, "reward SPEC (repeatable): exact-match[:field=NAME], regex:PATTERN, length:TARGET, rm:DIR, cmd:PROGRAM, http:URL")
	fs.Float64SliceVar(&c.RewardWeights, "reward-weights", nil, "one weight per --reward, in order (default 1 each)")
	fs.IntVar(&c.NumGenerations, "num-generations", c.NumGenerations, "completions per prompt (the group size G, ≥ 2)")
	fs.StringVar(&c.ScaleRewards, "scale-rewards", c.ScaleRewards, "advantage scaling: group (per-group std), batch (the batch's std) or none (Dr. GRPO)")
	fs.StringVar(&c.LossType, "loss-type", c.LossType, "token loss aggregation: "+strings.Join(loss.GRPOLossTypes(), ", "))
	fs.Float64Var(&c.Epsilon, "epsilon", c.Epsilon, "lower (and default upper) clip of the policy ratio")
	fs.Float64Var(&c.EpsilonHigh, "epsilon-high", 0, "upper clip (DAPO clip-higher; 0: --epsilon)")
	fs.Float64Var(&c.Beta, "beta", c.Beta, "k3 KL coefficient to the reference (0 loads no reference)")
	fs.BoolVar(&c.MaskTruncated, "mask-truncated", false, "exclude completions that hit --max-new-tokens without EOS from the loss")
	fs.StringVar(&c.Advantage, "advantage", c.Advantage, "advantage estimator: grpo (group mean/std) or rloo (leave-one-out baseline)")
	fs.BoolVar(&c.DynamicSampling, "dynamic-sampling", false, "drop groups whose rewards are all equal from the loss (DAPO's filter; the step trains on fewer completions, none are resampled)")
	fs.StringVar(&c.ISLevel, "importance-sampling-level", c.ISLevel, "policy ratio per token or per sequence (GSPO)")
	fs.Float64Var(&c.Alarms.LengthRatio, "alarm-length-ratio", 0, "warn when mean completion length leaves [base/r, r·base] of the first steps (0: off)")
	fs.Float64Var(&c.Alarms.Distinct, "alarm-distinct", 0, "warn when distinct-2 of a step's completions falls below this (0: off)")
	fs.Float64Var(&c.Alarms.KL, "alarm-kl", 0, "warn when kl exceeds this (0: off)")
	withAliases(fs, map[string]string{"mask-truncated-completions": "mask-truncated"})
	cmd.RunE = o.run(flags, o.job)
	rootCmd.AddCommand(cmd)
}

// parseRewards builds the --reward functions before any model loads, so a
// bad spec fails fast.
// An rm: reward model is frozen: it loads as --torch-dtype / --load-in-8bit
// / --load-in-4bit say, as align score and PPO's reward model do.
func (o *grpoOpts) parseRewards(load model.LoadOptions) ([]reward.Func, error) {
	if len(o.funcs) > 0 {
		return o.funcs, nil
	}
	if len(o.rewards) == 0 {
		return nil, errors.New("--reward: at least one reward SPEC is required (e.g. --reward exact-match)")
	}
	if w := o.cfg.RewardWeights; len(w) != 0 && len(w) != len(o.rewards) {
		return nil, fmt.Errorf("--reward-weights: %d weights for %d --reward specs", len(w), len(o.rewards))
	}
	var fs []reward.Func
	for _, spec := range o.rewards {
		f, err := reward.Parse(spec, reward.Options{RMLoad: load})
		if err != nil {
			return nil, fmt.Errorf("--reward: %w", err)
		}
		if c, ok := f.(io.Closer); ok {
			o.closers = append(o.closers, c)
		}
		fs = append(fs, f)
	}
	return fs, nil
}

func (o *grpoOpts) job(s train.Settings, log io.Writer) (*train.Job, error) {
	lo, err := o.lora.lib()
	if err != nil {
		return nil, err
	}
	rewards, err := o.parseRewards(lo.Load)
	if err != nil {
		return nil, err
	}
	return grpo.NewJob(grpo.JobOptions{Policy: o.policy, Prompts: o.prompts, Rewards: rewards, RewardSpecs: o.rewards,
		Config: o.cfg, DType: o.dtype, LoRA: lo}, s, log)
}
