package main

import (
	"context"
	"encoding/json"
	"os"

	"github.com/spf13/cobra"

	"github.com/align-go/align/eval"
)

type evalOpts struct {
	model, baseline, prompts, rm, judgeSpec, redTeam, redJudge, out string
	maxNew                                                          int
	temp                                                            float64
	seed                                                            uint64
	load                                                            *loadFlags // --model's and --baseline's weights
}

func init() {
	var o evalOpts
	cmd := &cobra.Command{
		Use:   "eval --model DIR --prompts FILE [--baseline DIR] [--reward RM_DIR] [--judge SPEC] [--red-team default|FILE] --out eval.json",
		Short: "Evaluate a model: reward, judged win-rate vs a baseline, red-team pass rate, length drift, diversity",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return o.run(cmd.Context()) },
	}
	f := cmd.Flags()
	f.StringVar(&o.model, "model", "", "model directory to evaluate")
	o.load = addLoadFlags(f)
	f.StringVar(&o.baseline, "baseline", "", "baseline model directory (normally the SFT model) for win-rate and length drift")
	f.StringVar(&o.prompts, "prompts", "", "held-out prompts (JSONL/JSON/Parquet with \"prompt\")")
	f.StringVar(&o.rm, "reward", "", "reward model directory: mean and std of its score")
	f.StringVar(&o.judgeSpec, "judge", "", "pairwise judge for win-rate (http:URL[#MODEL], local:DIR, rule:...)")
	f.StringVar(&o.redTeam, "red-team", "", `red-team prompts: "default" (the shipped set) or a text file, one prompt per line`)
	f.StringVar(&o.redJudge, "red-team-judge", "rule:refusal", "judge deciding whether a red-team response passes")
	f.IntVar(&o.maxNew, "max-new-tokens", 64, "completion length limit")
	f.Float64Var(&o.temp, "temperature", 1, "sampling temperature (0: greedy)")
	f.Uint64Var(&o.seed, "seed", 0, "sampling seed")
	f.StringVar(&o.out, "out", "eval.json", "output file")
	rootCmd.AddCommand(cmd)
}

func (o *evalOpts) run(ctx context.Context) error {
	lopt, err := o.load.options()
	if err != nil {
		return err
	}
	rep, err := eval.Run(ctx, eval.Options{Model: o.model, Baseline: o.baseline, Prompts: o.prompts, RewardModel: o.rm,
		Judge: o.judgeSpec, RedTeam: o.redTeam, RedTeamJudge: o.redJudge, MaxNewTokens: o.maxNew, Temperature: o.temp,
		Seed: o.seed, Load: lopt})
	if err != nil {
		return err
	}
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(o.out, append(b, '\n'), 0o644)
}
