package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/align-go/align/rewardmodel"
	"github.com/spf13/cobra"
)

type scoreOpts struct {
	model, tokenizer, data, out string
	batchSize, maxLength        int
	load                        *loadFlags
}

func init() {
	var o scoreOpts
	cmd := &cobra.Command{
		Use:   "score --model RM_DIR --data FILE.jsonl",
		Short: "Score responses with a reward model; writes each row back with its reward",
		Long: `Reads JSONL rows of one of these forms and writes each row back, its fields in order,
with the reward added:
  {"prompt", "completion"} or {"prompt", "response"}  -> "reward"
  {"messages": [..., assistant turn(s)]}              -> "reward" (the trailing assistant turns are the response)
  {"prompt"?, "chosen", "rejected"}                   -> "reward_chosen", "reward_rejected"
Prompts and responses may be strings or message lists (rendered with the chat template).
Sequences are encoded exactly as align rm trains on them: prompt, response, EOS.`,
		Args: cobra.NoArgs,
	}
	fs := cmd.Flags()
	fs.StringVar(&o.model, "model", "", "reward model directory (align rm's output or an HF sequence classifier with one label)")
	fs.StringVar(&o.tokenizer, "tokenizer", "", "tokenizer directory (default: --model)")
	fs.StringVar(&o.data, "data", "", "JSONL file of rows to score")
	fs.StringVar(&o.out, "out", "", "output JSONL file (default: stdout)")
	fs.IntVar(&o.batchSize, "batch-size", 8, "sequences per forward pass")
	fs.IntVar(&o.maxLength, "max-length", 0, "longer sequences keep their last N tokens (0: the model's context)")
	o.load = addLoadFlags(fs)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		return o.run(cmd.OutOrStdout(), cmd.ErrOrStderr())
	}
	rootCmd.AddCommand(cmd)
}

func (o *scoreOpts) run(stdout, log io.Writer) error {
	switch {
	case o.model == "":
		return errors.New("--model: a reward model directory is required")
	case o.data == "":
		return errors.New("--data: a JSONL file is required")
	case o.batchSize <= 0:
		return fmt.Errorf("--batch-size: %d must be positive", o.batchSize)
	case o.maxLength < 0:
		return fmt.Errorf("--max-length: %d must be >= 0", o.maxLength)
	}
	lopt, err := o.load.options()
	if err != nil {
		return err
	}
	sc, err := rewardmodel.LoadScorerOpts(o.model, o.tokenizer, lopt)
	if err != nil {
		return err
	}
	sc.BatchSize, sc.MaxLength = o.batchSize, o.maxLength
	f, err := os.Open(o.data)
	if err != nil {
		return err
	}
	defer f.Close()
	scored, err := sc.ScoreJSONL(f, o.data)
	if err != nil {
		return err
	}
	w := stdout
	var outFile *os.File
	if o.out != "" {
		if outFile, err = os.Create(o.out); err != nil {
			return err
		}
		w = outFile
	}
	err = scored.WriteJSONL(w)
	if outFile != nil {
		if cerr := outFile.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(log, "scored %d sequences in %d rows (mean reward %.4f)\n", scored.Sequences, scored.Rows(), scored.MeanReward)
	return nil
}
