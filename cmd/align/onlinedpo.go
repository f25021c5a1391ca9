package main

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/align-go/align/cai"
	"github.com/align-go/align/loss"
	"github.com/align-go/align/model"
	"github.com/align-go/align/onlinedpo"
	"github.com/align-go/align/reward"
	"github.com/align-go/align/train"
	"github.com/spf13/cobra"
)

type onlineDPOOpts struct {
	*rolloutFlags
	judge, reward string
	constitution  string
	cfg           onlinedpo.Config
}

func init() {
	o := &onlineDPOOpts{cfg: onlinedpo.DefaultConfig()}
	cmd := &cobra.Command{
		Use:   "online-dpo --policy DIR --prompts FILE (--judge SPEC | --reward SPEC) --out DIR",
		Short: "Online DPO: pairs sampled from the policy, ranked by a judge or a reward model (online RLAIF)",
		Long: `Online DPO (Guo et al. 2024; TRL's OnlineDPOTrainer). Each step samples two completions for
each of --batch-size prompts (× --grad-accum) from the current policy, ranks them and trains
on the pair with a DPO-family loss (--loss, --beta) against the starting policy (a frozen
copy; with --lora-r the same base with the adapters switched off).

Ranking: --reward SPEC scores each completion on its own (rm:DIR, a reward model from align
rm, or any align grpo reward SPEC); --judge SPEC compares the two, asked in both orders so
position bias cancels (http:URL[#MODEL], local:DIR, rule:refusal, rule:regex:PATTERN), with
--constitution FILE (or "default") under a principle drawn from it for each pair, as align
cai label judges: online RLAIF. A completion that ends without EOS loses
--missing-eos-penalty from its score (a judge's score is its probability of winning);
the higher score is chosen, the first completion on a tie.

--prompts is JSONL, JSON or Parquet with "prompt" (a string, or messages rendered with the
chat template) and any other fields, which rewards receive. Defaults are TRL's
OnlineDPOConfig (lr 5e-7, beta 0.1, temperature 0.9, max_new_tokens 64: tiny models need a
far higher learning rate). Writes metrics.jsonl with TRL's names (loss, objective/scores,
objective/scores_margin, objective/kl, objective/entropy, objective/non_score_reward,
objective/rlhf_reward, rewards/chosen, rewards/rejected, rewards/accuracies, rewards/margins,
logps/chosen, logps/rejected, val/contain_eos_token, beta) plus judge/agreement (the share
of pairs whose two orders agree) and judge/ties, samples.jsonl every --sample-steps steps,
and checkpoints that --resume continues exactly.`,
	}
	def := train.DefaultSettings()
	def.LR, def.GroupByLength = 5e-7, false
	flags := addTrainFlags(cmd, def)
	fs := cmd.Flags()
	c := &o.cfg
	o.rolloutFlags = addRolloutFlags(fs, rolloutConfig{Sampling: &c.Sampling, MaxNewTokens: &c.MaxNewTokens,
		GenBatchSize: &c.GenBatchSize, SamplesEvery: &c.SamplesEvery,
		TemperatureHelp: "sampling temperature (> 0)", SamplesWhat: "pairs"})
	fs.StringVar(&o.judge, "judge", "", "pairwise judge: "+judgeSpecHelp)
	fs.StringVar(&o.constitution, "constitution", "", `with --judge: judge each pair under a principle of this constitution (YAML/JSON file, or "default" for the shipped one)`)
	fs.StringVar(&o.reward, "reward", "", "reward SPEC scoring each completion: rm:DIR, or any align grpo --reward SPEC")
	fs.StringVar(&c.Loss.LossType, "loss", c.Loss.LossType, "pair loss: "+strings.Join(loss.PreferenceLossNames(), ", "))
	fs.Float64Var(&c.Loss.Beta, "beta", c.Loss.Beta, "β")
	fs.Float64Var(&c.Loss.LabelSmoothing, "label-smoothing", 0, "cDPO/robust label smoothing ε")
	fs.Float64Var(&c.Loss.SimPOGamma, "simpo-gamma", 0.5, "SimPO target margin γ")
	fs.Float64Var(&c.Loss.RPOAlpha, "sft-weight", 0, "weight of an NLL term on the chosen completions (RPO; 0: off)")
	fs.Float64Var(&c.MissingEOSPenalty, "missing-eos-penalty", 0, "subtracted from the score of a completion without EOS (0: none)")
	fs.IntVar(&c.MaxLength, "max-length", c.MaxLength, "most prompt + completion tokens in the loss (the prompt's start is cut; 0: no limit)")
	withAliases(fs, map[string]string{"loss-type": "loss", "rpo-alpha": "sft-weight"})
	cmd.RunE = o.run(flags, o.job)
	rootCmd.AddCommand(cmd)
}

// openRanker builds the --judge or --reward ranker before any model loads,
// so a bad spec fails fast (nil when neither is given: the job builder
// reports the missing ranker). An rm: reward model loads as the load flags say.
func (o *onlineDPOOpts) openRanker(seed uint64, load model.LoadOptions) (onlinedpo.Ranker, error) {
	switch {
	case o.judge != "" && o.reward != "":
		return nil, errors.New("--judge and --reward: give one (a judge compares the pair, a reward scores each completion)")
	case o.reward != "":
		if o.constitution != "" {
			return nil, errors.New("--constitution needs --judge (a reward model has no principles to follow)")
		}
		f, err := reward.Parse(o.reward, reward.Options{RMLoad: load})
		if err != nil {
			return nil, fmt.Errorf("--reward: %w", err)
		}
		if c, ok := f.(io.Closer); ok {
			o.closers = append(o.closers, c)
		}
		return onlinedpo.Rewards{F: f}, nil
	case o.judge != "":
		j, err := openJudge(o.judge, load)
		if err != nil {
			return nil, err
		}
		r := onlinedpo.Judge{J: j, Seed: seed}
		if o.constitution != "" {
			if r.Constitution, err = cai.Load(o.constitution); err != nil {
				return nil, fmt.Errorf("--constitution: %w", err)
			}
		}
		return r, nil
	}
	return nil, nil // neither: onlinedpo.NewJob says Ranker (--judge/--reward) is required
}

func (o *onlineDPOOpts) job(s train.Settings, log io.Writer) (*train.Job, error) {
	lo, err := o.lora.lib()
	if err != nil {
		return nil, err
	}
	ranker, err := o.openRanker(s.Seed, lo.Load)
	if err != nil {
		return nil, err
	}
	name := "reward " + o.reward
	if o.reward == "" {
		name = "judge " + o.judge
		if o.constitution != "" {
			name += " under constitution " + o.constitution
		}
	}
	return onlinedpo.NewJob(onlinedpo.JobOptions{Policy: o.policy, Prompts: o.prompts, Ranker: ranker, RankerName: name,
		Config: o.cfg, DType: o.dtype, LoRA: lo}, s, log)
}
