package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func ppoPrompts(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	for i, p := range []string{"say red cat:", "say blue dog:", "say sun tree:", "say cup map:"} {
		fmt.Fprintf(&b, "{\"prompt\": %q, \"id\": %d}\n", p, i)
	}
	path := filepath.Join(t.TempDir(), "prompts.jsonl")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func ppoArgs(policy, rm, prompts, out string, extra ...string) []string {
	return append([]string{"ppo", "--policy", policy, "--reward", rm, "--prompts", prompts, "--out", out,
		"--lora-r", "4", "--batch-size", "2", "--num-mini-batches", "2", "--num-ppo-epochs", "2", "--max-new-tokens", "6",
		"--lr", "3e-3", "--temperature", "1", "--target-kl", "1", "--kl-horizon", "40", "--missing-eos-penalty", "1",
		"--sample-steps", "2", "--seed", "7"}, extra...)
}

// TestPPOCommand runs align ppo end to end with LoRA (policy and value
// adapters on one base; rollouts of 2 × 2 minibatches = 4 prompts), checks
// its outputs and TRL metric names, and that a run killed with SIGKILL after
// a checkpoint resumes to exactly the uninterrupted run's adapters, value
// head and metrics.
func TestPPOCommand(t *testing.T) {
	policy := prefModel(t, 3)
	rm := trainRM(t)
	prompts := ppoPrompts(t)
	ref := filepath.Join(t.TempDir(), "ref")
	if _, stderr, err := runAlign(t, "", ppoArgs(policy, rm, prompts, ref, "--max-steps", "6", "--save-steps", "0")...); err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	for _, f := range []string{"adapter_config.json", "adapter_model.safetensors", "tokenizer.json", "value/adapter_model.safetensors", "value/value_head.safetensors", "samples.jsonl"} {
		if _, err := os.Stat(filepath.Join(ref, f)); err != nil {
			t.Fatal(err)
		}
	}
	rows := metricRows(t, ref)
	if len(rows) != 6 {
		t.Fatalf("%d metrics rows, want 6", len(rows))
	}
	for _, k := range []string{"objective/kl", "objective/entropy", "objective/non_score_reward", "objective/rlhf_reward", "objective/scores",
		"policy/approxkl_avg", "policy/clipfrac_avg", "loss/policy_avg", "loss/value_avg", "val/clipfrac_avg", "val/ratio",
		"val/num_eos_tokens", "lr", "episode", "completions/mean_length", "completions/distinct_2"} {
		if _, ok := rows[5][k]; !ok {
			t.Errorf("metric %s missing from %v", k, rows[5])
		}
	}
	if rows[5]["episode"] != 24 {
		t.Errorf("episode %v after 6 updates of 4, want 24", rows[5]["episode"])
	}
	samples, _ := os.ReadFile(filepath.Join(ref, "samples.jsonl"))
	if n := bytes.Count(samples, []byte("\n")); n != 12 { // updates 2, 4, 6 × 4 completions
		t.Errorf("samples.jsonl has %d rows, want 12", n)
	}
	var first map[string]any
	json.Unmarshal(samples[:bytes.IndexByte(samples, '\n')], &first)
	if !strings.HasPrefix(fmt.Sprint(first["prompt"]), "say ") {
		t.Errorf("sample row %v", first)
	}

	out := filepath.Join(t.TempDir(), "run")
	args := ppoArgs(policy, rm, prompts, out, "--max-steps", "6", "--save-steps", "2")
	p := startAlign(t, args, func(l string) bool { return strings.HasPrefix(l, "saved ") && strings.HasSuffix(l, "checkpoint-2") })
	p.cmd.Process.Signal(syscall.SIGKILL)
	p.wait()
	if _, err := os.Stat(filepath.Join(out, "adapter_model.safetensors")); err == nil {
		t.Fatalf("the run finished before it was killed:\n%s", p.output())
	}
	if _, stderr, err := runAlign(t, "", append(args, "--resume")...); err != nil {
		t.Fatalf("resume: %v\n%s", err, stderr)
	}
	for _, f := range []string{"adapter_model.safetensors", "value/adapter_model.safetensors", "value/value_head.safetensors"} {
		a, _ := os.ReadFile(filepath.Join(ref, f))
		b, err := os.ReadFile(filepath.Join(out, f))
		if err != nil || !bytes.Equal(a, b) {
			t.Fatalf("%s: resumed run differs from the uninterrupted one (%v)", f, err)
		}
	}
	ra, rb := metricRows(t, ref), metricRows(t, out)
	if len(ra) != len(rb) {
		t.Fatalf("metrics rows: %d vs %d", len(ra), len(rb))
	}
	for i := range ra {
		for k, v := range ra[i] {
			if k != "tokens_per_second" && rb[i][k] != v {
				t.Fatalf("metrics row %d %s: %v vs %v", i, k, v, rb[i][k])
			}
		}
	}
}

func TestPPOCommandErrors(t *testing.T) {
	policy := prefModel(t, 3)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"ppo", "--policy", policy, "--prompts", "x", "--out", t.TempDir()}, "--reward: required"},
		{[]string{"ppo", "--policy", policy, "--reward", policy, "--prompts", "x", "--out", t.TempDir(), "--value-init", "rm"}, "--value-init"},
		{[]string{"ppo", "--policy", policy, "--reward", policy, "--prompts", ppoPrompts(t), "--out", t.TempDir()}, "not a reward model"},
	} {
		_, stderr, err := runAlign(t, "", c.args...)
		if err == nil || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: err %v, stderr %q; want %q", c.args, err, stderr, c.want)
		}
	}
}

