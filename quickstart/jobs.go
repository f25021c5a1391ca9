package quickstart

import (
	"io"

	"github.com/align-go/align/grpo"
	"github.com/align-go/align/ppo"
	"github.com/align-go/align/pref"
	"github.com/align-go/align/pretrain"
	"github.com/align-go/align/sft"
	"github.com/align-go/align/train"
)

// Jobs are the Trainers Run uses when Options.Trainers is nil: the job
// builders `align pretrain`, `sft`, `rm`, `dpo`, `ppo` and `grpo` call, so
// each stage runs what its command would with the same flags.
type Jobs struct{}

var _ Trainers = Jobs{}

func (Jobs) Pretrain(sp PretrainSpec, s train.Settings, log io.Writer) (*train.Job, error) {
	return pretrain.NewJob(pretrain.Options{ModelConfig: sp.ModelConfig, Tokenizer: sp.Tokenizer, Text: sp.Text,
		SeqLen: sp.SeqLen, DType: sp.DType}, s, log)
}

func (Jobs) SFT(sp SFTSpec, s train.Settings, log io.Writer) (*train.Job, error) {
	return sft.NewJob(sft.JobOptions{Model: sp.Model, Data: sp.Data, LossOn: sft.LossOn(sp.LossOn),
		Truncation: sft.Truncation(sp.Truncation), MaxLength: sp.MaxLength, DType: sp.DType}, s, log)
}

func jobData(sp PrefSpec) pref.JobData {
	return pref.JobData{Model: sp.Model, Data: sp.Data, EvalData: sp.EvalData, MaxLength: sp.MaxLength, DType: sp.DType}
}

func (Jobs) RewardModel(sp PrefSpec, s train.Settings, log io.Writer) (*train.Job, error) {
	return pref.NewRMJob(pref.RMOptions{JobData: jobData(sp)}, s, log)
}

func (Jobs) DPO(sp DPOSpec, s train.Settings, log io.Writer) (*train.Job, error) {
	return pref.NewDPOJob(pref.DPOOptions{JobData: jobData(sp.PrefSpec), Config: sp.Config}, s, log)
}

func (Jobs) PPO(sp PPOSpec, s train.Settings, log io.Writer) (*train.Job, error) {
	return ppo.NewJob(ppo.JobOptions{Policy: sp.Policy, RewardModel: sp.RewardModel, Prompts: sp.Prompts,
		ValueInit: sp.ValueInit, Config: sp.Config, MissingEOS: sp.MissingEOS, DType: sp.DType,
		SampleEvery: sp.SampleEvery, TopP: sp.TopP, Temperature: sp.Temperature}, s, log)
}

func (Jobs) GRPO(sp GRPOSpec, s train.Settings, log io.Writer) (*train.Job, error) {
	return grpo.NewJob(grpo.JobOptions{Policy: sp.Policy, Prompts: sp.Prompts, Rewards: sp.Rewards, Config: sp.Config,
		DType: sp.DType}, s, log)
}
