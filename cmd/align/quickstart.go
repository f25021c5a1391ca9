package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/align-go/align/judge"
	"github.com/align-go/align/quickstart"
	"github.com/spf13/cobra"
)

func init() {
	var out, presetName, judgeSpec string
	var stages []string
	var seed uint64
	cmd := &cobra.Command{
		Use:   "quickstart [--out DIR] [--preset small|tiny|micro]",
		Short: "Run the whole pipeline on a generated assistant task with a gold reward",
		Long: `Generates an "assistant world" in code (small sums and differences, string edits, look-ups
in a fictional knowledge base, harmful requests that must be refused, polite and rude replies;
the pretraining corpus and SFT demonstrations keep some bad behaviour, as web text does) and runs
the whole pipeline on it: trains a tokenizer, pretrains a small base model, fine-tunes it (SFT,
with critique-and-revision demonstrations), trains a reward model on preference pairs, then DPO,
PPO against the reward model, GRPO with the programmatic gold reward, and Constitutional AI (the
SFT model critiques and revises its own answers under the shipped constitution and is fine-tuned
on the revisions). Every stage's model is sampled on held-out prompts and a red-team set never
trained on; the run ends with report.html and a table, one row per stage: the gold reward, the
share of correct and of polite answers, the red-team pass rate, a sampled KL to the SFT model,
the win-rate against SFT (judged in both orders), the reward model's score and held-out accuracy,
the mean length, and whether the stage beat the one it should (a stage that does not improve
says so).

--stages adds stages after these (not in the default run, which keeps to its time budget):
kto (KTO from the SFT model on the preference pairs split into unpaired rows), orpo (ORPO
from the base model, one stage without SFT), online-dpo-gold (online DPO from the SFT model,
pairs ranked by the gold reward) and online-dpo-cai (online DPO from the SFT model, pairs
judged in both orders under the shipped constitution's principles: online RLAIF); "all"
names the four.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			p, ok := quickstart.Presets[presetName]
			if !ok {
				return fmt.Errorf("--preset: %q (want small, tiny or micro)", presetName)
			}
			if len(stages) == 1 && stages[0] == "all" {
				stages = quickstart.ExtraStages
			}
			return runQuickstart(cmd.Context(), out, p, seed, judgeSpec, stages, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	cmd.Flags().StringVar(&out, "out", filepath.Join("runs", "quickstart"), "directory for every stage's data, models and logs (its stage subdirectories are replaced on each run)")
	cmd.Flags().StringVar(&presetName, "preset", "small", "size: small (the default; clear gains in about 6 minutes on 2 cores), tiny (a smoke run of every stage, about a minute) or micro (two steps a stage: a wiring check in seconds)")
	cmd.Flags().StringVar(&judgeSpec, "judge", "gold", "judge of the win-rates against SFT: gold (the task's gold reward), or http:URL[#MODEL] (an OpenAI-compatible endpoint), local:DIR, rule:refusal")
	cmd.Flags().StringSliceVar(&stages, "stages", nil, "extra stages to run after the default ones: kto, orpo, online-dpo-gold, online-dpo-cai, or all")
	cmd.Flags().Uint64Var(&seed, "seed", 1, "seed for the task, initialisation and sampling")
	rootCmd.AddCommand(cmd)
}

func runQuickstart(ctx context.Context, out string, p quickstart.Preset, seed uint64, judgeSpec string, stages []string, stdout, stderr io.Writer) error {
	start := time.Now()
	o := quickstart.Options{Out: out, Preset: p, Seed: seed, Stages: stages, Progress: stderr}
	if judgeSpec != "gold" {
		var err error
		if o.Judge, err = judge.Parse(judgeSpec); err != nil {
			return fmt.Errorf("--judge: %w", err)
		}
	}
	res, err := quickstart.Run(ctx, o)
	if err != nil {
		return err
	}
	quickstart.WriteTable(stdout, res.Rows)
	fmt.Fprintf(stdout, "\ntask data in %s, tokenizer in %s, logs in %s, table in %s, charts in %s;\n"+
		"%d held-out prompts and %d red-team prompts x %d samples at temperature 1; win-rate vs SFT judged by %s; total %s\n",
		res.Data, res.Tokenizer, res.Logs, res.Summary, res.Report, res.EvalPrompts,
		res.RedTeamPrompts, p.Samples, judgeSpec, time.Since(start).Round(time.Second))
	return nil
}
