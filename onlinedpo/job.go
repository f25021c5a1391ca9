package onlinedpo

import (
	"fmt"
	"io"
	"path/filepath"

	"github.com/align-go/align/option"
	"github.com/align-go/align/policy"
	"github.com/align-go/align/rl"
	"github.com/align-go/align/tokenizer"
	"github.com/align-go/align/train"
)

// JobOptions are an online DPO run's inputs (`align online-dpo`'s flags,
// named in errors).
type JobOptions struct {
	Policy, Prompts string // the SFT model, prompt rows
	Ranker          Ranker
	// RankerName describes Ranker in the log (default: its type).
	RankerName string
	Config     Config
	DType      string // saved weights without LoRA: F32, BF16 or F16
	LoRA       train.LoRA
}

// NewJob loads the policy and the prompts and builds online DPO's training
// job; the reference is a frozen copy of the policy, or with LoRA the same
// base with the adapters switched off.
func NewJob(o JobOptions, s train.Settings, log io.Writer) (*train.Job, error) {
	if o.Policy == "" {
		return nil, option.Bad("onlinedpo.JobOptions.Policy", "a model directory is required")
	}
	if o.Prompts == "" {
		return nil, option.Bad("onlinedpo.JobOptions.Prompts", "a prompt file is required")
	}
	if o.Ranker == nil {
		return nil, option.Bad("onlinedpo.JobOptions.Ranker", "required (a judge or a reward ranks the sampled pairs)")
	}
	if err := train.CheckDType(o.DType); err != nil {
		return nil, &option.Error{Option: "onlinedpo.JobOptions.DType", Err: err}
	}
	rows, err := rl.ReadPrompts(o.Prompts)
	if err != nil {
		return nil, option.Bad("onlinedpo.JobOptions.Prompts", "%w", err)
	}
	m, err := o.LoRA.LoadBase(o.Policy)
	if err != nil {
		return nil, option.Bad("onlinedpo.JobOptions.Policy", "%w", err)
	}
	s.ConfigureModel(m)
	tok, err := tokenizer.Load(o.Policy)
	if err != nil {
		return nil, option.Bad("onlinedpo.JobOptions.Policy", "%w", err)
	}
	eos, pad, err := rl.StopTokens(o.Policy, m.Cfg, tok)
	if err != nil {
		return nil, option.Bad("onlinedpo.JobOptions.Policy", "%w", err)
	}
	prompts, err := rl.EncodePrompts(rows, tok, o.Config.MaxNewTokens, m.Cfg.MaxPos)
	if err != nil {
		return nil, option.Bad("onlinedpo.JobOptions.Prompts", "%w", err)
	}
	ref := policy.Reference(m, o.LoRA.Enabled())
	params, err := o.LoRA.Params(m, s.Seed)
	if err != nil {
		return nil, err
	}
	obj, err := New(o.Config, m, ref, o.Ranker, prompts, eos, pad)
	if err != nil {
		return nil, err
	}
	obj.Decode = rl.Decoder(tok)
	obj.Samples = filepath.Join(s.Out, "samples.jsonl")
	name := o.RankerName
	if name == "" {
		name = fmt.Sprintf("%T", o.Ranker)
	}
	fmt.Fprintf(log, "online-dpo: %s; %d prompts; %s; loss %s, beta %g, missing-eos-penalty %g; lora %v\n",
		m.Cfg.Describe(), len(prompts), name, o.Config.Loss.LossType, o.Config.Loss.Beta, o.Config.MissingEOSPenalty, o.LoRA.Enabled())
	return o.LoRA.Job(s, log, m, obj, params, o.Policy, o.DType, o.Policy), nil
}
