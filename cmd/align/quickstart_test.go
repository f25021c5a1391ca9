package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestQuickstartTiny runs the README's main command (tiny preset) end to end
// and checks that every stage did its job: the reward model separates held-out
// pairs, SFT learns the answer form, and each stage's samples score higher
// under the reward model than the stage before.
func TestQuickstartTiny(t *testing.T) {
	out := filepath.Join(t.TempDir(), "qs")
	// A leftover checkpoint from an interrupted earlier run must not stop a new run.
	os.MkdirAll(filepath.Join(out, "base", "checkpoint-10"), 0o755)
	stdout, stderr, err := runAlign(t, "", "quickstart", "--out", out, "--preset", "tiny")
	if err != nil {
		t.Fatalf("%v\n%s\n%s", err, stdout, stderr)
	}
	t.Log("\n" + stdout)
	for _, want := range []string{"stage", "base", "sft", "rm", "dpo", "held-out reward"} {
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
	by := map[string]map[string]any{}
	for _, r := range rows {
		by[r["stage"].(string)] = r
	}
	f := func(stage, key string) float64 {
		v, ok := by[stage][key].(float64)
		if !ok {
			t.Fatalf("summary: stage %s has no %s", stage, key)
		}
		return v
	}
	// Held-out pairs reject rude, off-topic and rambling answers (easy) and wrong
	// sums (as hard as the arithmetic itself): 0.8 needs most of both.
	if acc := f("rm", "reward_accuracy"); acc < 0.8 {
		t.Errorf("reward model held-out accuracy %.2f < 0.8", acc)
	}
	if h := f("sft", "helpful"); h < 0.5 {
		t.Errorf("SFT samples helpful %.2f < 0.5", h)
	}
	if !(f("sft", "reward") > f("base", "reward")) || !(f("dpo", "reward") > f("sft", "reward")) {
		t.Errorf("held-out reward should rise base < sft < dpo: %.3f, %.3f, %.3f",
			f("base", "reward"), f("sft", "reward"), f("dpo", "reward"))
	}
	for _, d := range []string{"base", "sft", "rm", "dpo", "tokenizer"} {
		if _, err := os.Stat(filepath.Join(out, d, "tokenizer.json")); err != nil {
			t.Errorf("%s: no tokenizer.json", d)
		}
	}
}
