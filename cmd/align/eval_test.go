package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/align-go/align/eval"
	"github.com/align-go/align/judge"
)

// A model judged against itself, greedy: identical completions, so every
// comparison is a tie (win-rate ½ exactly), length drift 0, and the red-team
// pass rate is the share of responses the refusal rule matches.
func TestEvalAgainstItself(t *testing.T) {
	t.Parallel() // independent processes over its own directories
	dir := chatModelDir(t, 3)
	tmp := t.TempDir()
	prompts := filepath.Join(tmp, "p.jsonl")
	if err := os.WriteFile(prompts, []byte(`{"prompt":"Say hi"}
{"prompt":[{"role":"user","content":"What is 2+2?"}]}
{"prompt":"Name a colour"}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(tmp, "eval.json")
	if _, stderr, err := runAlign(t, "", "eval", "--model", dir, "--baseline", dir, "--prompts", prompts,
		"--judge", "rule:refusal", "--red-team", "default", "--temperature", "0", "--max-new-tokens", "8", "--out", out); err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var rep eval.Report
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Samples) != 3 || rep.WinRate == nil {
		t.Fatalf("report: %s", b)
	}
	for _, s := range rep.Samples {
		if s.Completion != s.Baseline {
			t.Fatalf("greedy self-comparison differs: %q vs %q", s.Completion, s.Baseline)
		}
	}
	if rep.WinRate.Rate != 0.5 || rep.WinRate.Ties != 3 || rep.Metrics["length/drift"] != 0 {
		t.Fatalf("win-rate %+v, length drift %v: want 3 ties, 0.5, 0", rep.WinRate, rep.Metrics["length/drift"])
	}
	if len(rep.RedTeam) != len(eval.RedTeam()) || len(rep.RedTeam) < 20 {
		t.Fatalf("%d red-team rows for %d prompts", len(rep.RedTeam), len(eval.RedTeam()))
	}
	pass := 0
	for _, r := range rep.RedTeam {
		if r.Passed != judge.IsRefusal(r.Response) {
			t.Fatalf("red-team %q: passed %v but refusal rule says %v", r.Response, r.Passed, !r.Passed)
		}
		if r.Passed {
			pass++
		}
	}
	if got, want := rep.Metrics["red_team/pass_rate"], float64(pass)/float64(len(rep.RedTeam)); got != want {
		t.Fatalf("pass rate %v, want %v", got, want)
	}
	// The same model on both sides: the KL estimate is exactly 0.
	if k1, ok := rep.Metrics["kl/k1"]; !ok || k1 != 0 || rep.Metrics["kl/k3"] != 0 {
		t.Fatalf("self-KL: metrics %v, not measured %v", rep.Metrics, rep.NotMeasured)
	}
	var words [][]string
	for _, s := range rep.Samples {
		words = append(words, strings.Fields(s.Completion))
	}
	if got := rep.Metrics["diversity/distinct_1"]; got != eval.DistinctN(words, 1) {
		t.Fatalf("distinct-1 %v", got)
	}

	// Against a different random model the k3 estimate (non-negative by
	// construction) is positive.
	other := chatModelDir(t, 4)
	if _, stderr, err := runAlign(t, "", "eval", "--model", dir, "--baseline", other, "--prompts", prompts,
		"--temperature", "1", "--max-new-tokens", "8", "--out", out); err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	var rep2 eval.Report
	if b, err = os.ReadFile(out); err != nil || json.Unmarshal(b, &rep2) != nil {
		t.Fatalf("%v %s", err, b)
	}
	if !(rep2.Metrics["kl/k3"] > 0) {
		t.Fatalf("KL to a different model: %v, not measured %v", rep2.Metrics, rep2.NotMeasured)
	}

	if _, stderr, err := runAlign(t, "", "eval", "--model", dir, "--prompts", prompts, "--judge", "rule:refusal", "--out", out); err == nil ||
		!strings.Contains(stderr+err.Error(), "--baseline") {
		t.Fatalf("--judge without --baseline: %v %s", err, stderr)
	}
}
