package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"

	"github.com/align-go/align/checkpoint"
	"github.com/align-go/align/model"
	"github.com/align-go/align/policy"
	"github.com/align-go/align/ppo"
	"github.com/align-go/align/reward"
	"github.com/align-go/align/rewardmodel"
	"github.com/align-go/align/rl"
	"github.com/align-go/align/tokenizer"
	"github.com/align-go/align/train"
	"github.com/spf13/cobra"
)

type ppoOpts struct {
	policy, rewardDir, prompts, out string
	valueInit                       string
	cfg                             ppo.Config
	missingEOS                      float64
	dtype                           string
	saveSteps, loggingSteps, sample int
	saveTotalLimit                  int
	resume                          bool
	lora                            *loraFlags
	topK                            int
	topP, temp                      float64
	config                          *train.ConfigFile
}

func init() {
	o := ppoOpts{cfg: ppo.DefaultConfig()}
	cmd := &cobra.Command{
		Use:   "ppo --policy DIR --reward RM_DIR --prompts FILE --out DIR",
		Short: "RLHF with PPO: policy, frozen reference, reward model and value model",
		Long: `Samples one completion per prompt (--batch-size prompts per rollout), scores it with the
reward model at its last token (EOS), folds a per-token KL penalty against the starting
policy into the reward (--kl-estimator k1|k3, --kl-coef, adaptive with --target-kl and
--kl-horizon), computes GAE advantages (--gamma, --lam, whitened) and trains --num-ppo-epochs
epochs over --num-mini-batches minibatches with the clipped policy and value losses
(--cliprange, --vf-coef, --cliprange-value). Defaults are TRL's PPOConfig.
With --lora-r the policy and value adapters share the policy's frozen base and the reference
is that base with adapters off; OUT then holds the policy's PEFT adapters and OUT/value the
value adapters and head. --value-init reward starts the value head from the reward model's
score head (and, without LoRA, the value model from its weights); policy starts from the
policy's weights with a fresh head. Dropout is off in every pass, as in TRL.
Writes config.yaml (every setting as resolved; --config FILE.yaml reads one, flags on the
command line winning), metrics.jsonl (TRL's names), samples.jsonl every --sample-steps
updates, and checkpoint-N every --save-steps updates; --resume continues from the newest one
exactly.`,
	}
	o.config = train.AddConfigFlag(cmd)
	fs := cmd.Flags()
	c := &o.cfg
	fs.StringVar(&o.policy, "policy", "", "policy model directory (the SFT model; required)")
	fs.StringVar(&o.rewardDir, "reward", "", "reward model directory from align rm (required)")
	fs.StringVar(&o.prompts, "prompts", "", "prompt file: JSONL/Parquet rows with \"prompt\" (string or messages; required)")
	fs.StringVar(&o.out, "out", "", "output directory (required)")
	fs.StringVar(&o.valueInit, "value-init", "reward", "value model start: reward or policy")
	fs.IntVar(&c.BatchSize, "batch-size", 16, "prompts per rollout batch")
	fs.IntVar(&c.Updates, "max-steps", 100, "rollout batches (PPO updates) to run")
	fs.IntVar(&c.NumPPOEpochs, "num-ppo-epochs", c.NumPPOEpochs, "epochs over each rollout batch")
	fs.IntVar(&c.NumMiniBatches, "num-mini-batches", c.NumMiniBatches, "minibatches per epoch")
	fs.Float64Var(&c.KL.Coef, "kl-coef", c.KL.Coef, "KL penalty coefficient (the initial one with --target-kl)")
	fs.StringVar(&c.KLEstimator, "kl-estimator", c.KLEstimator, "per-token KL estimator: k1 or k3")
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
	fs.Float64Var(&c.LR, "lr", c.LR, "peak learning rate (linear decay to 0)")
	fs.Float64Var(&c.MaxGradNorm, "max-grad-norm", c.MaxGradNorm, "global gradient clipping (0: off)")
	fs.IntVar(&c.MaxNewTokens, "max-new-tokens", c.MaxNewTokens, "completion length (TRL response_length)")
	fs.Float64Var(&o.temp, "temperature", c.Sampling.Temperature, "sampling temperature (> 0); log-probs are taken at it")
	fs.IntVar(&o.topK, "top-k", 0, "top-k filter (0: off)")
	fs.Float64Var(&o.topP, "top-p", 1, "nucleus filter (1: off)")
	fs.Uint64Var(&c.Seed, "seed", 42, "seed of every random choice")
	fs.IntVar(&o.saveSteps, "save-steps", 50, "checkpoint every N updates (0: only at the end)")
	fs.IntVar(&o.saveTotalLimit, "save-total-limit", 0, "keep only the newest N checkpoints (0: all)")
	fs.IntVar(&o.loggingSteps, "logging-steps", 1, "print a progress line every N updates")
	fs.IntVar(&o.sample, "sample-steps", 10, "append the batch's completions to OUT/samples.jsonl every N updates (0: never)")
	fs.BoolVar(&o.resume, "resume", false, "continue from the newest OUT/checkpoint-N")
	fs.StringVar(&o.dtype, "dtype", "F32", "saved weights dtype without LoRA: F32, BF16 or F16")
	o.lora = addLoRAFlags(fs)
	withAliases(fs, map[string]string{"response-length": "max-new-tokens", "learning-rate": "lr",
		"reward-model-path": "reward", "sft-model-path": "policy"})
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := o.config.Apply(); err != nil {
			return err
		}
		return o.run(cmd.Context(), cmd.ErrOrStderr())
	}
	rootCmd.AddCommand(cmd)
}

