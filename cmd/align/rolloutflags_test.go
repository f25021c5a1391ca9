package main

import (
	"errors"
	"io"
	"testing"

	"github.com/align-go/align/generate"
	"github.com/align-go/align/train"
	"github.com/spf13/cobra"
)

// Each shared flag (and TRL alias) lands in its own field, with the
// trainer Config's values as defaults.
func TestRolloutFlags(t *testing.T) {
	samp := generate.Sampling{Temperature: 0.7}
	maxNew, genBatch, every := 33, 0, 0
	cmd := &cobra.Command{Use: "x", RunE: func(*cobra.Command, []string) error { return nil }}
	f := addRolloutFlags(cmd.Flags(), rolloutConfig{Sampling: &samp, MaxNewTokens: &maxNew, GenBatchSize: &genBatch,
		SamplesEvery: &every, TemperatureHelp: "t", SamplesWhat: "pairs"})
	if def := cmd.Flags().Lookup("max-new-tokens").DefValue; def != "33" {
		t.Errorf("--max-new-tokens default %s, want the Config's 33", def)
	}
	if def := cmd.Flags().Lookup("temperature").DefValue; def != "0.7" {
		t.Errorf("--temperature default %s, want the Config's 0.7", def)
	}
	if err := cmd.ParseFlags([]string{"--model-name-or-path", "P", "--prompts", "Q", "--max-completion-length", "7",
		"--temperature", "0.5", "--top-k", "3", "--top-p", "0.9", "--gen-batch-size", "2", "--sample-steps", "4",
		"--dtype", "BF16", "--lora-r", "5"}); err != nil {
		t.Fatal(err)
	}
	if f.policy != "P" || f.prompts != "Q" || maxNew != 7 || samp.Temperature != 0.5 || samp.TopK != 3 || samp.TopP != 0.9 ||
		genBatch != 2 || every != 4 || f.dtype != "BF16" || f.lora.r != 5 {
		t.Fatalf("parsed %+v, sampling %+v, max-new %d, gen-batch %d, sample-steps %d", *f, samp, maxNew, genBatch, every)
	}
	// Both sampling trainers carry them, each with its own Config's defaults.
	for _, c := range []struct{ cmd, temp, maxNew string }{{"grpo", "1", "256"}, {"online-dpo", "0.9", "64"}} {
		sub, _, err := rootCmd.Find([]string{c.cmd})
		if err != nil {
			t.Fatal(err)
		}
		for flag, want := range map[string]string{"temperature": c.temp, "max-new-tokens": c.maxNew, "top-p": "1", "sample-steps": "10"} {
			if fl := sub.Flags().Lookup(flag); fl == nil || fl.DefValue != want {
				t.Errorf("%s --%s: %v, want default %s", c.cmd, flag, fl, want)
			}
		}
	}
}

type closeCounter struct{ n int }

func (c *closeCounter) Close() error { c.n++; return errors.New("close failed") }

// run closes what the build opened even when the build fails, and a close
// error is reported only when nothing failed before it.
func TestRolloutRunClosesRewards(t *testing.T) {
	var samp generate.Sampling
	var a, b, d int
	cmd := &cobra.Command{Use: "x", SilenceUsage: true, SilenceErrors: true}
	flags := addTrainFlags(cmd, train.DefaultSettings())
	f := addRolloutFlags(cmd.Flags(), rolloutConfig{Sampling: &samp, MaxNewTokens: &a, GenBatchSize: &b, SamplesEvery: &d})
	c := &closeCounter{}
	cmd.RunE = f.run(flags, func(train.Settings, io.Writer) (*train.Job, error) {
		f.closers = append(f.closers, c)
		return nil, errors.New("build failed")
	})
	cmd.SetArgs([]string{"--out", t.TempDir()})
	if err := cmd.Execute(); err == nil || err.Error() != "build failed" || c.n != 1 {
		t.Fatalf("err %v, closed %d times; want the build's error and one close", err, c.n)
	}
}
