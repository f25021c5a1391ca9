package grpo

import (
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/align-go/align/model"
	"github.com/align-go/align/option"
	"github.com/align-go/align/policy"
	"github.com/align-go/align/reward"
	"github.com/align-go/align/rl"
	"github.com/align-go/align/tokenizer"
	"github.com/align-go/align/train"
)

// JobOptions are a GRPO run's inputs (`align grpo`'s flags, named in errors).
type JobOptions struct {
	Policy, Prompts string // the SFT model, prompt rows
	Rewards         []reward.Func
	// RewardSpecs name Rewards in the log (default: their Name()).
	RewardSpecs []string
	Config      Config
	DType       string // saved weights without LoRA: F32, BF16 or F16
	LoRA        train.LoRA
}

// NewJob loads the policy (and, with Config.Beta > 0, its reference) and the
// prompts and builds GRPO's training job.
func NewJob(o JobOptions, s train.Settings, log io.Writer) (*train.Job, error) {
	if o.Policy == "" {
		return nil, option.Bad("grpo.JobOptions.Policy", "a model directory is required")
	}
	if o.Prompts == "" {
		return nil, option.Bad("grpo.JobOptions.Prompts", "a prompt file is required")
	}
	if err := train.CheckDType(o.DType); err != nil {
		return nil, &option.Error{Option: "grpo.JobOptions.DType", Err: err}
	}
	rows, err := rl.ReadPrompts(o.Prompts)
	if err != nil {
		return nil, option.Bad("grpo.JobOptions.Prompts", "%w", err)
	}
	rewards := o.Rewards
	if len(rewards) == 0 {
		return nil, option.Bad("grpo.JobOptions.Rewards", "at least one reward is required")
	}
	names := o.RewardSpecs
	if len(names) == 0 {
		for _, f := range rewards {
			names = append(names, f.Name())
		}
	}
	m, err := o.LoRA.LoadBase(o.Policy)
	if err != nil {
		return nil, option.Bad("grpo.JobOptions.Policy", "%w", err)
	}
	s.ConfigureModel(m)
	tok, err := tokenizer.Load(o.Policy)
	if err != nil {
		return nil, option.Bad("grpo.JobOptions.Policy", "%w", err)
	}
	eos, pad, err := rl.StopTokens(o.Policy, m.Cfg, tok)
	if err != nil {
		return nil, option.Bad("grpo.JobOptions.Policy", "%w", err)
	}
	prompts, err := rl.EncodePrompts(rows, tok, o.Config.MaxNewTokens, m.Cfg.MaxPos)
	if err != nil {
		return nil, option.Bad("grpo.JobOptions.Prompts", "%w", err)
	}
	var ref *model.Model
	if o.Config.Beta > 0 {
		ref = policy.Reference(m, o.LoRA.Enabled())
	}
	params, err := o.LoRA.Params(m, s.Seed)
	if err != nil {
		return nil, err
	}
	obj, err := New(o.Config, m, ref, rewards, prompts, eos, pad)
	if err != nil {
		return nil, err
	}
	obj.Decode = rl.Decoder(tok)
	obj.Log = log
	obj.Samples = filepath.Join(s.Out, "samples.jsonl")
	fmt.Fprintf(log, "grpo: %s; %d prompts × %d generations; rewards %s; loss %s, beta %g; lora %v\n",
		m.Cfg.Describe(), len(prompts), o.Config.NumGenerations, strings.Join(names, ", "), o.Config.LossType, o.Config.Beta, o.LoRA.Enabled())
	return &train.Job{
		Settings:  s,
		Objective: obj, // does its own LoRA dropout seeding (per step and micro-batch)
		Params:    params,
		Log:       log,
		Saver: train.SaverFunc(func(dir string) error {
			if err := o.LoRA.Save(m, dir, o.Policy, o.DType); err != nil {
				return err
			}
			return train.CopyTokenizerFiles(o.Policy, o.Policy, dir)
		}),
	}, nil
}
