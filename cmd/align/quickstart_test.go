package main

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestQuickstartTiny runs the README's main command with the tiny preset end
// to end and checks the structure of what it leaves: the table, one summary
// row per stage with finite numbers in range, and each stage's model. The tiny
// preset is too small for the quality claims; the default preset's figures are
// in BENCHMARKS.md.
//
// A second run with the same (default) seed goes alongside the first, so it
// adds little wall time; its table and summary.json must equal the first's
// but for the wall times (README: the same seed gives the same table).
func TestQuickstartTiny(t *testing.T) {
	out := filepath.Join(t.TempDir(), "qs")
	out2 := filepath.Join(t.TempDir(), "qs2")
	type result struct {
		stdout, stderr string
		err            error
	}
	second := make(chan result, 1)
	go func() {
		o, e, err := runAlign(t, "", "quickstart", "--out", out2, "--preset", "tiny")
		second <- result{o, e, err}
	}()
	// A leftover checkpoint from an interrupted earlier run must not stop a new run.
	os.MkdirAll(filepath.Join(out, "base", "checkpoint-10"), 0o755)
	stdout, stderr, err := runAlign(t, "", "quickstart", "--out", out, "--preset", "tiny")
	r2 := <-second
	if err != nil {
		t.Fatalf("%v\n%s\n%s", err, stdout, stderr)
	}
	if r2.err != nil {
		t.Fatalf("second run: %v\n%s\n%s", r2.err, r2.stdout, r2.stderr)
	}
	t.Log("\n" + stdout)
	if a, b := tableWithoutTimes(stdout, out), tableWithoutTimes(r2.stdout, out2); a != b {
		t.Errorf("two runs with the same seed print different tables (wall times left out):\n%s\n---\n%s", a, b)
	}
	if a, b := summaryWithoutTimes(t, out), summaryWithoutTimes(t, out2); a != b {
		t.Errorf("two runs with the same seed write different summary.json (seconds and paths left out):\n%s\n---\n%s", a, b)
	}
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
	samples := 2 * float64(strings.Count(string(evalRows), "\n")) // the tiny preset draws 2 per prompt
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
	if got := strings.Join(stages, " "); got != "base sft rm dpo ppo grpo cai report" {
		t.Errorf("stages %q", got)
	}
	for _, d := range []string{"base", "sft", "rm", "dpo", "ppo", "grpo", "cai/model", "tokenizer"} {
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

// durationField matches a wall time as time.Duration prints it (900ms, 3.8s, 1m32.7s).
var durationField = regexp.MustCompile(`^([0-9]+h)?([0-9]+m)?[0-9.]+(ns|µs|ms|s)$`)

// tableWithoutTimes is the quickstart's output with the wall-time fields
// dropped, the run's directory replaced and runs of blanks collapsed
// (tabwriter pads the time column to its widest entry).
func tableWithoutTimes(stdout, out string) string {
	var lines []string
	for _, l := range strings.Split(strings.ReplaceAll(stdout, out, "OUT"), "\n") {
		var keep []string
		for _, f := range strings.Fields(l) {
			if !durationField.MatchString(f) {
				keep = append(keep, f)
			}
		}
		lines = append(lines, strings.Join(keep, " "))
	}
	return strings.Join(lines, "\n")
}

// summaryWithoutTimes is out/summary.json re-encoded without each row's
// seconds and output paths.
func summaryWithoutTimes(t *testing.T, out string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(out, "summary.json"))
	if err != nil {
		t.Fatal(err)
	}
	var rows []map[string]any
	if err := json.Unmarshal(b, &rows); err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		delete(r, "seconds")
		delete(r, "outputs")
	}
	c, err := json.MarshalIndent(rows, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	return string(c)
}
