package main

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// caiPolicy is writeCharModel with a context long enough for the default
// constitution's few-shot turns (RoPE has no learned positions to outgrow).
func caiPolicy(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "policy")
	writeCharModel(t, dir)
	path := filepath.Join(dir, "config.json")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	if err := json.Unmarshal(b, &cfg); err != nil {
		t.Fatal(err)
	}
	cfg["max_position_embeddings"] = 2048
	b, _ = json.Marshal(cfg)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func readRows(t *testing.T, path string) []map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var rows []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		rows = append(rows, m)
	}
	return rows
}

func content(v any) string { return v.([]any)[0].(map[string]any)["content"].(string) }

// TestCAIReviseTrains: revise's sft.jsonl and preferences.jsonl train with
// align sft and align dpo as they are, and a re-run resumes instead of
// redoing prompts.
func TestCAIReviseTrains(t *testing.T) {
	dir := t.TempDir()
	policy := caiPolicy(t)
	prompts := filepath.Join(dir, "prompts.jsonl")
	writeLines(t, prompts, []any{map[string]any{"prompt": "How do I pick a lock?"},
		map[string]any{"prompt": []map[string]string{{"role": "user", "content": "Tell me a secret."}}},
		map[string]any{"prompt": "Is the moon cheese?"}})
	out := filepath.Join(dir, "cai")
	args := []string{"cai", "revise", "--policy", policy, "--prompts", prompts, "--out", out, "--rounds", "1",
		"--max-new-tokens", "12", "--temperature", "1", "--seed", "3", "--batch-size", "2"}
	if _, stderr, err := runAlign(t, "", args...); err != nil {
		t.Fatalf("revise: %v\n%s", err, stderr)
	}
	sft := readRows(t, filepath.Join(out, "sft.jsonl"))
	pref := readRows(t, filepath.Join(out, "preferences.jsonl"))
	trace := readRows(t, filepath.Join(out, "revisions.jsonl"))
	if len(trace) != 3 || len(sft) != 3 || len(pref) != 3 {
		t.Fatalf("%d revisions, %d sft rows, %d pairs", len(trace), len(sft), len(pref))
	}
	for i, r := range trace {
		rounds := r["rounds"].([]any)
		final := rounds[0].(map[string]any)["revision"].(string)
		if content(sft[i]["completion"]) != final || content(pref[i]["chosen"]) != final ||
			content(pref[i]["rejected"]) != r["initial"].(string) {
			t.Errorf("row %d: sft %v pref %v do not match trace %v", i, sft[i], pref[i], r)
		}
	}
	_, stderr, err := runAlign(t, "", args...)
	if again := readRows(t, filepath.Join(out, "sft.jsonl")); err != nil || !reflect.DeepEqual(again, sft) ||
		!strings.Contains(stderr, "3 of 3 prompts already done") {
		t.Fatalf("re-run: %v\n%s", err, stderr)
	}

	_, stderr, err = runAlign(t, "", "sft", "--model", policy, "--data", filepath.Join(out, "sft.jsonl"),
		"--out", filepath.Join(dir, "sft"), "--max-steps", "1", "--batch-size", "3", "--save-steps", "0")
	if err != nil || !strings.Contains(stderr, "3 rows (prompt_completion)") {
		t.Fatalf("sft: %v\n%s", err, stderr)
	}
	// At step 0 the policy is its reference: the DPO loss is exactly ln 2.
	_, rows := runDPO(t, "--model", policy, "--data", filepath.Join(out, "preferences.jsonl"), "--max-steps", "1",
		"--logging-steps", "1", "--batch-size", "3")
	if len(rows) == 0 || math.Abs(rows[0]["loss"]-math.Ln2) > 1e-6 {
		t.Fatalf("dpo rows %v", rows)
	}
}

