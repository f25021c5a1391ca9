package main

import (
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/align-go/align/train"
)

// newTrainCmd builds a trainer-like command with the common flags and two of its own.
func newTrainCmd() (*cobra.Command, *trainFlags, *[]string, *int) {
	cmd := &cobra.Command{Use: "t", RunE: func(*cobra.Command, []string) error { return nil }}
	f := addTrainFlags(cmd, train.DefaultSettings())
	texts := new([]string)
	seq := new(int)
	cmd.Flags().StringSliceVar(texts, "text", nil, "")
	cmd.Flags().IntVar(seq, "seq-len", 128, "")
	return cmd, f, texts, seq
}

func parseTrainFlags(t *testing.T, cmd *cobra.Command, f *trainFlags, argv ...string) (train.Settings, error) {
	t.Helper()
	if err := cmd.ParseFlags(argv); err != nil {
		return train.Settings{}, err
	}
	return f.Resolve(cmd.Flags().Args())
}

func writeYAML(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestConfigPrecedence(t *testing.T) {
	cfg := writeYAML(t, `
out: runs/a
max_steps: 7
max-grad-norm: 0.5
lr: 0.001
learning_rate_is_not_here: 1
`)
	cmd, f, _, _ := newTrainCmd()
	if _, err := parseTrainFlags(t, cmd, f, "--config", cfg); err == nil || !strings.Contains(err.Error(), cfg+":6: learning_rate_is_not_here: unknown setting") {
		t.Fatalf("unknown key: got %v", err)
	}

	cfg = writeYAML(t, `
out: runs/a
max_steps: 7         # underscores
max-grad-norm: 0.5   # dashes
lr: 0.001
gradient_accumulation_steps: 4  # TRL's name
text: [a.txt, "b,c.txt"]
seq_len: 64
resume: true
lr_scheduler: cosine
group_by_length: false
`)
	cmd, f, texts, seq := newTrainCmd()
	s, err := parseTrainFlags(t, cmd, f, "--config", cfg, "--lr", "0.01", "--seq_len=32", "--batch-size", "3")
	if err != nil {
		t.Fatal(err)
	}
	want := train.DefaultSettings()
	want.Out, want.MaxSteps, want.MaxGradNorm, want.LR, want.GradAccum = "runs/a", 7, 0.5, 0.01, 4
	want.BatchSize, want.Resume, want.LRScheduler, want.GroupByLength = 3, train.ResumeLatest, "cosine", false
	if !reflect.DeepEqual(s, want) {
		t.Fatalf("settings\n got %+v\nwant %+v", s, want)
	}
	if !reflect.DeepEqual(*texts, []string{"a.txt", "b,c.txt"}) || *seq != 32 {
		t.Fatalf("trainer flags: text %q seq-len %d", *texts, *seq)
	}

	// config.yaml round-trips: resolving it again gives the same settings.
	y, err := f.ConfigYAML()
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"max_steps: 7\n", "lr: 0.01\n", "seq_len: 32\n", "group_by_length: false\n", "- b,c.txt\n"} {
		if !strings.Contains(string(y), k) {
			t.Errorf("config.yaml lacks %q:\n%s", k, y)
		}
	}
	cmd2, f2, texts2, seq2 := newTrainCmd()
	s2, err := parseTrainFlags(t, cmd2, f2, "--config", writeYAML(t, string(y)))
	if err != nil {
		t.Fatal(err)
	}
	want.Resume = ""
	if !reflect.DeepEqual(s2, want) || !reflect.DeepEqual(*texts2, *texts) || *seq2 != 32 {
		t.Fatalf("round trip\n got %+v %q %d\nwant %+v", s2, *texts2, *seq2, want)
	}
}

func TestResumeFlagForms(t *testing.T) {
	tests := []struct {
		argv []string
		want string
		err  string
	}{
		{[]string{"--out", "o"}, "", ""},
		{[]string{"--out", "o", "--resume"}, train.ResumeLatest, ""},
		{[]string{"--out", "o", "--resume", "o/checkpoint-5"}, "o/checkpoint-5", ""},
		{[]string{"--out", "o", "--resume=o/checkpoint-6"}, "o/checkpoint-6", ""},
		{[]string{"--out", "o", "stray"}, "", `unexpected argument "stray"`},
		{[]string{"--out", "o", "--resume", "a", "b"}, "", `unexpected argument "a"`},
		{[]string{"--out", "o", "--batch-size", "0"}, "", "--batch-size: 0 must be positive"},
		{[]string{"--out", "o", "--lr-scheduler", "step"}, "", `unknown lr schedule "step"`},
	}
	for _, tc := range tests {
		cmd, f, _, _ := newTrainCmd()
		s, err := parseTrainFlags(t, cmd, f, tc.argv...)
		if tc.err != "" {
			if err == nil || !strings.Contains(flagError(err).Error(), tc.err) { // as main prints it
				t.Errorf("%q: got %v, want %q", tc.argv, err, tc.err)
			}
			continue
		}
		if err != nil || s.Resume != tc.want {
			t.Errorf("%q: resume %q err %v, want %q", tc.argv, s.Resume, err, tc.want)
		}
	}
}

// TestConfigFileSpecialFloats: a NaN or infinite float setting written into
// config.yaml (YAML's .nan, .inf, -.inf) reads back as the same value.
func TestConfigFileSpecialFloats(t *testing.T) {
	for _, v := range []float64{math.NaN(), math.Inf(1), math.Inf(-1), 0.25} {
		cmd := &cobra.Command{Use: "x", RunE: func(*cobra.Command, []string) error { return nil }}
		c := addConfigFlag(cmd)
		var x float64
		cmd.Flags().Float64Var(&x, "penalty", v, "")
		b, err := c.YAML()
		if err != nil {
			t.Fatal(err)
		}
		cmd2 := &cobra.Command{Use: "x", RunE: func(*cobra.Command, []string) error { return nil }}
		c2 := addConfigFlag(cmd2)
		var y float64
		cmd2.Flags().Float64Var(&y, "penalty", 1, "")
		cmd2.SetArgs([]string{"--config", writeYAML(t, string(b))})
		if err := cmd2.Execute(); err != nil {
			t.Fatal(err)
		}
		if err := c2.Apply(); err != nil {
			t.Fatalf("%v: reading back %q: %v", v, b, err)
		}
		if !(y == v || math.IsNaN(v) && math.IsNaN(y)) {
			t.Errorf("%v written as %q reads back as %v", v, b, y)
		}
	}
}

// TestGradientCheckpointingSetting: TRL's name reaches train.Settings from the
// command line and from a TRL YAML config (gradient_checkpointing: true).
func TestGradientCheckpointingSetting(t *testing.T) {
	cmd, f, _, _ := newTrainCmd()
	s, err := parseTrainFlags(t, cmd, f, "--out", "o")
	if err != nil || s.GradientCheckpointing {
		t.Fatalf("default: %v, %v (want off)", s.GradientCheckpointing, err)
	}
	cmd, f, _, _ = newTrainCmd()
	if s, err = parseTrainFlags(t, cmd, f, "--out", "o", "--gradient-checkpointing"); err != nil || !s.GradientCheckpointing {
		t.Fatalf("flag: %v, %v", s.GradientCheckpointing, err)
	}
	cmd, f, _, _ = newTrainCmd()
	if s, err = parseTrainFlags(t, cmd, f, "--out", "o", "--config", writeYAML(t, "gradient_checkpointing: true\n")); err != nil || !s.GradientCheckpointing {
		t.Fatalf("config: %v, %v", s.GradientCheckpointing, err)
	}
}
