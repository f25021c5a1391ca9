package ppo

import (
	"fmt"
	"io"
	"path/filepath"

	"github.com/align-go/align/model"
	"github.com/align-go/align/option"
	"github.com/align-go/align/policy"
	"github.com/align-go/align/reward"
	"github.com/align-go/align/rewardmodel"
	"github.com/align-go/align/rl"
	"github.com/align-go/align/tokenizer"
	"github.com/align-go/align/train"
)

// JobOptions are a PPO run's inputs (`align ppo`'s flags, named in errors).
type JobOptions struct {
	Policy, RewardModel, Prompts string // the SFT model, the reward model, prompt rows
	ValueInit                    string // value model from the reward model ("reward") or the policy ("policy")
	Config                       Config
	MissingEOS                   float64 // penalty on completions without EOS (NaN: none)
	DType                        string  // saved weights: F32, BF16 or F16
	SampleEvery                  int     // append completions to samples.jsonl every N updates
	LoRA                         train.LoRA
	TopK                         int
	TopP, Temperature            float64
}

func (o *JobOptions) check() error {
	for _, f := range []struct{ name, v string }{{"Policy", o.Policy}, {"RewardModel", o.RewardModel}, {"Prompts", o.Prompts}} {
		if f.v == "" {
			return option.Bad("ppo.JobOptions."+f.name, "required")
		}
	}
	if o.ValueInit != "reward" && o.ValueInit != "policy" {
		return option.Bad("ppo.JobOptions.ValueInit", "%q: want reward or policy", o.ValueInit)
	}
	if err := train.CheckDType(o.DType); err != nil {
		return &option.Error{Option: "ppo.JobOptions.DType", Err: err}
	}
	return nil
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

// NewJob builds PPO's training job for the shared loop: the four roles, the
// trainer as a train.RolloutObjective, its parameter sets and the saver.
func NewJob(o JobOptions, s train.Settings, log io.Writer) (*train.Job, error) {
	if err := o.check(); err != nil {
		return nil, err
	}
	c := &o.Config
	c.Log, c.Seed, c.GradAccum = log, s.Seed, s.GradAccum
	c.BatchSize = s.BatchSize * s.GradAccum * c.NumMiniBatches
	c.MissingEOSPenalty = o.MissingEOS
	c.Sampling.Temperature, c.Sampling.TopK, c.Sampling.TopP = o.Temperature, o.TopK, o.TopP
	c.Samples, c.SamplesEvery = filepath.Join(s.Out, "samples.jsonl"), o.SampleEvery
	pol, err := o.LoRA.LoadBase(o.Policy)
	if err != nil {
		return nil, option.Bad("ppo.JobOptions.Policy", "%w", err)
	}
	s.ConfigureModel(pol)
	tok, err := tokenizer.Load(o.Policy)
	if err != nil {
		return nil, option.Bad("ppo.JobOptions.Policy", "%w", err)
	}
	prompts, fields, err := loadPrompts(o.Prompts, tok)
	if err != nil {
		return nil, option.Bad("ppo.JobOptions.Prompts", "%w", err)
	}
	eos, pad, err := rl.StopTokens(o.Policy, pol.Cfg, tok)
	if err != nil {
		return nil, option.Bad("ppo.JobOptions.Policy", "%w", err)
	}
	// The reward model is frozen whatever trains: the load options apply.
	scorer, err := rewardmodel.LoadScorerOpts(o.RewardModel, "", o.LoRA.Load)
	if err != nil {
		return nil, option.Bad("ppo.JobOptions.RewardModel", "%w", err)
	}
	if scorer.RM.Model.Cfg.Vocab != pol.Cfg.Vocab {
		return nil, option.Bad("ppo.JobOptions.RewardModel", "%s has vocab_size %d but the policy has %d (the reward model must share the policy's tokenizer)",
			o.RewardModel, scorer.RM.Model.Cfg.Vocab, pol.Cfg.Vocab)
	}
	// Scoring in micro-batch-sized chunks keeps the reward model's
	// activations within a training micro-batch's.
	scorer.BatchSize = s.BatchSize
	roles := Roles{Policy: pol, Reward: &reward.RM{Scorer: scorer}}
	head := NewValueHead(pol.Cfg.Dim, c.Seed)
	if o.ValueInit == "reward" {
		if len(scorer.RM.Head) != pol.Cfg.Dim && o.LoRA.Enabled() {
			return nil, option.Bad("ppo.JobOptions.ValueInit", "reward: the reward model's hidden size %d differs from the policy's %d, so its head cannot sit on the policy's base; use policy",
				len(scorer.RM.Head), pol.Cfg.Dim)
		}
		head = append([]float32(nil), scorer.RM.Head...)
	}
	if o.LoRA.Enabled() {
		lc := model.LoRAConfig{R: o.LoRA.R, Alpha: o.LoRA.Alpha, Targets: o.LoRA.Targets}
		for i, set := range []string{"policy", "value"} {
			if err := pol.AttachLoRASet(set, lc, c.Seed+uint64(i)); err != nil {
				return nil, option.Bad("ppo.JobOptions.LoRA.Targets", "%w", err)
			}
		}
		roles.PolicySet = "policy"
		roles.Value = &ValueModel{Model: pol, Set: "value", Head: head}
	} else {
		vm := pol.Clone()
		if o.ValueInit == "reward" {
			vm = scorer.RM.Model.Clone()
		}
		s.ConfigureModel(vm)
		roles.Value = &ValueModel{Model: vm, Head: head}
	}
	roles.Ref = policy.Reference(pol, o.LoRA.Enabled())
	tr, err := New(*c, roles, prompts, eos, pad)
	if err != nil {
		return nil, err
	}
	tr.Fields = fields
	tr.Decode = rl.Decoder(tok)
	fmt.Fprintf(log, "ppo: %s; %d prompts; rollouts of %d, %d updates each; lora %v\n", pol.Cfg.Describe(), len(prompts),
		c.BatchSize, c.NumPPOEpochs*c.NumMiniBatches, o.LoRA.Enabled())
	return &train.Job{Settings: s, Objective: tr, Params: tr.ParamSets(), Log: log,
		Saver: train.SaverFunc(func(dir string) error { return o.saveModels(tr, dir) })}, nil
}

// saveModels writes the policy (PEFT adapters or a full HF model) with the
// tokenizer into dir and the value model into dir/value.
func (o *JobOptions) saveModels(tr *Trainer, dir string) error {
	r := tr.Roles
	if r.PolicySet != "" {
		if err := r.Policy.SavePEFTSet(dir, o.Policy, r.PolicySet); err != nil {
			return err
		}
	} else if err := r.Policy.SaveDir(dir, o.DType); err != nil {
		return err
	}
	if err := train.CopyTokenizerFiles(o.Policy, o.Policy, dir); err != nil {
		return err
	}
	return r.Value.Save(filepath.Join(dir, "value"), o.Policy, o.DType)
}
