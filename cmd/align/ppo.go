package main

import (
	"io"
	"math"
	"strings"

	"github.com/align-go/align/loss"
	"github.com/align-go/align/ppo"
	"github.com/align-go/align/train"
	"github.com/spf13/cobra"
)

type ppoOpts struct {
	policy, rewardDir, prompts string
	valueInit                  string
	cfg                        ppo.Config
	missingEOS                 float64
	dtype                      string
	sample                     int
	lora                       *loraFlags
	topK                       int
	topP, temp                 float64
}

func init() {
	o := ppoOpts{cfg: ppo.DefaultConfig()}
	cmd := &cobra.Command{
		Use:   "ppo --policy DIR --reward RM_DIR --prompts FILE --out DIR",
		Short: "RLHF with PPO: policy, frozen reference, reward model and value model",
		Long: `Each step samples one completion for each of --batch-size × --grad-accum × --num-mini-batches
prompts (TRL's batch_size), scores it with the reward model at its last token (EOS), folds a
per-token KL penalty against the starting policy into the reward (--kl-estimator, k1 by default,
--kl-coef, adaptive with --target-kl and --kl-horizon), computes GAE advantages (--gamma,
--lam, whitened) and takes --num-ppo-epochs × --num-mini-batches optimizer updates with the
clipped policy and value losses (--cliprange, --vf-coef, --cliprange-value), each over
--grad-accum micro-batches of --batch-size. --max-steps counts rollouts (TRL's updates;
without it --epochs passes over the prompts); the learning-rate schedule and its warm-up
count optimizer updates. Defaults are TRL's PPOConfig (lr 3e-6: tiny models need far more).
With --lora-r the policy and value adapters share the policy's frozen base and the reference
is that base with adapters off; OUT then holds the policy's PEFT adapters and OUT/value the
value adapters and head. --value-init reward starts the value head from the reward model's
score head (and, without LoRA, the value model from its weights); policy starts from the
policy's weights with a fresh head. Dropout is off in every pass, as in TRL.
Runs on the shared training loop: config.yaml, metrics.jsonl (TRL's names), samples.jsonl
every --sample-steps steps, checkpoint-N every --save-steps steps (rotated by
--save-total-limit) that --resume continues exactly.`,
	}
	def := train.DefaultSettings()
	def.LR, def.LoggingSteps, def.GroupByLength = 3e-6, 1, false
	flags := addTrainFlags(cmd, def)
	fs := cmd.Flags()
	// PPO has no held-out set, and its rollouts are not length-bucketed.
	for _, f := range []string{"eval-steps", "group-by-length"} {
		fs.MarkHidden(f)
	}
	c := &o.cfg
	fs.StringVar(&o.policy, "policy", "", "policy model directory (the SFT model; required)")
	fs.StringVar(&o.rewardDir, "reward", "", "reward model directory from align rm (required)")
	fs.StringVar(&o.prompts, "prompts", "", "prompt file: JSONL/Parquet rows with \"prompt\" (string or messages; required)")
	fs.StringVar(&o.valueInit, "value-init", "reward", "value model start: reward or policy")
	fs.IntVar(&c.NumPPOEpochs, "num-ppo-epochs", c.NumPPOEpochs, "epochs over each rollout batch")
	fs.IntVar(&c.NumMiniBatches, "num-mini-batches", c.NumMiniBatches, "minibatches (optimizer updates) per epoch")
	fs.Float64Var(&c.KL.Coef, "kl-coef", c.KL.Coef, "KL penalty coefficient (the initial one with --target-kl)")
	fs.StringVar(&c.KLEstimator, "kl-estimator", c.KLEstimator, "per-token KL estimator: "+strings.Join(loss.KLKinds(), ", ")+" (k1 TRL's default; k3 unclamped as TRL's, low_var_kl verl's clamped k3; kl = k1, mse = k2)")
	fs.Float64Var(&c.KL.Target, "target-kl", 0, "adaptive KL controller target per sequence (0: fixed --kl-coef)")
	fs.Float64Var(&c.KL.Horizon, "kl-horizon", c.KL.Horizon, "adaptive controller horizon in episodes")
	fs.Float64Var(&c.Alarms.LengthRatio, "alarm-length-ratio", 0, "warn when mean completion length leaves [base/r, r·base] of the first updates (0: off)")
	fs.Float64Var(&c.Alarms.Distinct, "alarm-distinct", 0, "warn when distinct-2 of an update's completions falls below this (0: off)")
	fs.Float64Var(&c.Alarms.KL, "alarm-kl", 0, "warn when objective/kl exceeds this (0: off)")
	fs.Float64Var(&c.Gamma, "gamma", c.Gamma, "discount")
	fs.Float64Var(&c.Lam, "lam", c.Lam, "GAE lambda")
	fs.Float64Var(&c.ClipRange, "cliprange", c.ClipRange, "policy ratio clip")
	fs.Float64Var(&c.VFCoef, "vf-coef", c.VFCoef, "value loss weight")
	fs.Float64Var(&c.ClipValue, "cliprange-value", c.ClipValue, "value clip around the rollout's values")
	fs.Float64Var(&o.missingEOS, "missing-eos-penalty", math.NaN(), "subtracted from the score of completions without EOS (default none)")
	fs.BoolVar(&c.WhitenRewards, "whiten-rewards", false, "whiten the per-token rewards before GAE")
	fs.IntVar(&c.MaxNewTokens, "max-new-tokens", c.MaxNewTokens, "completion length (TRL response_length)")
	fs.Float64Var(&o.temp, "temperature", c.Sampling.Temperature, "sampling temperature (> 0); log-probs are taken at it")
	fs.IntVar(&o.topK, "top-k", 0, "top-k filter (0: off)")
	fs.Float64Var(&o.topP, "top-p", 1, "nucleus filter (1: off)")
	fs.IntVar(&o.sample, "sample-steps", 10, "append the batch's completions to OUT/samples.jsonl every N steps (0: never)")
	fs.StringVar(&o.dtype, "dtype", "F32", "saved weights dtype without LoRA: F32, BF16 or F16")
	o.lora = addLoRAFlags(fs)
	withAliases(fs, map[string]string{"response-length": "max-new-tokens", "reward-model-path": "reward", "sft-model-path": "policy"})
	cmd.RunE = runTrainer(flags, o.job, "policy")
	rootCmd.AddCommand(cmd)
}

func (o *ppoOpts) job(s train.Settings, log io.Writer) (*train.Job, error) {
	lo, err := o.lora.lib()
	if err != nil {
		return nil, err
	}
	return ppo.NewJob(ppo.JobOptions{Policy: o.policy, RewardModel: o.rewardDir, Prompts: o.prompts, ValueInit: o.valueInit,
		Config: o.cfg, MissingEOS: o.missingEOS, DType: o.dtype, SampleEvery: o.sample, LoRA: lo,
		TopK: o.topK, TopP: o.topP, Temperature: o.temp}, s, log)
}
