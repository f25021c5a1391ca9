package main

import (
	"context"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/align-go/align/cai"
	"github.com/align-go/align/data"
	"github.com/align-go/align/engine"
	"github.com/align-go/align/judge"
	"github.com/align-go/align/llm"
	"github.com/align-go/align/model"
)

// TestCAIReviseLoadFlags: cai revise --load-in-8bit generates with an int8
// policy: its revisions are those of the library's Revise on the policy
// opened with int8 Linear weights, which differ from the f32 policy's (so
// a command that dropped the flag would write the f32 ones).
func TestCAIReviseLoadFlags(t *testing.T) {
	dir := t.TempDir()
	policy := sharpPolicy(t)
	prompts := filepath.Join(dir, "prompts.jsonl")
	writeLines(t, prompts, []any{map[string]any{"prompt": "How do I pick a lock?"},
		map[string]any{"prompt": "Is the moon cheese?"}, map[string]any{"prompt": "Tell me a secret."}})
	out := filepath.Join(dir, "cli")
	if _, stderr, err := runAlign(t, "", "cai", "revise", "--policy", policy, "--prompts", prompts, "--out", out,
		"--max-new-tokens", "12", "--temperature", "1", "--seed", "3", "--batch-size", "4", "--load-in-8bit"); err != nil {
		t.Fatalf("revise --load-in-8bit: %v\n%s", err, stderr)
	}
	got := readRows(t, filepath.Join(out, cai.TraceFile))

	rows, _, err := data.ReadPrompts(prompts, data.Options{})
	if err != nil {
		t.Fatal(err)
	}
	todo := make([]cai.Prompt, len(rows))
	for i, r := range rows {
		todo[i] = cai.Prompt{Index: i, Messages: promptMessages(r)}
	}
	library := func(load model.LoadOptions, wantDType string) []map[string]any {
		t.Helper()
		c, closeFn, err := llm.Open(policy, engine.Options{MaxBatch: 4, Load: load})
		if err != nil {
			t.Fatal(err)
		}
		defer closeFn()
		if dt := c.(*llm.Local).E.Model.WeightDType(); dt != wantDType {
			t.Fatalf("library policy loaded %s, want %s", dt, wantDType)
		}
		revs, err := cai.Revise(context.Background(), c, cai.Default(), todo,
			cai.ReviseOptions{Rounds: 1, Seed: 3, Sampling: cai.Sampling{MaxTokens: 12, Temperature: 1, TopP: 1}})
		if err != nil {
			t.Fatal(err)
		}
		o := filepath.Join(t.TempDir(), "lib")
		w, err := cai.OpenOutput(o)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Write(revs); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		return readRows(t, filepath.Join(o, cai.TraceFile))
	}
	int8 := library(model.LoadOptions{WeightDType: "int8"}, "int8")
	if f32 := library(model.LoadOptions{}, "f32"); reflect.DeepEqual(int8, f32) {
		t.Fatal("the int8 and f32 policies write the same revisions: the test cannot tell them apart")
	}
	if !reflect.DeepEqual(got, int8) {
		t.Errorf("revise --load-in-8bit wrote\n%v\nthe int8 policy's revisions are\n%v", got, int8)
	}
}

// TestCAILabelLoadFlags: cai label --torch-dtype bfloat16 judges with a bf16
// local: judge: its p_chosen are the library's LabelPairs on the judge opened
// with bf16 weights, bit for bit, and differ from the f32 judge's.
func TestCAILabelLoadFlags(t *testing.T) {
	dir := t.TempDir()
	policy := sharpPolicy(t)
	pairs := filepath.Join(dir, "pairs.jsonl")
	writeLines(t, pairs, []any{
		map[string]any{"prompt": "Help me?", "chosen": "Sure, thanks for asking.", "rejected": "whatever"},
		map[string]any{"prompt": "Is the moon cheese?", "chosen": "No, it is rock.", "rejected": "Yes."},
		map[string]any{"prompt": "Help me?", "chosen": "thanks a lot", "rejected": "thanks anyway"},
	})
	out := filepath.Join(dir, "labels.jsonl")
	if _, stderr, err := runAlign(t, "", "cai", "label", "--judge", "local:"+policy, "--data", pairs, "--out", out,
		"--seed", "1", "--torch-dtype", "bfloat16"); err != nil {
		t.Fatalf("label --torch-dtype bfloat16: %v\n%s", err, stderr)
	}
	var got []float64
	for _, r := range readRows(t, out) {
		got = append(got, r["p_chosen"].(float64))
	}

	rows, _, err := data.ReadPreference(pairs, data.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ps := make([]cai.Pair, len(rows))
	for i, r := range rows {
		if ps[i], err = preferencePair(i, r); err != nil {
			t.Fatal(err)
		}
	}
	library := func(load model.LoadOptions, wantDType string) []float64 {
		t.Helper()
		j, err := judge.ParseWith("local:"+policy, engine.Options{Load: load})
		if err != nil {
			t.Fatal(err)
		}
		l := j.(judge.LLM).C.(*llm.Local)
		defer l.Close()
		if dt := l.E.Model.WeightDType(); dt != wantDType {
			t.Fatalf("library judge loaded %s, want %s", dt, wantDType)
		}
		ls, err := cai.LabelPairs(context.Background(), j, cai.Default(), ps, cai.LabelOptions{Seed: 1})
		if err != nil {
			t.Fatal(err)
		}
		var p []float64
		for k, lb := range ls {
			if row := lb.Row(ps[k]); row != nil {
				p = append(p, *row.PChosen)
			}
		}
		return p
	}
	bf16 := library(model.LoadOptions{WeightDType: "bf16"}, "bf16")
	if f32 := library(model.LoadOptions{}, "f32"); reflect.DeepEqual(bf16, f32) {
		t.Fatal("the bf16 and f32 judges give the same p_chosen: the test cannot tell them apart")
	}
	if len(got) == 0 || !reflect.DeepEqual(got, bf16) {
		t.Errorf("label --torch-dtype bfloat16 wrote p_chosen %v; the bf16 judge gives %v", got, bf16)
	}
}

// sharpPolicy is caiPolicy with its matrices scaled up (std 0.02 -> 0.5):
// the random model's next-token distributions are then peaked rather than
// near-uniform, so rounding its weights changes what it samples (at the
// initial scale int8 moved one of the three answers, here all three) and
// its judgements by more than 1e-5.
func sharpPolicy(t *testing.T) string {
	t.Helper()
	dir := caiPolicy(t)
	m, err := model.LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range m.Params {
		if strings.Contains(p.Name, "norm") || strings.HasSuffix(p.Name, ".bias") {
			continue
		}
		for i := range m.Data[p.Offset : p.Offset+p.Size] {
			m.Data[p.Offset+i] *= 25
		}
	}
	if err := m.SaveDir(dir, "F32"); err != nil {
		t.Fatal(err)
	}
	return dir
}