func (o *ppoOpts) check() error {
	for _, f := range []struct{ name, v string }{{"--policy", o.policy}, {"--reward", o.rewardDir}, {"--prompts", o.prompts}, {"--out", o.out}} {
		if f.v == "" {
			return fmt.Errorf("%s is required", f.name)
		}
	}
	if o.valueInit != "reward" && o.valueInit != "policy" {
		return fmt.Errorf("--value-init %q: want reward or policy", o.valueInit)
	}
	if o.cfg.Updates <= 0 {
		return fmt.Errorf("--max-steps %d: want > 0", o.cfg.Updates)
	}
	return checkDType(o.dtype)
}

// loadPrompts renders every prompt row as the policy sees it.
func loadPrompts(path string, tok *tokenizer.Tokenizer) (ids [][]int32, fields []map[string]any, err error) {
	rows, err := rl.ReadPrompts(path)
	if err != nil {
		return nil, nil, err
	}
	for _, r := range rows {
		_, enc, err := r.Encode(tok)
		if err != nil {
			return nil, nil, err
		}
		ids, fields = append(ids, enc), append(fields, r.Fields)
	}
	return ids, fields, nil
}

func (o *ppoOpts) run(ctx context.Context, log io.Writer) error {
	if err := o.check(); err != nil {
		return err
	}
	o.cfg.Log = log
	o.cfg.MissingEOSPenalty = o.missingEOS
	o.cfg.Sampling.Temperature, o.cfg.Sampling.TopK, o.cfg.Sampling.TopP = o.temp, o.topK, o.topP
	pol, err := model.LoadDir(o.policy)
	if err != nil {
		return fmt.Errorf("--policy: %w", err)
	}
	tok, err := tokenizer.Load(o.policy)
	if err != nil {
		return fmt.Errorf("--policy: %w", err)
	}
	prompts, fields, err := loadPrompts(o.prompts, tok)
	if err != nil {
		return fmt.Errorf("--prompts: %w", err)
	}
	gc, err := readGenerationConfig(o.policy)
	if err != nil {
		return err
	}
	eos := eosIDs(pol.Cfg, gc, tok)
	if len(eos) == 0 {
		return fmt.Errorf("--policy: %s declares no EOS token (eos_token_id or the tokenizer's eos_token)", o.policy)
	}
	pad := int32(rewardmodel.ResolvePad(tok, pol.Cfg, int(eos[0])))
	scorer, err := rewardmodel.LoadScorer(o.rewardDir, "")
	if err != nil {
		return fmt.Errorf("--reward: %w", err)
	}
	if scorer.RM.Model.Cfg.Vocab != pol.Cfg.Vocab {
		return fmt.Errorf("--reward: %s has vocab_size %d but --policy has %d (the reward model must share the policy's tokenizer)",
			o.rewardDir, scorer.RM.Model.Cfg.Vocab, pol.Cfg.Vocab)
	}
	// Scoring in minibatch-sized chunks keeps the reward model's activations
	// within a training minibatch's.
	scorer.BatchSize = max(1, o.cfg.BatchSize/max(1, o.cfg.NumMiniBatches))
	roles := ppo.Roles{Policy: pol, Reward: &reward.RM{Scorer: scorer}}
	head := ppo.NewValueHead(pol.Cfg.Dim, o.cfg.Seed)
	if o.valueInit == "reward" {
		if len(scorer.RM.Head) != pol.Cfg.Dim && o.lora.enabled() {
			return fmt.Errorf("--value-init reward: the reward model's hidden size %d differs from the policy's %d, so its head cannot sit on the policy's base; use --value-init policy",
				len(scorer.RM.Head), pol.Cfg.Dim)
		}
		head = append([]float32(nil), scorer.RM.Head...)
	}
	if o.lora.enabled() {
		lc := model.LoRAConfig{R: o.lora.r, Alpha: o.lora.alpha, Targets: o.lora.targets}
		for i, set := range []string{"policy", "value"} {
			if err := pol.AttachLoRASet(set, lc, o.cfg.Seed+uint64(i)); err != nil {
				return fmt.Errorf("--lora-targets: %w", err)
			}
		}
		roles.PolicySet = "policy"
		roles.Value = &ppo.ValueModel{Model: pol, Set: "value", Head: head}
	} else {
		vm := pol.Clone()
		if o.valueInit == "reward" {
			vm = scorer.RM.Model.Clone()
		}
		roles.Value = &ppo.ValueModel{Model: vm, Head: head}
	}
	roles.Ref = policy.Reference(pol, o.lora.enabled())
	tr, err := ppo.New(o.cfg, roles, prompts, eos, pad)
	if err != nil {
		return err
	}
	tr.Fields = fields
	tr.Decode = func(ids []int32) string { return tok.Decode(toInts(ids)) }
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return fmt.Errorf("--out: %w", err)
	}
	if err := o.restore(tr, log); err != nil {
		return err
	}
	if err := o.writeConfig(); err != nil {
		return err
	}
	fmt.Fprintf(log, "ppo: %s; %d prompts; %d updates of %d; lora %v\n", pol.Cfg.Describe(), len(prompts), o.cfg.Updates, o.cfg.BatchSize, o.lora.enabled())
	return o.loop(ctx, tr, log, func(dir string) error { return o.saveModels(tr, dir) })
}

// writeConfig writes OUT/config.yaml: every flag as resolved, a valid
// --config for a rerun (as the offline trainers write it). Callers that fill
// ppoOpts without flags (the quickstart) have no flags to write.
func (o *ppoOpts) writeConfig() error {
	if o.config == nil {
		return nil
	}
	b, err := o.config.YAML()
	if err != nil {
		return err
	}
	if err := checkpoint.WriteAtomic(filepath.Join(o.out, "config.yaml"), func(w io.Writer) error {
		_, err := w.Write(b)
		return err
	}); err != nil {
		return fmt.Errorf("--out: %w", err)
	}
	return nil
}
