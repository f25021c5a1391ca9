package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func onlineDPOArgs(policy, prompts string, extra ...string) []string {
	return append([]string{"online-dpo", "--policy", policy, "--prompts", prompts, "--batch-size", "4",
		"--max-new-tokens", "6", "--temperature", "1", "--lr", "3e-3", "--logging-steps", "1", "--sample-steps", "1",
		"--seed", "5", "--lr-scheduler", "constant"}, extra...)
}

type onlineDPOSample struct {
	Step        int       `json:"step"`
	Completions []string  `json:"completions"`
	Scores      []float64 `json:"scores"`
	EOS         []bool    `json:"contain_eos"`
	Chosen      int       `json:"chosen"`
}

// TestOnlineDPOCommand runs align online-dpo ranked by a regex reward with
// a missing-EOS penalty and checks samples.jsonl against the completions:
// each score is recomputed here (1 for a match, minus 0.5 without EOS), the
// chosen completion is the higher-scored one, and the step's
// objective/scores is their mean. A judge run under the default
// constitution logs the judge's agreement across orders.
func TestOnlineDPOCommand(t *testing.T) {
	policy, prompts := prefModel(t, 3), grpoPromptsJSONL(t)
	out := filepath.Join(t.TempDir(), "run")
	args := onlineDPOArgs(policy, prompts, "--out", out, "--max-steps", "3", "--save-steps", "0",
		"--reward", "regex:[a-f]", "--missing-eos-penalty", "0.5")
	if _, stderr, err := runAlign(t, "", args...); err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	rows := metricRows(t, out)
	if len(rows) != 3 {
		t.Fatalf("%d metrics rows, want 3", len(rows))
	}
	for _, k := range []string{"loss", "objective/scores", "objective/scores_margin", "objective/kl", "objective/entropy",
		"objective/non_score_reward", "objective/rlhf_reward", "rewards/chosen", "rewards/rejected", "rewards/accuracies",
		"rewards/margins", "logps/chosen", "logps/rejected", "val/contain_eos_token", "beta", "learning_rate", "grad_norm"} {
		if _, ok := rows[2][k]; !ok {
			t.Errorf("metric %s missing from %v", k, rows[2])
		}
	}
	if rows[0]["objective/kl"] != 0 || rows[0]["loss"] != 0.6931471805599453 {
		t.Errorf("step 1: kl %v loss %v, want 0 and ln 2 (the policy is still the reference)", rows[0]["objective/kl"], rows[0]["loss"])
	}
	b, err := os.ReadFile(filepath.Join(out, "samples.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile("[a-f]")
	perStep := map[int][]float64{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var s onlineDPOSample
		if err := json.Unmarshal([]byte(line), &s); err != nil {
			t.Fatal(err)
		}
		for g, c := range s.Completions {
			want := 0.0
			if re.MatchString(c) {
				want = 1
			}
			if !s.EOS[g] {
				want -= 0.5
			}
			if s.Scores[g] != want {
				t.Errorf("step %d completion %q (eos %v): score %v, want %v", s.Step, c, s.EOS[g], s.Scores[g], want)
			}
		}
		if s.Scores[s.Chosen] < s.Scores[1-s.Chosen] || (s.Scores[0] == s.Scores[1] && s.Chosen != 0) {
			t.Errorf("step %d: chose %d of scores %v", s.Step, s.Chosen, s.Scores)
		}
		perStep[s.Step] = append(perStep[s.Step], s.Scores...)
	}
	for step, sc := range perStep {
		mean := 0.0
		for _, v := range sc {
			mean += v / float64(len(sc))
		}
		if got := rows[step-1]["objective/scores"]; abs(got-mean) > 1e-9 {
			t.Errorf("step %d: objective/scores %v, samples give %v", step, got, mean)
		}
	}

	jout := filepath.Join(t.TempDir(), "judge")
	args = onlineDPOArgs(policy, prompts, "--out", jout, "--max-steps", "2", "--save-steps", "0",
		"--judge", "rule:regex:[a-f]", "--constitution", "default")
	if _, stderr, err := runAlign(t, "", args...); err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	jrows := metricRows(t, jout)
	if a, ok := jrows[1]["judge/agreement"]; !ok || a != 1 {
		t.Errorf("judge/agreement %v (present %v): a rule has no position bias, want 1", a, ok)
	}
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

// TestOnlineDPOResume: stopped at a checkpoint and resumed, a run ends
// with the same weights as an uninterrupted one — the sampling seeds, the
// judge's principles and the reference must all be the uninterrupted
// run's. Full fine-tuning ranked by a reward, and LoRA (adapters-off
// reference) judged under the constitution.
func TestOnlineDPOResume(t *testing.T) {
	policy, prompts := prefModel(t, 3), grpoPromptsJSONL(t)
	for _, tc := range []struct {
		name string
		args []string
		file string
	}{
		{"reward", []string{"--reward", "regex:[a-f]", "--missing-eos-penalty", "1"}, "model.safetensors"},
		{"lora judge", []string{"--judge", "rule:regex:[a-f]", "--constitution", "default", "--lora-r", "4",
			"--lora-dropout", "0.1"}, "adapter_model.safetensors"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkResumeExact(t, onlineDPOArgs(policy, prompts, append(tc.args, "--save-steps", "3")...), tc.file)
		})
	}
}

// TestOnlineDPOBadFlags: the ranker flags fail before any model loads,
// naming the flag.
func TestOnlineDPOBadFlags(t *testing.T) {
	policy, prompts := prefModel(t, 3), grpoPromptsJSONL(t)
	out := filepath.Join(t.TempDir(), "run")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "--judge/--reward: required (a judge or a reward ranks the sampled pairs)"},
		{[]string{"--judge", "rule:refusal", "--reward", "regex:a"}, "give one"},
		{[]string{"--reward", "regex:a", "--constitution", "default"}, "--constitution needs --judge"},
		{[]string{"--judge", "nope:x"}, "--judge"},
		{[]string{"--reward", "regex:a", "--loss", "nope"}, "nope"},
		{[]string{"--reward", "regex:a", "--missing-eos-penalty", "-1"}, "--missing-eos-penalty"},
	} {
		_, stderr, err := runAlign(t, "", onlineDPOArgs(policy, prompts, append(tc.args, "--out", out, "--max-steps", "1")...)...)
		if err == nil || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: err %v, stderr %q: want an error naming %q", tc.args, err, stderr, tc.want)
		}
	}
}
