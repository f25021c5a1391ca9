package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/align-go/align/model"
	"github.com/align-go/align/tokenizer"
)

// prefModel writes a tiny random llama over a byte-level tokenizer (256
// bytes, <eos> 256, <pad> 257) to a directory, as an HF causal LM.
func prefModel(t *testing.T, seed uint64) string {
	t.Helper()
	dir := t.TempDir()
	tok, err := tokenizer.NewByteLevel(tokenizer.Config{EOSToken: "<eos>", PADToken: "<pad>"}, "<eos>", "<pad>")
	if err != nil {
		t.Fatal(err)
	}
	if err := tok.Save(dir); err != nil {
		t.Fatal(err)
	}
	cfg, err := model.ParseConfig(map[string]any{"model_type": "llama", "vocab_size": 258.0, "hidden_size": 32.0,
		"num_hidden_layers": 2.0, "num_attention_heads": 4.0, "num_key_value_heads": 2.0, "intermediate_size": 64.0,
		"max_position_embeddings": 128.0, "eos_token_id": 256.0})
	if err != nil {
		t.Fatal(err)
	}
	m := model.New(cfg)
	m.InitRandom(seed)
	if err := m.SaveDir(dir, "F32"); err != nil {
		t.Fatal(err)
	}
	return dir
}

var prefFillers = []string{"red", "blue", "cat", "dog", "sun", "tree", "rock", "fish", "bird", "cup", "map", "pen"}

// politeRows writes n preference rows whose chosen response has "thanks"
// among filler words where the rejected one has "whatever".
func politeRows(t *testing.T, n int, seed uint64) string {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 7))
	words := func(k int) []string {
		w := make([]string, k)
		for i := range w {
			w[i] = prefFillers[r.IntN(len(prefFillers))]
		}
		return w
	}
	var b strings.Builder
	for i := 0; i < n; i++ {
		ws := words(1 + r.IntN(3))
		at := r.IntN(len(ws) + 1)
		with := func(word string) string {
			out := append(append(append([]string(nil), ws[:at]...), word), ws[at:]...)
			return " " + strings.Join(out, " ")
		}
		row, _ := json.Marshal(map[string]string{"prompt": "say " + strings.Join(words(2), " ") + ":",
			"chosen": with("thanks"), "rejected": with("whatever")})
		b.Write(row)
		b.WriteByte('\n')
	}
	path := filepath.Join(t.TempDir(), fmt.Sprintf("pref%d.jsonl", seed))
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func trainRows(t *testing.T, out string) (rows, evals []map[string]float64) {
	t.Helper()
	for _, r := range metricRows(t, out) {
		if _, ok := r["eval_loss"]; ok {
			evals = append(evals, r)
		} else {
			rows = append(rows, r)
		}
	}
	return rows, evals
}

// trainRM trains a reward model on the polite rows and returns its directory.
// trainRM trains the reward model that TestRMCommand checks and the PPO
// and score tests use: once per test process (the five callers asked for
// the same deterministic run), into a directory TestMain removes. Callers
// only read it.
func trainRM(t *testing.T) string {
	t.Helper()
	sharedRM.once.Do(func() {
		sharedRM.err = errors.New("the shared reward model's training stopped early")
		out, err := os.MkdirTemp("", "align-test-rm-")
		if err != nil {
			sharedRM.err = err
			return
		}
		sharedDirs = append(sharedDirs, out)
		m := prefModel(t, 1)
		_, stderr, err := runAlign(t, "", "rm", "--model", m, "--data", politeRows(t, 256, 1), "--eval-data", politeRows(t, 100, 2),
			"--out", out, "--max-steps", "60", "--batch-size", "16", "--lr", "3e-3", "--lr-scheduler", "constant",
			"--logging-steps", "10", "--eval-steps", "30", "--save-steps", "0", "--center-rewards", "0.01")
		if err != nil {
			sharedRM.err = fmt.Errorf("%v\n%s", err, stderr)
			return
		}
		sharedRM.dir, sharedRM.err = out, nil
	})
	if sharedRM.err != nil {
		t.Fatal(sharedRM.err)
	}
	return sharedRM.dir
}

