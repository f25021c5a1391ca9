package main

import (
	"fmt"
	"io"

	"github.com/align-go/align/generate"
	"github.com/align-go/align/train"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// rolloutFlags are the flags of the trainers that sample from their policy
// every step (grpo, online-dpo): the policy and its prompts, sampling,
// samples.jsonl, the saved dtype and LoRA, with TRL's aliases for them. The
// rewards a run opens are closed when it ends (run).
type rolloutFlags struct {
	policy, prompts string
	dtype           string
	lora            *loraFlags
	closers         []io.Closer
}

// rolloutConfig points at a trainer Config's sampling fields, which the
// flags fill in (their defaults are the fields' values).
type rolloutConfig struct {
	Sampling                                 *generate.Sampling
	MaxNewTokens, GenBatchSize, SamplesEvery *int
	TemperatureHelp, SamplesWhat             string // the command's own wording
}

func addRolloutFlags(fs *pflag.FlagSet, c rolloutConfig) *rolloutFlags {
	f := &rolloutFlags{}
	fs.StringVar(&f.policy, "policy", "", "policy model directory (the SFT model; required)")
	fs.StringVar(&f.prompts, "prompts", "", `prompt file: JSONL/JSON/Parquet rows with "prompt" (required)`)
	fs.IntVar(c.MaxNewTokens, "max-new-tokens", *c.MaxNewTokens, "most tokens per completion (TRL max_completion_length)")
	fs.Float64Var(&c.Sampling.Temperature, "temperature", c.Sampling.Temperature, c.TemperatureHelp)
	fs.IntVar(&c.Sampling.TopK, "top-k", 0, "top-k filter (0: off)")
	fs.Float64Var(&c.Sampling.TopP, "top-p", 1, "nucleus filter (1: off)")
	fs.IntVar(c.GenBatchSize, "gen-batch-size", 0, "sequences decoded together (0: generate's default)")
	fs.IntVar(c.SamplesEvery, "sample-steps", 10, "append the step's "+c.SamplesWhat+" to OUT/samples.jsonl every N steps (0: never)")
	fs.StringVar(&f.dtype, "dtype", "F32", "saved weights dtype without LoRA: F32, BF16 or F16")
	f.lora = addLoRAFlags(fs)
	withAliases(fs, map[string]string{"model-name-or-path": "policy", "reward-funcs": "reward", "max-completion-length": "max-new-tokens"})
	return f
}

// run is runTrainer's RunE, closing every reward the build opened (a cmd:
// program, an HTTP client) however the run ended.
func (f *rolloutFlags) run(flags *trainFlags, build func(train.Settings, io.Writer) (*train.Job, error)) func(*cobra.Command, []string) error {
	run := runTrainer(flags, build, "policy")
	return func(cmd *cobra.Command, args []string) error {
		err := run(cmd, args)
		for _, c := range f.closers {
			if cerr := c.Close(); err == nil && cerr != nil {
				err = fmt.Errorf("closing a reward: %w", cerr)
			}
		}
		return err
	}
}
