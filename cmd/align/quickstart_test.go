package main

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestQuickstartTiny runs the README's main command with the tiny preset end
// to end and checks the structure of what it leaves: the table, one summary
// row per stage with finite numbers in range, and each stage's model. The tiny
// preset is too small for the quality claims; the default preset's figures are
// in BENCHMARKS.md.
func TestQuickstartTiny(t *testing.T) {
	out := filepath.Join(t.TempDir(), "qs")
	// A leftover checkpoint from an interrupted earlier run must not stop a new run.
	os.MkdirAll(filepath.Join(out, "base", "checkpoint-10"), 0o755)
	stdout, stderr, err := runAlign(t, "", "quickstart", "--out", out, "--preset", "tiny")
	if err != nil {
		t.Fatalf("%v\n%s\n%s", err, stdout, stderr)
	}
	t.Log("\n" + stdout)
	for _, want := range []string{"stage", "gold reward", "red-team pass", "KL to SFT", "RM acc", "verdict"} {
		if !strings.Contains(stdout, want) {
			t.Fatalf("table lacks %q", want)
		}
	}
	b, err := os.ReadFile(filepath.Join(out, "summary.json"))
	if err != nil {
		t.Fatal(err)
	}
	var rows []map[string]any
	if err := json.Unmarshal(b, &rows); err != nil {
		t.Fatal(err)
	}
	var stages []string
	for _, r := range rows {
		st := r["stage"].(string)
		stages = append(stages, st)
		check := func(key string, lo, hi float64) {
			v, ok := r[key].(float64)
			if !ok || math.IsNaN(v) || v < lo || v > hi {
				t.Errorf("stage %s: %s = %v, want a number in [%g, %g]", st, key, r[key], lo, hi)
			}
		}
		if st == "rm" {
			check("reward_accuracy", 0, 1)
			continue
		}
		check("gold_reward", -1, 1)
		for _, k := range []string{"correct", "polite", "red_team_pass"} {
			check(k, 0, 1)
		}
		check("kl_to_sft", -1e3, 1e3)
		check("mean_length", 1, 64)
		check("rm_score", -1e3, 1e3)
		if st == "sft" && r["kl_to_sft"].(float64) != 0 {
			t.Errorf("the SFT model is the KL reference: KL %v", r["kl_to_sft"])
		}
	}
	if got := strings.Join(stages, " "); got != "base sft rm dpo" {
		t.Errorf("stages %q", got)
	}
	for _, d := range []string{"base", "sft", "rm", "dpo", "tokenizer"} {
		if _, err := os.Stat(filepath.Join(out, d, "tokenizer.json")); err != nil {
			t.Errorf("%s: no tokenizer.json", d)
		}
	}
	for _, f := range []string{"train_prompts", "eval_prompts", "red_team", "sft", "prefs"} {
		if _, err := os.Stat(filepath.Join(out, "data", f+".jsonl")); err != nil {
			t.Errorf("data: %v", err)
		}
	}
}
