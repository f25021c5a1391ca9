package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"github.com/parquet-go/parquet-go"
)

// cmdRewardArg, as the only argument, makes the test binary serve as a cmd:
// reward (TestMain).
const cmdRewardArg = "-align-test-cmd-reward"

// cmdRewardHelper is the cmd: reward protocol's other side: per JSON line
// in, {"reward": the number of the completion's runes found in the row's
// "chars" field} out. Using a row field shows the fields reach the program.
func cmdRewardHelper() int {
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 1<<20)
	out := bufio.NewWriter(os.Stdout)
	for in.Scan() {
		var row struct {
			Completion string `json:"completion"`
			Chars      string `json:"chars"`
		}
		if err := json.Unmarshal(in.Bytes(), &row); err != nil || row.Chars == "" {
			fmt.Fprintf(os.Stderr, "bad line %q: %v\n", in.Text(), err)
			return 1
		}
		fmt.Fprintf(out, "{\"reward\": %d}\n", countIn(row.Completion, row.Chars))
		out.Flush()
	}
	return 0
}

func countIn(s, chars string) int {
	n := 0
	for _, r := range s {
		if strings.ContainsRune(chars, r) {
			n++
		}
	}
	return n
}

const grpoChars = "abcdefghijklmnopqrstuvwxyz"

