package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/signal"

	"github.com/align-go/align/cai"
	"github.com/align-go/align/chat"
	"github.com/align-go/align/data"
	"github.com/align-go/align/generate"
	"github.com/spf13/cobra"
)

func init() {
	caiCmd := &cobra.Command{
		Use:   "cai",
		Short: "Constitutional AI: critique-and-revise data (revise) and RLAIF preference labels (label)",
	}
	caiCmd.AddCommand(caiReviseCmd(), caiLabelCmd(), caiConstitutionCmd())
	rootCmd.AddCommand(caiCmd)
}

// caiSampling holds the sampling flags revise shares with align generate.
type caiSampling struct {
	maxNew int
	temp   float64
	topP   float64
	stop   []string
}

func (s *caiSampling) register(cmd *cobra.Command) {
	f := cmd.Flags()
	f.IntVar(&s.maxNew, "max-new-tokens", 128, "most tokens generated per answer, critique and revision")
	f.Float64Var(&s.temp, "temperature", 0, "sampling temperature; 0 = greedy")
	f.Float64Var(&s.topP, "top-p", 1, "nucleus sampling mass; 1 = off")
	f.StringArrayVar(&s.stop, "stop", nil, "stop string, cut from the text (repeatable)")
}

func (s *caiSampling) options() (cai.Sampling, error) {
	if s.maxNew <= 0 {
		return cai.Sampling{}, fmt.Errorf("--max-new-tokens %d: want > 0", s.maxNew)
	}
	if err := (generate.Sampling{Temperature: s.temp, TopP: s.topP}).Validate(); err != nil {
		return cai.Sampling{}, fmt.Errorf("sampling flags: %w", err)
	}
	return cai.Sampling{MaxTokens: s.maxNew, Temperature: s.temp, TopP: s.topP, Stop: s.stop}, nil
}

// interruptible cancels its context on Ctrl-C, so a run stops between
// batches with everything finished so far on disk.
func interruptible() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt)
}

