package main

import (
	"fmt"
	"io"
	"math"
	"path/filepath"

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
per-token KL penalty against the starting policy into the reward (--kl-estimator k1|k2|k3,
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
	fs.StringVar(&c.KLEstimator, "kl-estimator", c.KLEstimator, "per-token KL estimator: k1, k2 or k3")
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

func (o *ppoOpts) check() error {
	for _, f := range []struct{ name, v string }{{"--policy", o.policy}, {"--reward", o.rewardDir}, {"--prompts", o.prompts}} {
		if f.v == "" {
			return fmt.Errorf("%s is required", f.name)
		}
	}
	if o.valueInit != "reward" && o.valueInit != "policy" {
		return fmt.Errorf("--value-init %q: want reward or policy", o.valueInit)
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

// job builds PPO's training job for the shared loop: the four roles, the
// trainer as a train.RolloutObjective, its parameter sets and the saver.
func (o *ppoOpts) job(s train.Settings, log io.Writer) (*train.Job, error) {
	if err := o.check(); err != nil {
		return nil, err
	}
	c := &o.cfg
	c.Log, c.Seed, c.GradAccum = log, s.Seed, s.GradAccum
	c.BatchSize = s.BatchSize * s.GradAccum * c.NumMiniBatches
	c.MissingEOSPenalty = o.missingEOS
	c.Sampling.Temperature, c.Sampling.TopK, c.Sampling.TopP = o.temp, o.topK, o.topP
	c.Samples, c.SamplesEvery = filepath.Join(s.Out, "samples.jsonl"), o.sample
	pol, err := o.lora.loadBase(o.policy)
	if err != nil {
		return nil, fmt.Errorf("--policy: %w", err)
	}
	s.ConfigureModel(pol)
	tok, err := tokenizer.Load(o.policy)
	if err != nil {
		return nil, fmt.Errorf("--policy: %w", err)
	}
	prompts, fields, err := loadPrompts(o.prompts, tok)
	if err != nil {
		return nil, fmt.Errorf("--prompts: %w", err)
	}
	gc, err := readGenerationConfig(o.policy)
	if err != nil {
		return nil, err
	}
	eos := eosIDs(pol.Cfg, gc, tok)
	if len(eos) == 0 {
		return nil, fmt.Errorf("--policy: %s declares no EOS token (eos_token_id or the tokenizer's eos_token)", o.policy)
	}
	pad := int32(rewardmodel.ResolvePad(tok, pol.Cfg, int(eos[0])))
	// The reward model is frozen whatever trains: the load flags apply.
	rmOpt, err := o.lora.load.options()
	if err != nil {
		return nil, err
	}
	scorer, err := rewardmodel.LoadScorerOpts(o.rewardDir, "", rmOpt)
	if err != nil {
		return nil, fmt.Errorf("--reward: %w", err)
	}
	if scorer.RM.Model.Cfg.Vocab != pol.Cfg.Vocab {
		return nil, fmt.Errorf("--reward: %s has vocab_size %d but --policy has %d (the reward model must share the policy's tokenizer)",
			o.rewardDir, scorer.RM.Model.Cfg.Vocab, pol.Cfg.Vocab)
	}
	// Scoring in micro-batch-sized chunks keeps the reward model's
	// activations within a training micro-batch's.
	scorer.BatchSize = s.BatchSize
	roles := ppo.Roles{Policy: pol, Reward: &reward.RM{Scorer: scorer}}
	head := ppo.NewValueHead(pol.Cfg.Dim, c.Seed)
	if o.valueInit == "reward" {
		if len(scorer.RM.Head) != pol.Cfg.Dim && o.lora.enabled() {
			return nil, fmt.Errorf("--value-init reward: the reward model's hidden size %d differs from the policy's %d, so its head cannot sit on the policy's base; use --value-init policy",
				len(scorer.RM.Head), pol.Cfg.Dim)
		}
		head = append([]float32(nil), scorer.RM.Head...)
	}
	if o.lora.enabled() {
		lc := model.LoRAConfig{R: o.lora.r, Alpha: o.lora.alpha, Targets: o.lora.targets}
		for i, set := range []string{"policy", "value"} {
			if err := pol.AttachLoRASet(set, lc, c.Seed+uint64(i)); err != nil {
				return nil, fmt.Errorf("--lora-targets: %w", err)
			}
		}
		roles.PolicySet = "policy"
		roles.Value = &ppo.ValueModel{Model: pol, Set: "value", Head: head}
	} else {
		vm := pol.Clone()
		if o.valueInit == "reward" {
			vm = scorer.RM.Model.Clone()
		}
		s.ConfigureModel(vm)
		roles.Value = &ppo.ValueModel{Model: vm, Head: head}
	}
	roles.Ref = policy.Reference(pol, o.lora.enabled())
	tr, err := ppo.New(*c, roles, prompts, eos, pad)
	if err != nil {
		return nil, err
	}
	tr.Fields = fields
	tr.Decode = func(ids []int32) string { return tok.Decode(toInts(ids)) }
	fmt.Fprintf(log, "ppo: %s; %d prompts; rollouts of %d, %d updates each; lora %v\n", pol.Cfg.Describe(), len(prompts),
		c.BatchSize, c.NumPPOEpochs*c.NumMiniBatches, o.lora.enabled())
	return &train.Job{Settings: s, Objective: tr, Params: tr.ParamSets(), Log: log,
		Saver: train.SaverFunc(func(dir string) error { return o.saveModels(tr, dir) })}, nil
}

// saveModels writes the policy (PEFT adapters or a full HF model) with the
// tokenizer into dir and the value model into dir/value.
func (o *ppoOpts) saveModels(tr *ppo.Trainer, dir string) error {
	r := tr.Roles
	if r.PolicySet != "" {
		if err := r.Policy.SavePEFTSet(dir, o.policy, r.PolicySet); err != nil {
			return err
		}
	} else if err := r.Policy.SaveDir(dir, o.dtype); err != nil {
		return err
	}
	if err := copyTokenizerFiles(o.policy, o.policy, dir); err != nil {
		return err
	}
	return r.Value.Save(filepath.Join(dir, "value"), o.policy, o.dtype)
}
