package main

import (
	"errors"
	"regexp"
	"sort"
	"strings"
)

// optionFlags maps the library's job options (named by their Go fields in
// errors: option.Error, which train's job builders return as
// option.Error, and eval.Run) to the flags that set them, so the user reads
// the flag. It is the only place the two namings meet.
var optionFlags = map[string]string{
	"sft.JobOptions.Model":      "--model",
	"sft.JobOptions.Data":       "--data",
	"sft.JobOptions.LossOn":     "--loss-on",
	"sft.JobOptions.Truncation": "--truncation",
	"sft.JobOptions.Packing":    "--packing",
	"sft.JobOptions.DType":      "--dtype",

	"pretrain.Options.Model":        "--model",
	"pretrain.Options.ModelConfig":  "--model-config",
	"pretrain.Options.Tokenizer":    "--tokenizer",
	"pretrain.Options.Text":         "--text",
	"pretrain.Options.EvalText":     "--eval-text",
	"pretrain.Options.EvalFraction": "--eval-fraction",
	"pretrain.Options.SeqLen":       "--seq-len",
	"pretrain.Options.DType":        "--dtype",

	"pref.JobData.Model":              "--model",
	"pref.JobData.Data":               "--data",
	"pref.JobData.EvalData":           "--eval-data",
	"pref.JobData.EvalFraction":       "--eval-fraction",
	"pref.JobData.MaxLength":          "--max-length",
	"pref.JobData.DType":              "--dtype",
	"pref.DPOOptions.Ref":             "--ref",
	"pref.DPOOptions.Config.LossType": "--loss",
	"pref.KTOOptions.Ref":             "--ref",
	"pref.KTOOptions.Config.LossType": "--loss",
	"loss.CPOConfig.LossType":         "--loss",

	"ppo.JobOptions.Policy":       "--policy",
	"ppo.JobOptions.RewardModel":  "--reward",
	"ppo.JobOptions.Prompts":      "--prompts",
	"ppo.JobOptions.ValueInit":    "--value-init",
	"ppo.JobOptions.DType":        "--dtype",
	"ppo.JobOptions.LoRA.Targets": "--lora-targets",

	"grpo.JobOptions.Policy":  "--policy",
	"grpo.JobOptions.Prompts": "--prompts",
	"grpo.JobOptions.Rewards": "--reward",
	"grpo.JobOptions.DType":   "--dtype",

	"onlinedpo.JobOptions.Policy":  "--policy",
	"onlinedpo.JobOptions.Prompts": "--prompts",
	"onlinedpo.JobOptions.Ranker":  "--judge/--reward",
	"onlinedpo.JobOptions.DType":   "--dtype",

	"eval.Options.Model":        "--model",
	"eval.Options.Prompts":      "--prompts",
	"eval.Options.Baseline":     "--baseline",
	"eval.Options.RewardModel":  "--reward",
	"eval.Options.Judge":        "--judge",
	"eval.Options.RedTeam":      "--red-team",
	"eval.Options.RedTeamJudge": "--red-team-judge",

	"train.LoRA.Targets":            "--lora-targets",
	"train.Settings.Out":            "--out",
	"train.Settings.Epochs":         "--epochs",
	"train.Settings.MaxSteps":       "--max-steps",
	"train.Settings.BatchSize":      "--batch-size",
	"train.Settings.GradAccum":      "--grad-accum",
	"train.Settings.LR":             "--lr",
	"train.Settings.LRScheduler":    "--lr-scheduler",
	"train.Settings.WarmupSteps":    "--warmup-steps",
	"train.Settings.WarmupRatio":    "--warmup-ratio",
	"train.Settings.WeightDecay":    "--weight-decay",
	"train.Settings.AdamBeta1":      "--adam-beta1",
	"train.Settings.AdamBeta2":      "--adam-beta2",
	"train.Settings.AdamEpsilon":    "--adam-epsilon",
	"train.Settings.MaxGradNorm":    "--max-grad-norm",
	"train.Settings.LoggingSteps":   "--logging-steps",
	"train.Settings.EvalSteps":      "--eval-steps",
	"train.Settings.SaveSteps":      "--save-steps",
	"train.Settings.SaveTotalLimit": "--save-total-limit",
	"train.Settings.Resume":         "--resume",
	"train.LoRA.Load":               "--load-in-8bit/--load-in-4bit",
	"train.LoRA.R":                  "--lora-r",
}

// optionNames matches the option names optionFlags knows, each whole
// (longest first, so a name is never taken for a shorter one it starts with).
var optionNames = func() *regexp.Regexp {
	names := make([]string, 0, len(optionFlags))
	for k := range optionFlags {
		names = append(names, regexp.QuoteMeta(k))
	}
	sort.Slice(names, func(i, j int) bool { return len(names[i]) > len(names[j]) })
	return regexp.MustCompile(`\b(` + strings.Join(names, "|") + `)\b`)
}()

// flagError rewrites the job options an error names into their flags.
// Errors that name no option come back unchanged.
func flagError(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	out := optionNames.ReplaceAllStringFunc(msg, func(name string) string { return optionFlags[name] })
	if out == msg {
		return err
	}
	return errors.New(out)
}