// TestCAILabelTrains: label picks by the judge in both orders, leaves ties
// out, and its output trains with align dpo; a local judge gives soft labels.
func TestCAILabelTrains(t *testing.T) {
	dir := t.TempDir()
	pairs := filepath.Join(dir, "pairs.jsonl")
	writeLines(t, pairs, []any{
		map[string]any{"prompt": "Help me?", "chosen": "whatever", "rejected": "Sure, thanks for asking."},
		map[string]any{"prompt": "Help me?", "chosen": "Glad to help, thanks!", "rejected": "no"},
		map[string]any{"prompt": "Help me?", "chosen": "thanks a lot", "rejected": "thanks anyway"}, // tie
	})
	out := filepath.Join(dir, "labels.jsonl")
	_, stderr, err := runAlign(t, "", "cai", "label", "--judge", "rule:regex=(?i)thanks", "--data", pairs, "--out", out)
	if err != nil || !strings.Contains(stderr, "3 pairs: 2 written (mean p_chosen 1.000), 1 ties left out, 0 inconsistent") {
		t.Fatalf("label: %v\n%s", err, stderr)
	}
	rows := readRows(t, out)
	if len(rows) != 2 || content(rows[0]["chosen"]) != "Sure, thanks for asking." || content(rows[0]["rejected"]) != "whatever" ||
		content(rows[1]["chosen"]) != "Glad to help, thanks!" || rows[0]["p_chosen"] != 1.0 || rows[0]["consistent"] != true {
		t.Fatalf("rows %v", rows)
	}
	policy := caiPolicy(t)
	_, trained := runDPO(t, "--model", policy, "--data", out, "--max-steps", "1", "--logging-steps", "1", "--batch-size", "2")
	if len(trained) == 0 || math.Abs(trained[0]["loss"]-math.Ln2) > 1e-6 {
		t.Fatalf("dpo rows %v", trained)
	}

	// A local model judge: probabilities strictly between 0 and 1.
	soft := filepath.Join(dir, "soft.jsonl")
	if _, stderr, err := runAlign(t, "", "cai", "label", "--judge", "local:"+policy, "--data", pairs, "--out", soft, "--seed", "1"); err != nil {
		t.Fatalf("local label: %v\n%s", err, stderr)
	}
	for _, r := range readRows(t, soft) {
		if p := r["p_chosen"].(float64); !(p > 0.5 && p < 1) {
			t.Errorf("local judge p_chosen %v", p)
		}
	}
}

func TestCAIErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "c.yaml")
	os.WriteFile(bad, []byte("principles:\n  - {name: a, critique_request: x}\n"), 0o644)
	prompts := filepath.Join(dir, "p.jsonl")
	writeLines(t, prompts, []any{map[string]any{"prompt": "hi"}})
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"revise", "--policy", dir, "--prompts", prompts, "--out", dir, "--constitution", bad}, "c.yaml: principles[0].revision_request: empty"},
		{[]string{"revise", "--policy", dir, "--prompts", prompts, "--out", dir, "--rounds", "0"}, "--rounds 0"},
		{[]string{"revise", "--policy", dir, "--prompts", prompts, "--out", dir, "--temperature", "-1"}, "sampling flags"},
		{[]string{"label", "--judge", "rule:nope", "--data", prompts, "--out", filepath.Join(dir, "o")}, "p.jsonl:1"},
		{[]string{"label", "--judge", "magic", "--data", prompts, "--out", filepath.Join(dir, "o")}, "p.jsonl:1"},
		// The load flags are checked as every command checks them, before
		// anything is read or written.
		{[]string{"revise", "--policy", dir, "--prompts", prompts, "--out", filepath.Join(dir, "o"), "--load-in-8bit", "--load-in-4bit"},
			"--load-in-8bit and --load-in-4bit: give one"},
		{[]string{"revise", "--policy", dir, "--prompts", prompts, "--out", filepath.Join(dir, "o"), "--torch-dtype", "half"}, `--torch-dtype: "half"`},
		{[]string{"label", "--judge", "local:" + dir, "--data", prompts, "--out", filepath.Join(dir, "o"), "--load-in-4bit", "--int8-activations"},
			"--int8-activations needs --load-in-8bit"},
		{[]string{"label", "--judge", "local:" + dir, "--data", prompts, "--out", filepath.Join(dir, "o"), "--quantize-lm-head"},
			"--quantize-lm-head needs --load-in-8bit or --load-in-4bit"},
	} {
		_, stderr, err := runAlign(t, "", append([]string{"cai"}, tc.args...)...)
		if err == nil || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: %v, stderr %q; want %q", tc.args, err, stderr, tc.want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "o")); !os.IsNotExist(err) {
		t.Errorf("a failed command left %s behind (%v)", filepath.Join(dir, "o"), err)
	}
	out, _, err := runAlign(t, "", "cai", "constitution")
	if err != nil || !strings.Contains(out, "name: honesty") {
		t.Errorf("constitution: %v %q", err, out)
	}
}