// TestPPOConfigFile: align ppo reads its settings from --config (TRL's
// underscored names too), flags on the command line win, OUT/config.yaml
// records every setting as resolved and is itself a valid --config, and a
// key the command does not have is an error naming the file and line.
func TestPPOConfigFile(t *testing.T) {
	policy := prefModel(t, 3)
	rm := trainRM(t)
	prompts := ppoPrompts(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "run")
	cfg := filepath.Join(dir, "ppo.yaml")
	body := fmt.Sprintf("policy: %s\nreward_model_path: %s\nprompts: %s\nout: %s\nlora_r: 4\nbatch_size: 2\nnum_mini_batches: 2\n"+
		"max_new_tokens: 6\nlearning_rate: 0.003\ntemperature: 1\nmax_steps: 5\nsave_steps: 0\nseed: 7\n", policy, rm, prompts, out)
	if err := os.WriteFile(cfg, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, stderr, err := runAlign(t, "", "ppo", "--config", cfg, "--max-steps", "2"); err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	if rows := metricRows(t, out); len(rows) != 2 {
		t.Fatalf("%d metrics rows, want 2 (--max-steps on the command line over max_steps: 5)", len(rows))
	}
	got, err := os.ReadFile(filepath.Join(out, "config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"max_steps: 2\n", "lr: 0.003\n", "batch_size: 2\n", "lora_r: 4\n", "reward: " + rm + "\n", "kl_coef: 0.05\n"} {
		if !strings.Contains(string(got), want) {
			t.Errorf("config.yaml lacks %q:\n%s", want, got)
		}
	}
	// The written file reruns the same settings (into another --out), here
	// with --grad-accum 2: rollouts of batch 2 × grad-accum 2 × 2 minibatches.
	out2 := filepath.Join(dir, "rerun")
	if _, stderr, err := runAlign(t, "", "ppo", "--config", filepath.Join(out, "config.yaml"), "--out", out2,
		"--save-steps", "1", "--save-total-limit", "1", "--grad-accum", "2"); err != nil {
		t.Fatalf("rerun from config.yaml: %v\n%s", err, stderr)
	}
	rows := metricRows(t, out2)
	if len(rows) != 2 || rows[1]["episode"] != 16 {
		t.Fatalf("rerun: %d metrics rows, episode %v; want 2 rows and 2 rollouts of 8 prompts", len(rows), rows[len(rows)-1]["episode"])
	}
	// Checkpoints after updates 1 and 2 (the final one); the limit keeps the newest.
	ckpts, _ := filepath.Glob(filepath.Join(out2, "checkpoint-*"))
	if len(ckpts) != 1 || filepath.Base(ckpts[0]) != "checkpoint-2" {
		t.Errorf("with --save-total-limit 1: %v, want checkpoint-2 alone", ckpts)
	}
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("max_steps: 2\nnum_epochs_typo: 3\n"), 0o644)
	_, stderr, err := runAlign(t, "", "ppo", "--config", bad)
	if err == nil || !strings.Contains(stderr, bad+":2: num_epochs_typo: unknown setting") {
		t.Errorf("bad config: err %v, stderr %q", err, stderr)
	}
}
