package main

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/align-go/align/quickstart"
	"github.com/align-go/align/report"
)

// TestQuickstartCLI runs the README's main command end to end, every stage
// (--stages all), on the micro preset (two steps a stage: the wiring, not the
// gains), and checks the structure of what it leaves: the table, one summary
// row per stage with finite numbers in range, each stage's model, and
// report.html drawing each stage's curves. The default preset's figures are
// in README.md and BENCHMARKS.md. That two runs with the same seed give the
// same table is quickstart's TestRunTwiceSameTable (the same preset).
func TestQuickstartCLI(t *testing.T) {
	t.Parallel() // mostly one process: it runs beside the other parallel tests
	out := filepath.Join(t.TempDir(), "qs")
	// A leftover checkpoint from an interrupted earlier run must not stop a new run.
	os.MkdirAll(filepath.Join(out, "base", "checkpoint-10"), 0o755)
	stdout, stderr, err := runAlign(t, "", "quickstart", "--out", out, "--preset", "micro", "--stages", "all")
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
	evalRows, err := os.ReadFile(filepath.Join(out, "data", "eval_prompts.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	samples := float64(quickstart.Presets["micro"].Samples * strings.Count(string(evalRows), "\n"))
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
		if st == "report" {
			html, err := os.ReadFile(filepath.Join(out, "report.html"))
			if r["outputs"] != filepath.Join(out, "report.html") || err != nil || !strings.Contains(string(html), "<svg") {
				t.Errorf("report row %v: want report.html with charts (%v)", r, err)
			}
			continue
		}
		check("gold_reward", -1, 1)
		for _, k := range []string{"correct", "polite", "red_team_pass"} {
			check(k, 0, 1)
		}
		check("kl_to_sft", -1e3, 1e3)
		check("mean_length", 1, 64)
		check("rm_score", -1e3, 1e3)
		if st == "sft" {
			if r["kl_to_sft"].(float64) != 0 || r["win_rate_vs_sft"] != nil {
				t.Errorf("the SFT model is the KL and win-rate reference: KL %v, win-rate %v", r["kl_to_sft"], r["win_rate_vs_sft"])
			}
			continue
		}
		check("win_rate_vs_sft", 0, 1)
		if w, t2, l := r["wins"].(float64), r["ties"].(float64), r["losses"].(float64); w+t2+l != samples {
			t.Errorf("stage %s: %v wins + %v ties + %v losses, want one judgment per held-out sample (%v)", st, w, t2, l, samples)
		}
	}
	if got := strings.Join(stages, " "); got != "base sft rm dpo ppo grpo cai kto orpo online-dpo-gold online-dpo-cai report" {
		t.Errorf("stages %q", got)
	}
	// The report draws the extra stages' curves with the others': each is a
	// run with a loss series, in the loss chart's legend and in the reward
	// chart's (online DPO's objective/scores, KTO's and ORPO's margins).
	rep, err := report.Load([]string{out})
	if err != nil {
		t.Fatal(err)
	}
	html, _ := os.ReadFile(filepath.Join(out, "report.html"))
	for _, st := range append([]string{"dpo"}, quickstart.ExtraStages...) {
		found := false
		for _, r := range rep.Runs {
			if r.Name == st && len(r.Metrics.Series["loss"]) > 0 {
				found = true
			}
		}
		if n := strings.Count(string(html), "</span>"+st+"</li>"); !found || n < 2 {
			t.Errorf("report: stage %s has a loss series %v, is in %d chart legends (want ≥ 2)", st, found, n)
		}
	}
	for _, d := range []string{"base", "sft", "rm", "dpo", "ppo", "grpo", "cai/model", "tokenizer", "kto", "orpo",
		"online-dpo-gold", "online-dpo-cai"} {
		if _, err := os.Stat(filepath.Join(out, d, "tokenizer.json")); err != nil {
			t.Errorf("%s: no tokenizer.json", d)
		}
	}
	for _, f := range []string{"data/train_prompts", "data/eval_prompts", "data/red_team", "data/sft", "data/prefs",
		"cai/revise/revisions", "cai/revise/sft"} {
		if _, err := os.Stat(filepath.Join(out, f+".jsonl")); err != nil {
			t.Error(err)
		}
	}
}
