package main

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/align-go/align/chat"
	"github.com/align-go/align/model"
	"github.com/align-go/align/rewardmodel"
)

// keysInOrder lists a JSON object's keys as written.
func keysInOrder(t *testing.T, line string) []string {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(line))
	if _, err := dec.Token(); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatal(err)
		}
	}
	return keys
}

func TestScoreCommand(t *testing.T) {
	rm := trainRM(t)
	in := filepath.Join(t.TempDir(), "rows.jsonl")
	rows := []string{
		`{"id": 1, "prompt": "say cat dog:", "completion": " thanks cat", "meta": {"a": [1, 2]}}`,
		`{"prompt": "say cat dog:", "response": " whatever cat", "id": 2}`,
		``,
		`{"reward": 99, "prompt": "say sun:", "completion": " pen thanks"}`,
		`{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "thanks"}], "id": 4}`,
		`{"prompt": "say red:", "chosen": " thanks red", "rejected": " whatever red", "id": 5}`,
	}
	os.WriteFile(in, []byte(strings.Join(rows, "\n")+"\n"), 0o644)
	stdout, stderr, err := runAlign(t, "", "score", "--model", rm, "--data", in, "--batch-size", "2")
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if len(lines) != 5 {
		t.Fatalf("%d output rows, want 5:\n%s", len(lines), stdout)
	}
	wantKeys := [][]string{
		{"id", "prompt", "completion", "meta", "reward"},
		{"prompt", "response", "id", "reward"},
		{"reward", "prompt", "completion"},
		{"messages", "id", "reward"},
		{"prompt", "chosen", "rejected", "id", "reward_chosen", "reward_rejected"},
	}
	var got []map[string]any
	for i, l := range lines {
		if k := keysInOrder(t, l); !slices.Equal(k, wantKeys[i]) {
			t.Errorf("row %d keys %v, want %v", i+1, k, wantKeys[i])
		}
		var m map[string]any
		json.Unmarshal([]byte(l), &m)
		got = append(got, m)
	}
	if !strings.Contains(lines[0], `"meta":{"a":[1,2]}`) || got[0]["id"] != 1.0 {
		t.Errorf("original fields not kept: %s", lines[0])
	}
	// The same sequences through the library scorer.
	sc, err := rewardmodel.LoadScorer(rm, "")
	if err != nil {
		t.Fatal(err)
	}
	plain, err := sc.Score([]string{"say cat dog:", "say cat dog:", "say sun:", "say red:", "say red:"},
		[]string{" thanks cat", " whatever cat", " pen thanks", " thanks red", " whatever red"})
	if err != nil {
		t.Fatal(err)
	}
	chat, err := sc.ScoreChats([][]chat.Message{{{Role: "user", Content: "hi"}}}, [][]chat.Message{{{Role: "assistant", Content: "thanks"}}})
	if err != nil {
		t.Fatal(err)
	}
	want := []float64{plain[0], plain[1], plain[2], chat[0], plain[3], plain[4]}
	have := []any{got[0]["reward"], got[1]["reward"], got[2]["reward"], got[3]["reward"], got[4]["reward_chosen"], got[4]["reward_rejected"]}
	for i := range want {
		h, ok := have[i].(float64)
		if !ok || math.Abs(h-want[i]) > 1e-6*math.Max(1, math.Abs(want[i])) {
			t.Errorf("reward %d: command %v, library %v", i, have[i], want[i])
		}
	}
	// The trained model prefers the polite responses.
	if !(plain[0] > plain[1] && plain[3] > plain[4]) {
		t.Errorf("polite responses not preferred: %v", plain)
	}

	// --out writes the same rows to a file.
	outFile := filepath.Join(t.TempDir(), "scored.jsonl")
	if _, stderr, err := runAlign(t, "", "score", "--model", rm, "--data", in, "--out", outFile, "--batch-size", "2"); err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	if b, _ := os.ReadFile(outFile); !bytes.Equal(b, []byte(stdout)) {
		t.Errorf("--out differs from stdout:\n%s\n%s", b, stdout)
	}
}

