package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"

	"github.com/align-go/align/eval"
	"github.com/align-go/align/grpo"
	"github.com/align-go/align/loss"
	"github.com/align-go/align/model"
	"github.com/align-go/align/onlinedpo"
	"github.com/align-go/align/option"
	"github.com/align-go/align/ppo"
	"github.com/align-go/align/pref"
	"github.com/align-go/align/pretrain"
	"github.com/align-go/align/sft"
	"github.com/align-go/align/train"
	"github.com/spf13/pflag"
)

// Every option optionFlags knows is a real field of the type it names, and
// every flag it maps to is a flag of some command: a renamed field or flag
// fails here instead of leaking a Go name to the user.
func TestOptionFlagsTable(t *testing.T) {
	types := map[string]reflect.Type{
		"sft.JobOptions": reflect.TypeFor[sft.JobOptions](), "pretrain.Options": reflect.TypeFor[pretrain.Options](),
		"pref.JobData": reflect.TypeFor[pref.JobData](), "pref.DPOOptions": reflect.TypeFor[pref.DPOOptions](),
		"pref.KTOOptions": reflect.TypeFor[pref.KTOOptions](), "loss.CPOConfig": reflect.TypeFor[loss.CPOConfig](),
		"ppo.JobOptions": reflect.TypeFor[ppo.JobOptions](), "grpo.JobOptions": reflect.TypeFor[grpo.JobOptions](),
		"onlinedpo.JobOptions": reflect.TypeFor[onlinedpo.JobOptions](), "train.LoRA": reflect.TypeFor[train.LoRA](), "train.Settings": reflect.TypeFor[train.Settings](),
		"eval.Options": reflect.TypeFor[eval.Options](),
	}
	flags := map[string]bool{}
	for _, c := range rootCmd.Commands() {
		c.Flags().VisitAll(func(f *pflag.Flag) { flags["--"+f.Name] = true })
	}
	for name, flag := range optionFlags {
		parts := strings.Split(name, ".")
		typ, ok := types[parts[0]+"."+parts[1]]
		if !ok {
			t.Errorf("%s: type %s.%s not listed in this test", name, parts[0], parts[1])
			continue
		}
		for _, f := range parts[2:] {
			sf, ok := typ.FieldByName(f)
			if !ok {
				t.Errorf("%s: %s has no field %s", name, typ, f)
				break
			}
			typ = sf.Type
		}
		for _, fl := range strings.Split(flag, "/") {
			if !flags[fl] {
				t.Errorf("%s maps to %s, which no command defines", name, fl)
			}
		}
	}
}

// A Go caller of the job builders and of eval.Run reads the Go option it got
// wrong (as an option.Error), and flagError turns the same error into the flag.
func TestJobErrorsNameOptionsThenFlags(t *testing.T) {
	s := train.DefaultSettings()
	s.Out = t.TempDir()
	build := func(f func() (*train.Job, error)) error { _, err := f(); return err }
	evalErr := func(o eval.Options) error { _, err := eval.Run(context.Background(), o); return err }
	noBatch := train.DefaultSettings()
	noBatch.Out, noBatch.BatchSize = "o", 0
	tests := []struct {
		name             string
		err              error
		option, flagText string
	}{
		{"sft model", build(func() (*train.Job, error) { return sft.NewJob(sft.JobOptions{}, s, io.Discard) }),
			"sft.JobOptions.Model", "--model: a model directory is required"},
		{"sft loss-on", build(func() (*train.Job, error) {
			return sft.NewJob(sft.JobOptions{Model: "m", Data: []string{"d"}, LossOn: "everything"}, s, io.Discard)
		}), "sft.JobOptions.LossOn", `--loss-on: "everything" (want completion, assistant or all)`},
		{"pretrain one of", build(func() (*train.Job, error) { return pretrain.NewJob(pretrain.Options{}, s, io.Discard) }),
			"pretrain.Options.Model", "--model: give exactly one of it (a model directory) and --model-config (a config.json)"},
		{"dpo max length", build(func() (*train.Job, error) {
			return pref.NewDPOJob(pref.DPOOptions{JobData: pref.JobData{Model: "m", Data: "d", MaxLength: 1, DType: "F32"}}, s, io.Discard)
		}), "pref.JobData.MaxLength", "--max-length: 1 must be at least 2"},
		{"dpo dtype", build(func() (*train.Job, error) {
			return pref.NewDPOJob(pref.DPOOptions{JobData: pref.JobData{Model: "m", Data: "d", MaxLength: 8, DType: "FP8"}}, s, io.Discard)
		}), "pref.JobData.DType", `--dtype: "FP8" (want F32, BF16 or F16)`},
		{"grpo prompts", build(func() (*train.Job, error) { return grpo.NewJob(grpo.JobOptions{Policy: "p"}, s, io.Discard) }),
			"grpo.JobOptions.Prompts", "--prompts: a prompt file is required"},
		{"ppo reward", build(func() (*train.Job, error) {
			return ppo.NewJob(ppo.JobOptions{Policy: "p", Prompts: "x", ValueInit: "reward", DType: "F32"}, s, io.Discard)
		}), "ppo.JobOptions.RewardModel", "--reward: required"},
		{"full fine-tune on 8-bit weights", build(func() (*train.Job, error) {
			return sft.NewJob(sft.JobOptions{Model: "m", Data: []string{"d"}, LossOn: sft.LossCompletion, Truncation: sft.TruncateRight,
				DType: "F32", LoRA: train.LoRA{Load: model.LoadOptions{WeightDType: "int8"}}}, s, io.Discard)
		}), "train.LoRA.Load", "--load-in-8bit/--load-in-4bit: quantised weights are frozen; train adapters on them (--lora-r > 0)"},
		{"settings", noBatch.Validate(), "train.Settings.BatchSize", "--batch-size: 0 must be positive"},
		{"online dpo ranker", build(func() (*train.Job, error) {
			return onlinedpo.NewJob(onlinedpo.JobOptions{Policy: "p", Prompts: "x"}, s, io.Discard)
		}), "onlinedpo.JobOptions.Ranker", "--judge/--reward: required (a judge or a reward ranks the sampled pairs)"},
		{"eval model", evalErr(eval.Options{Prompts: "p"}), "eval.Options.Model", "--model: a model directory is required"},
		{"eval prompts", evalErr(eval.Options{Model: "m"}), "eval.Options.Prompts", "--prompts: a prompt file is required"},
		{"eval judge without baseline", evalErr(eval.Options{Model: "m", Prompts: "p", Judge: "rule:length"}),
			"eval.Options.Judge", "--judge: compares against --baseline, which is missing"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var oe *option.Error
			if !errors.As(tc.err, &oe) || oe.Option != tc.option {
				t.Fatalf("error %v: want an option.Error for %s", tc.err, tc.option)
			}
			if strings.Contains(tc.err.Error(), "--") || !strings.HasPrefix(tc.err.Error(), tc.option+": ") {
				t.Errorf("library error %q should name %s and no flag", tc.err, tc.option)
			}
			// Wrapped, as quickstart wraps a stage's error.
			if got := flagError(fmt.Errorf("stage: %w", tc.err)).Error(); got != "stage: "+tc.flagText {
				t.Errorf("CLI error %q, want %q", got, "stage: "+tc.flagText)
			}
		})
	}
	if err := errors.New("plain"); flagError(err) != err {
		t.Error("an error naming no option must come back as it is")
	}
}