var sharedRM struct {
	once sync.Once
	dir  string
	err  error
}

func TestRMCommand(t *testing.T) {
	out := trainRM(t)
	rows, evals := trainRows(t, out)
	if len(rows) != 6 || len(evals) != 2 {
		t.Fatalf("%d training rows and %d eval rows, want 6 and 2", len(rows), len(evals))
	}
	for _, k := range []string{"loss", "accuracy", "margin", "rewards/chosen", "rewards/rejected"} {
		if _, ok := rows[0][k]; !ok {
			t.Errorf("training row lacks %q: %v", k, rows[0])
		}
		if _, ok := evals[0]["eval_"+k]; !ok {
			t.Errorf("eval row lacks %q: %v", "eval_"+k, evals[0])
		}
	}
	last := evals[len(evals)-1]
	if last["eval_accuracy"] < 0.9 {
		t.Errorf("held-out accuracy %.3f < 0.9", last["eval_accuracy"])
	}
	var cfg map[string]any
	b, err := os.ReadFile(filepath.Join(out, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	json.Unmarshal(b, &cfg)
	if a, _ := cfg["architectures"].([]any); len(a) != 1 || a[0] != "LlamaForSequenceClassification" || cfg["num_labels"] != 1.0 || cfg["pad_token_id"] != 257.0 {
		t.Errorf("config.json: architectures %v num_labels %v pad_token_id %v", cfg["architectures"], cfg["num_labels"], cfg["pad_token_id"])
	}
	for _, f := range []string{"model.safetensors", "tokenizer.json", "tokenizer_config.json", "config.yaml", "metrics.jsonl"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Errorf("OUT lacks %s", f)
		}
	}
	yml, _ := os.ReadFile(filepath.Join(out, "config.yaml"))
	if !strings.Contains(string(yml), "center_rewards: 0.01\n") {
		t.Errorf("config.yaml lacks center_rewards:\n%s", yml)
	}
}

func TestRMCommandErrors(t *testing.T) {
	m := prefModel(t, 1)
	data := politeRows(t, 4, 1)
	bad := filepath.Join(t.TempDir(), "bad.jsonl")
	os.WriteFile(bad, []byte(`{"prompt":"p","chosen":"a","rejected":"b"}`+"\n"+`{"prompt":"p","chosen":"same","rejected":"same"}`+"\n"), 0o644)
	out := func() string { return filepath.Join(t.TempDir(), "o") }
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no data", []string{"rm", "--model", m, "--out", out()}, "--data"},
		{"no model", []string{"rm", "--data", data, "--out", out()}, "--model"},
		{"missing model dir", []string{"rm", "--model", filepath.Join(m, "nope"), "--data", data, "--out", out()}, "config.json"},
		{"bad row", []string{"rm", "--model", m, "--data", bad, "--out", out()}, "bad.jsonl:2"},
		{"both evals", []string{"rm", "--model", m, "--data", data, "--eval-data", data, "--eval-fraction", "0.1", "--out", out()}, "not both"},
		{"tiny max length", []string{"rm", "--model", m, "--data", data, "--max-length", "3", "--out", out()}, "no pair fits"},
		{"dpo unknown loss", []string{"dpo", "--model", m, "--data", data, "--loss", "kto", "--out", out()}, "unknown preference loss"},
		{"simpo with ref", []string{"dpo", "--model", m, "--ref", m, "--data", data, "--loss", "simpo", "--out", out()}, "--ref"},
		{"dpo beta", []string{"dpo", "--model", m, "--data", data, "--beta", "0", "--out", out()}, "beta"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, stderr, err := runAlign(t, "", tc.args...)
			if err == nil || !strings.Contains(stderr, tc.want) {
				t.Fatalf("err %v, stderr %q; want it to mention %q", err, stderr, tc.want)
			}
		})
	}
}