func TestScoreCommandErrors(t *testing.T) {
	lm := prefModel(t, 1)
	// A reward model is only needed to get past loading; a saved RM with a
	// random head will do.
	rmDir := t.TempDir()
	sc, _, err := rewardmodel.LoadRewardModel(lm)
	if err != nil {
		t.Fatal(err)
	}
	sc.Pad = 257
	if err := sc.Save(rmDir, "F32"); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"tokenizer.json", "tokenizer_config.json"} {
		b, _ := os.ReadFile(filepath.Join(lm, f))
		os.WriteFile(filepath.Join(rmDir, f), b, 0o644)
	}
	write := func(s string) string {
		p := filepath.Join(t.TempDir(), "in.jsonl")
		os.WriteFile(p, []byte(s), 0o644)
		return p
	}
	for _, tc := range []struct {
		name  string
		model string
		rows  string
		want  string
	}{
		{"causal LM", lm, `{"prompt":"a","completion":"b"}`, "not a reward model"},
		{"unknown fields", rmDir, `{"prompt":"a","completion":"b"}` + "\n" + `{"text":"x"}`, `in.jsonl:2: want fields "prompt"`},
		{"not an object", rmDir, `[1,2]`, "in.jsonl:1"},
		{"bad message", rmDir, `{"messages":[{"role":"user","content":3}]}`, `in.jsonl:1: field "messages[0].content"`},
		{"no assistant turn", rmDir, `{"messages":[{"role":"user","content":"hi"}]}`, "does not end with an assistant turn"},
		{"preference without prompt", rmDir, `{"chosen":"a","rejected":"b"}`, `field "prompt": missing`},
		{"empty file", rmDir, "\n\n", "no rows"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, stderr, err := runAlign(t, "", "score", "--model", tc.model, "--data", write(tc.rows))
			if err == nil || !strings.Contains(stderr, tc.want) {
				t.Fatalf("err %v, stderr %q; want it to mention %q", err, stderr, tc.want)
			}
		})
	}
}

// align score --torch-dtype bfloat16 keeps the reward model's frozen weights
// (Linear layers, token embedding) in bf16: the library scorer loaded the
// same way gives the command's rewards, which moved off the f32 ones by
// bf16 rounding only.
func TestScoreLoadDType(t *testing.T) {
	rm := trainRM(t)
	in := filepath.Join(t.TempDir(), "rows.jsonl")
	os.WriteFile(in, []byte(`{"prompt": "say cat dog:", "completion": " thanks cat"}`+"\n"+
		`{"prompt": "say red:", "completion": " whatever red"}`+"\n"), 0o644)
	stdout, stderr, err := runAlign(t, "", "score", "--model", rm, "--data", in, "--torch-dtype", "bfloat16")
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	var got []float64
	for _, l := range strings.Split(strings.TrimSpace(stdout), "\n") {
		var m map[string]any
		json.Unmarshal([]byte(l), &m)
		got = append(got, m["reward"].(float64))
	}
	sc, err := rewardmodel.LoadScorerOpts(rm, "", model.LoadOptions{WeightDType: "bf16"})
	if err != nil {
		t.Fatal(err)
	}
	if dt := sc.RM.Model.WeightDType(); dt != "bf16" || !sc.RM.Model.Param("embed").Compact {
		t.Fatalf("scorer loaded with Linear weights %s, embedding compact %v", dt, sc.RM.Model.Param("embed").Compact)
	}
	prompts, completions := []string{"say cat dog:", "say red:"}, []string{" thanks cat", " whatever red"}
	b16, err := sc.Score(prompts, completions)
	if err != nil {
		t.Fatal(err)
	}
	f32sc, err := rewardmodel.LoadScorer(rm, "")
	if err != nil {
		t.Fatal(err)
	}
	f32, err := f32sc.Score(prompts, completions)
	if err != nil {
		t.Fatal(err)
	}
	moved := false
	for i := range got {
		if math.Abs(got[i]-b16[i]) > 1e-6*math.Max(1, math.Abs(b16[i])) {
			t.Errorf("reward %d: command %v, bf16 library scorer %v", i, got[i], b16[i])
		}
		if math.Abs(got[i]-f32[i]) > 0.05*math.Max(1, math.Abs(f32[i])) {
			t.Errorf("reward %d: bf16 %v, f32 %v: more than bf16 rounding apart", i, got[i], f32[i])
		}
		moved = moved || got[i] != f32[i]
	}
	if !moved {
		t.Error("bf16 rewards equal the f32 ones exactly: --torch-dtype did not reach the scorer")
	}
}
