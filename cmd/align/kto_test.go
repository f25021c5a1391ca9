package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// unpairedRows rewrites a preference file as unpaired rows, the pairs'
// halves interleaved in a different order than the split makes them.
func unpairedRows(t *testing.T, pairs string) string {
	t.Helper()
	f, err := os.Open(pairs)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var b bytes.Buffer
	sc := bufio.NewScanner(f)
	for k := 0; sc.Scan(); k++ {
		var r map[string]string
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		good, _ := json.Marshal(map[string]any{"prompt": r["prompt"], "completion": r["chosen"], "label": true})
		bad, _ := json.Marshal(map[string]any{"prompt": r["prompt"], "completion": r["rejected"], "label": false})
		if k%2 == 1 {
			good, bad = bad, good
		}
		b.Write(append(good, '\n'))
		b.Write(append(bad, '\n'))
	}
	p := filepath.Join(t.TempDir(), "kto.jsonl")
	if err := os.WriteFile(p, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func runKTO(t *testing.T, args ...string) (out string, rows []map[string]float64, stderr string) {
	t.Helper()
	out = filepath.Join(t.TempDir(), "kto")
	_, stderr, err := runAlign(t, "", append([]string{"kto", "--out", out, "--save-steps", "0"}, args...)...)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	rows, _ = trainRows(t, out)
	return out, rows, stderr
}

// TestKTOCommandStepZero: before any update the policy is its reference
// (a copy, or the LoRA base with adapters off), so every reward and z₀ are
// exactly 0 and the loss is 1 − σ(0) = ½ with unit weights.
func TestKTOCommandStepZero(t *testing.T) {
	m, data := prefModel(t, 1), politeRows(t, 16, 1)
	for _, extra := range [][]string{nil, {"--lora-r", "4"}} {
		t.Run(strings.Join(append([]string{"full"}, extra...), " "), func(t *testing.T) {
			_, rows, stderr := runKTO(t, append([]string{"--model", m, "--data", data, "--max-steps", "1", "--logging-steps", "1",
				"--batch-size", "8", "--grad-accum", "2"}, extra...)...)
			r := rows[0]
			if r["loss"] != 0.5 || r["kl"] != 0 || r["rewards/chosen"] != 0 || r["rewards/rejected"] != 0 {
				t.Errorf("step zero: %v", r)
			}
			if !strings.Contains(stderr, "16 preference pairs split into 32 unpaired rows") {
				t.Errorf("log: %s", stderr)
			}
		})
	}
}

// TestKTOCommandLearns trains on preference pairs split into unpaired rows
// and on the same feedback written as unpaired rows (with apo_zero_unpaired
// too): the loss falls, desirable rows' rewards rise above undesirable
// ones', and metrics.jsonl has TRL's names. The tiny model needs a high
// learning rate.
func TestKTOCommandLearns(t *testing.T) {
	m, pairs := prefModel(t, 1), politeRows(t, 64, 1)
	unpaired := unpairedRows(t, pairs)
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"pairs split", []string{"--data", pairs}},
		{"unpaired weighted", []string{"--data", unpaired, "--desirable-weight", "1.2", "--undesirable-weight", "0.9"}},
		{"apo_zero_unpaired", []string{"--data", unpaired, "--loss", "apo_zero_unpaired"}},
		{"lora", []string{"--data", pairs, "--lora-r", "8", "--lr", "2e-2"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, rows, _ := runKTO(t, append([]string{"--model", m, "--max-steps", "15", "--batch-size", "16", "--lr", "3e-3",
				"--lr-scheduler", "constant", "--logging-steps", "5", "--beta", "0.5"}, tc.args...)...)
			first, last := rows[0], rows[len(rows)-1]
			t.Logf("first %v\nlast %v", first, last)
			if !(last["loss"] < first["loss"]) || !(last["rewards/margins"] > 0) || !(last["rewards/chosen"] > last["rewards/rejected"]) {
				t.Errorf("loss %.4f -> %.4f, margins %.4f", first["loss"], last["loss"], last["rewards/margins"])
			}
			keys := []string{"rewards/chosen", "rewards/rejected", "rewards/margins", "logps/chosen", "logps/rejected"}
			if tc.name != "apo_zero_unpaired" {
				keys = append(keys, "kl")
			} else if _, ok := last["kl"]; ok {
				t.Error("apo_zero_unpaired logs kl")
			}
			for _, k := range keys {
				if _, ok := last[k]; !ok {
					t.Errorf("metrics.jsonl has no %q", k)
				}
			}
		})
	}
}

// TestKTOCommandResume: stopped at a checkpoint and resumed, a run ends
// with the weights of an uninterrupted one (the reference stays the
// starting policy).
func TestKTOCommandResume(t *testing.T) {
	m, data := prefModel(t, 1), politeRows(t, 24, 1)
	for _, tc := range []struct {
		name string
		args []string
		file string
	}{
		{"full", nil, "model.safetensors"},
		{"lora", []string{"--lora-r", "4", "--lora-dropout", "0.1"}, "adapter_model.safetensors"},
		{"precompute", []string{"--precompute-ref"}, "model.safetensors"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			common := append([]string{"kto", "--model", m, "--data", data, "--batch-size", "8", "--lr", "1e-3",
				"--lr-scheduler", "constant", "--save-steps", "3", "--logging-steps", "1"}, tc.args...)
			checkResumeExact(t, common, tc.file)
		})
	}
}

func TestKTOCommandErrors(t *testing.T) {
	m := prefModel(t, 1)
	bad := filepath.Join(t.TempDir(), "bad.jsonl")
	os.WriteFile(bad, []byte(`{"prompt":"a","completion":"b","label":true}`+"\n"+`{"prompt":"a","completion":"c","label":"no"}`+"\n"), 0o644)
	good := filepath.Join(t.TempDir(), "good.jsonl")
	os.WriteFile(good, []byte(`{"prompt":"a","completion":"b","label":true}`+"\n"+`{"prompt":"a","completion":"c","label":false}`+"\n"), 0o644)
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"label", []string{"--data", bad}, `bad.jsonl:2: field "label": want boolean`},
		{"loss", []string{"--data", good, "--loss", "sigmoid"}, "--loss: loss: unknown KTO loss type"},
		{"weight", []string{"--data", good, "--undesirable-weight", "-1"}, "undesirable weight"},
		{"beta", []string{"--data", good, "--beta", "0"}, "beta"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, stderr, err := runAlign(t, "", append([]string{"kto", "--model", m, "--out", filepath.Join(t.TempDir(), "o")}, tc.args...)...)
			if err == nil || !strings.Contains(err.Error()+stderr, tc.want) {
				t.Errorf("error %v %s, want %q", err, stderr, tc.want)
			}
		})
	}
}