func caiReviseCmd() *cobra.Command {
	var o struct {
		policy, constitution, prompts, out string
		rounds, batch                      int
		seed                               uint64
		s                                  caiSampling
		load                               *loadFlags // a local --policy's weights
	}
	cmd := &cobra.Command{
		Use:   "revise --policy (DIR | http:URL) --prompts FILE --out DIR [--constitution FILE] [--rounds N]",
		Short: "Answer prompts, then critique and revise each answer under randomly drawn principles",
		Long: `For each prompt the policy answers; then, --rounds times, it critiques its
current answer under a principle drawn at random (seeded) from the constitution
and revises it. The turns are chat messages (the constitution's few-shot
examples first), so any chat model or OpenAI-compatible endpoint works.

OUT/sft.jsonl        {"prompt": [...], "completion": [{"role": "assistant", ...}]}: prompt → final revision (align sft)
OUT/preferences.jsonl {"prompt", "chosen": final revision, "rejected": initial answer} (align dpo, align rm)
OUT/revisions.jsonl  every answer, critique and revision, with the principle used

Prompts are processed --batch-size at a time and written as each batch
finishes; re-running with the same --out skips prompts already done.
--constitution default (the default) is Align's harmlessness and honesty
constitution; 'align cai constitution' prints it.

A local policy only generates, so its weights need not be f32: --torch-dtype
(auto keeps a bf16/f16 checkpoint as stored), --load-in-8bit and
--load-in-4bit store them compactly, as in align generate (the flags below say
what each costs in accuracy). An http: policy's server decides its own.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.rounds <= 0 {
				return fmt.Errorf("--rounds %d: want > 0", o.rounds)
			}
			if o.batch <= 0 {
				return fmt.Errorf("--batch-size %d: want > 0", o.batch)
			}
			samp, err := o.s.options()
			if err != nil {
				return err
			}
			lopt, err := o.load.options()
			if err != nil {
				return err
			}
			con, err := cai.Load(o.constitution)
			if err != nil {
				return err
			}
			rows, _, err := data.ReadPrompts(o.prompts, data.Options{})
			if err != nil {
				return err
			}
			out, err := cai.OpenOutput(o.out)
			if err != nil {
				return err
			}
			defer out.Close()
			var todo []cai.Prompt
			for i, r := range rows {
				if !out.Done[i] {
					todo = append(todo, cai.Prompt{Index: i, Messages: promptMessages(r)})
				}
			}
			if len(todo) < len(rows) {
				fmt.Fprintf(cmd.ErrOrStderr(), "resuming: %d of %d prompts already done\n", len(rows)-len(todo), len(rows))
			}
			if len(todo) == 0 {
				return nil
			}
			client, closeClient, err := openClient(o.policy, o.batch, lopt)
			if err != nil {
				return err
			}
			defer closeClient()
			ctx, stop := interruptible()
			defer stop()
			opts := cai.ReviseOptions{Rounds: o.rounds, Seed: o.seed, Sampling: samp}
			for len(todo) > 0 {
				n := min(o.batch, len(todo))
				revs, err := cai.Revise(ctx, client, con, todo[:n], opts)
				if err != nil {
					return err
				}
				if err := out.Write(revs); err != nil {
					return err
				}
				todo = todo[n:]
				fmt.Fprintf(cmd.ErrOrStderr(), "%d/%d prompts revised\n", len(out.Done), len(rows))
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "wrote %d sft rows and %d preference pairs to %s\n", out.SFTRows, out.PrefRows, o.out)
			return out.Close()
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.policy, "policy", "", "model directory, or http:URL of an OpenAI-compatible endpoint")
	f.StringVar(&o.constitution, "constitution", "default", "constitution YAML or JSON file")
	f.StringVar(&o.prompts, "prompts", "", `prompt rows: {"prompt": STR} or {"prompt": [messages]} (JSONL, JSON, Parquet)`)
	f.StringVar(&o.out, "out", "", "output directory")
	f.IntVar(&o.rounds, "rounds", 1, "critique → revision rounds per prompt")
	f.IntVar(&o.batch, "batch-size", 16, "prompts sent to the policy together (and written together)")
	f.Uint64Var(&o.seed, "seed", 0, "draws the principles and the sampling seeds")
	o.s.register(cmd)
	o.load = addLoadFlags(f)
	for _, n := range []string{"policy", "prompts", "out"} {
		cmd.MarkFlagRequired(n)
	}
	return cmd
}

// promptMessages gives a plain prompt as one user turn: the critique loop is
// a conversation.
func promptMessages(r data.PromptExample) []chat.Message {
	if !r.Conversational {
		return []chat.Message{{Role: "user", Content: r.PromptText}}
	}
	return r.Prompt
}

func caiLabelCmd() *cobra.Command {
	var o struct {
		judge, constitution, data, out string
		batch                          int
		seed                           uint64
		load                           *loadFlags // a local: judge's weights
	}
	cmd := &cobra.Command{
		Use:   "label --judge SPEC --data pairs.jsonl --out FILE [--constitution FILE]",
		Short: "RLAIF: a judge picks the better of two responses under a random principle, in both orders",
		Long: `Each pair's two responses (the chosen and rejected columns of a preference
file, whose existing labels are ignored) are shown to the judge in both orders
under a principle drawn at random (seeded) from the constitution. The judge's
probabilities are averaged over the two orders, which cancels position bias:
p = (P(A | A first) + 1 - P(B | B first)) / 2.

The output is preference data for align dpo and align rm: chosen is the side
with p > 0.5, plus the extra columns p_chosen (the soft label, which align rm
and align dpo train on), principle and consistent (whether both orders
agreed). Ties (p = 0.5) are left out and counted.

A local:DIR judge loads with the load flags (--torch-dtype, --load-in-8bit,
--load-in-4bit, ...), as align online-dpo's and align eval's local: judges take
their command's; http: and rule: judges ignore them.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.batch <= 0 {
				return fmt.Errorf("--batch-size %d: want > 0", o.batch)
			}
			lopt, err := o.load.options()
			if err != nil {
				return err
			}
			con, err := cai.Load(o.constitution)
			if err != nil {
				return err
			}
			rows, _, err := data.ReadPreference(o.data, data.Options{})
			if err != nil {
				return err
			}
			pairs := make([]cai.Pair, len(rows))
			for i, r := range rows {
				if pairs[i], err = preferencePair(i, r); err != nil {
					return err
				}
			}
			j, err := openJudge(o.judge, lopt)
			if err != nil {
				return err
			}
			f, err := os.Create(o.out)
			if err != nil {
				return err
			}
			defer f.Close()
			enc := json.NewEncoder(f)
			enc.SetEscapeHTML(false)
			ctx, stop := interruptible()
			defer stop()
			var written, ties, inconsistent int
			var sumP float64
			for start := 0; start < len(pairs); start += o.batch {
				batch := pairs[start:min(start+o.batch, len(pairs))]
				ls, err := cai.LabelPairs(ctx, j, con, batch, cai.LabelOptions{Seed: o.seed})
				if err != nil {
					return err
				}
				for k, l := range ls {
					if l.Inconsistent {
						inconsistent++
					}
					row := l.Row(batch[k])
					if row == nil {
						ties++
						continue
					}
					if err := enc.Encode(row); err != nil {
						return err
					}
					written++
					sumP += *row.PChosen
				}
			}
			mean := math.NaN()
			if written > 0 {
				mean = sumP / float64(written)
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "labelled %d pairs: %d written (mean p_chosen %.3f), %d ties left out, %d inconsistent between orders\n",
				len(pairs), written, mean, ties, inconsistent)
			return f.Close()
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.judge, "judge", "", "judge spec: "+judgeSpecHelp)
	f.StringVar(&o.constitution, "constitution", "default", "constitution YAML or JSON file")
	f.StringVar(&o.data, "data", "", "preference pairs (chosen/rejected columns; JSONL, JSON, Parquet)")
	f.StringVar(&o.out, "out", "", "output JSONL of preference rows")
	f.IntVar(&o.batch, "batch-size", 16, "pairs sent to the judge together")
	f.Uint64Var(&o.seed, "seed", 0, "draws each pair's principle")
	o.load = addLoadFlags(f)
	for _, n := range []string{"judge", "data", "out"} {
		cmd.MarkFlagRequired(n)
	}
	return cmd
}

// preferencePair takes a preference row's two responses as A and B.
func preferencePair(i int, r data.PreferenceExample) (cai.Pair, error) {
	if !r.Conversational {
		return cai.Pair{Index: i, Prompt: []chat.Message{{Role: "user", Content: r.PromptText}}, A: r.ChosenText, B: r.RejectedText}, nil
	}
	if len(r.Chosen) != 1 || len(r.Rejected) != 1 {
		return cai.Pair{}, fmt.Errorf("%s: responses of %d and %d turns: only single-turn responses can be judged", r.Loc, len(r.Chosen), len(r.Rejected))
	}
	return cai.Pair{Index: i, Prompt: r.Prompt, A: r.Chosen[0].Content, B: r.Rejected[0].Content}, nil
}

func caiConstitutionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "constitution",
		Short: "Print the default constitution (YAML), to start your own from",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			_, err := cmd.OutOrStdout().Write(cai.DefaultYAML())
			return err
		},
	}
}