// grpoPromptsJSONL mixes plain prompts and chat messages (rendered with the
// default template), each with the "chars" field the cmd: reward reads.
func grpoPromptsJSONL(t *testing.T) string {
	t.Helper()
	rows := []string{
		`{"prompt": "say red:", "chars": "` + grpoChars + `"}`,
		`{"prompt": [{"role": "user", "content": "say blue:"}], "chars": "` + grpoChars + `"}`,
		`{"prompt": "say sun:", "chars": "` + grpoChars + `"}`,
		`{"prompt": "say cup:", "chars": "` + grpoChars + `"}`,
	}
	path := filepath.Join(t.TempDir(), "prompts.jsonl")
	if err := os.WriteFile(path, []byte(strings.Join(rows, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func grpoArgs(policy, prompts, out string, extra ...string) []string {
	return append([]string{"grpo", "--policy", policy, "--prompts", prompts, "--out", out,
		"--num-generations", "4", "--batch-size", "2", "--max-new-tokens", "6", "--lr", "3e-3",
		"--logging-steps", "1", "--sample-steps", "1", "--seed", "5"}, extra...)
}

type grpoSample struct {
	Step       int     `json:"step"`
	Prompt     string  `json:"prompt"`
	Completion string  `json:"completion"`
	Reward     float64 `json:"reward"`
}

func readSamples(t *testing.T, out string) []grpoSample {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(out, "samples.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	var ss []grpoSample
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var s grpoSample
		if err := json.Unmarshal([]byte(line), &s); err != nil {
			t.Fatalf("samples.jsonl: %v: %s", err, line)
		}
		ss = append(ss, s)
	}
	return ss
}

// TestGRPOCommand runs align grpo with a built-in reward (regex) and a cmd:
// reward (this test binary re-executed), weighted, with a KL penalty to a
// copy of the policy, and checks the metrics against the logged samples:
// each part's mean is recomputed here from the completions, the total is
// the weighted sum, and kl is exactly 0 before the first update.
func TestGRPOCommand(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	policy := prefModel(t, 3)
	out := filepath.Join(t.TempDir(), "run")
	args := grpoArgs(policy, grpoPromptsJSONL(t), out, "--max-steps", "4", "--save-steps", "0", "--beta", "0.1",
		"--reward", "regex:[a-m]", "--reward", "cmd:"+self+" "+cmdRewardArg, "--reward-weights", "1,0.5")
	if _, stderr, err := runAlign(t, "", args...); err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	for _, f := range []string{"model.safetensors", "config.json", "tokenizer.json", "metrics.jsonl", "config.yaml"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Fatal(err)
		}
	}
	rows := metricRows(t, out)
	if len(rows) != 4 {
		t.Fatalf("%d metrics rows, want 4", len(rows))
	}
	for _, k := range []string{"loss", "reward", "reward_std", "rewards/regex/mean", "rewards/regex/std", "rewards/cmd/mean",
		"completion_length", "kl", "clip_ratio", "entropy", "rollout/logprob_diff", "completions/mean_length",
		"completions/distinct_1", "completions/distinct_2", "frac_reward_zero_std", "time/rollout_s", "time/reward_s", "time/train_s",
		"learning_rate", "grad_norm"} {
		if _, ok := rows[3][k]; !ok {
			t.Errorf("metric %s missing from %v", k, rows[3])
		}
	}
	if rows[0]["kl"] != 0 {
		t.Errorf("kl %v at step 1, want 0 (the policy is still the reference)", rows[0]["kl"])
	}
	if !(rows[3]["kl"] > 0) {
		t.Errorf("kl %v at step 4, want > 0 after three updates at lr 3e-3", rows[3]["kl"])
	}
	re := regexp.MustCompile("[a-m]")
	samples := readSamples(t, out)
	if len(samples) != 4*2*4 { // steps × prompts × generations
		t.Fatalf("samples.jsonl has %d rows, want 32", len(samples))
	}
	for step := 1; step <= 4; step++ {
		var rx, cmd, total, n float64
		for _, s := range samples {
			if s.Step != step {
				continue
			}
			r, c := 0.0, float64(countIn(s.Completion, grpoChars))
			if re.MatchString(s.Completion) {
				r = 1
			}
			if math.Abs(s.Reward-(r+0.5*c)) > 1e-12 {
				t.Errorf("step %d: sample reward %v, want regex %v + 0.5 × cmd %v for %q", step, s.Reward, r, c, s.Completion)
			}
			rx, cmd, total, n = rx+r, cmd+c, total+s.Reward, n+1
		}
		row := rows[step-1]
		for k, want := range map[string]float64{"rewards/regex/mean": rx / n, "rewards/cmd/mean": cmd / n, "reward": total / n} {
			if math.Abs(row[k]-want) > 1e-12 {
				t.Errorf("step %d: %s %v, want %v from samples.jsonl", step, k, row[k], want)
			}
		}
		if d := row["rollout/logprob_diff"]; !(d < 1e-3) {
			t.Errorf("step %d: rollout/logprob_diff %v: sampling and training log-probs disagree", step, d)
		}
	}
	if !strings.HasPrefix(samples[0].Prompt, "say ") && !strings.Contains(samples[0].Prompt, "say ") {
		t.Errorf("sample prompt %q", samples[0].Prompt)
	}
}

// TestGRPOResume: a LoRA run (dropout on, reference = adapters off) on a
// Parquet prompt file killed with SIGKILL after a checkpoint resumes to
// exactly the uninterrupted run's adapters, metrics and samples.
func TestGRPOResume(t *testing.T) {
	policy := prefModel(t, 3)
	type row struct {
		Prompt string `parquet:"prompt"`
		Answer string `parquet:"answer"`
	}
	prompts := filepath.Join(t.TempDir(), "prompts.parquet")
	if err := parquet.WriteFile(prompts, []row{{"say red:", "red"}, {"say blue:", "blue"}, {"say sun:", "sun"}, {"say cup:", "cup"}}); err != nil {
		t.Fatal(err)
	}
	grpoRun := func(out string) []string {
		return grpoArgs(policy, prompts, out, "--max-steps", "6", "--save-steps", "2", "--lora-r", "4", "--beta", "0.1",
			"--reward", "regex:[a-m]", "--reward", "exact-match", "--loss-type", "grpo", "--epsilon-high", "0.28")
	}
	ref := filepath.Join(t.TempDir(), "ref")
	if _, stderr, err := runAlign(t, "", grpoRun(ref)...); err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	out := filepath.Join(t.TempDir(), "run")
	p := startAlign(t, grpoRun(out), func(l string) bool { return strings.HasPrefix(l, "saved ") && strings.HasSuffix(l, "checkpoint-2") })
	p.cmd.Process.Signal(syscall.SIGKILL)
	p.wait()
	if _, err := os.Stat(filepath.Join(out, "adapter_model.safetensors")); err == nil {
		t.Fatalf("the run finished before it was killed:\n%s", p.output())
	}
	if _, stderr, err := runAlign(t, "", append(grpoRun(out), "--resume")...); err != nil {
		t.Fatalf("resume: %v\n%s", err, stderr)
	}
	for _, f := range []string{"adapter_model.safetensors", "samples.jsonl"} {
		a, _ := os.ReadFile(filepath.Join(ref, f))
		b, err := os.ReadFile(filepath.Join(out, f))
		if err != nil || !bytes.Equal(a, b) {
			t.Fatalf("%s: resumed run differs from the uninterrupted one (%v)", f, err)
		}
	}
	ra, rb := metricRows(t, ref), metricRows(t, out)
	if len(ra) != 6 || len(rb) != 6 {
		t.Fatalf("metrics rows: %d vs %d, want 6", len(ra), len(rb))
	}
	for i := range ra {
		for k, v := range ra[i] {
			if !strings.HasPrefix(k, "time/") && k != "tokens_per_second" && rb[i][k] != v {
				t.Fatalf("metrics row %d %s: %v vs %v", i, k, v, rb[i][k])
			}
		}
	}
}

func TestGRPOCommandErrors(t *testing.T) {
	policy := prefModel(t, 3)
	prompts := grpoPromptsJSONL(t)
	bad := filepath.Join(t.TempDir(), "bad.jsonl")
	os.WriteFile(bad, []byte("{\"prompt\": \"ok\"}\n{\"question\": \"no prompt\"}\n"), 0o644)
	base := func(extra ...string) []string {
		return append([]string{"grpo", "--policy", policy, "--prompts", prompts, "--out", t.TempDir(), "--max-steps", "1", "--max-new-tokens", "6"}, extra...)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{base(), "--reward: at least one reward SPEC is required"},
		{base("--reward", "bleu"), `unknown kind "bleu"`},
		{base("--reward", "regex:("), "regex:("},
		{base("--reward", "regex:a", "--reward-weights", "1,2"), "--reward-weights: 2 weights for 1 --reward specs"},
		{base("--reward", "regex:a", "--loss-type", "sum"), `--loss-type "sum"`},
		{base("--reward", "regex:a", "--scale-rewards", "global"), `--scale-rewards "global"`},
		{base("--reward", "regex:a", "--num-generations", "1"), "--num-generations 1"},
		{base("--reward", "regex:a", "--advantage", "ppo"), `--advantage "ppo"`},
		{base("--reward", "regex:a", "--temperature", "0"), "--temperature 0"},
		{base("--reward", "regex:a", "--max-new-tokens", "1000"), "exceed the model's 128 positions"},
		{[]string{"grpo", "--policy", policy, "--prompts", bad, "--reward", "regex:a", "--out", t.TempDir()}, bad + ":2"},
		{[]string{"grpo", "--policy", policy, "--reward", "regex:a", "--out", t.TempDir()}, "--prompts: a prompt file is required"},
		{[]string{"grpo", "--prompts", prompts, "--reward", "regex:a", "--out", t.TempDir()}, "--policy: a model directory is required"},
	} {
		_, stderr, err := runAlign(t, "", c.args...)
		if err == nil || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: err %v, stderr %q; want %q", c.args, err, stderr, c.want)
		}
	}
}
