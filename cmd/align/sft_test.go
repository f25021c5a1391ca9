package main

import (
	"bufio"
	"encoding/json"
	"github.com/align-go/align/policy"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/align-go/align/model"
	"github.com/align-go/align/tokenizer"
)

// writeCharModel writes a tiny random Llama-family model over a byte-level
// tokenizer (256 bytes + ChatML specials) into dir: a base for CLI trainers
// that tests can afford to train from scratch.
func writeCharModel(t *testing.T, dir string) {
	t.Helper()
	tok, err := tokenizer.NewByteLevel(tokenizer.Config{EOSToken: "<|im_end|>", PADToken: "<|endoftext|>", ChatTemplate: tokenizer.ChatMLTemplate},
		"<|endoftext|>", "<|im_start|>", "<|im_end|>")
	if err != nil {
		t.Fatal(err)
	}
	if err := tok.Save(dir); err != nil {
		t.Fatal(err)
	}
	cfg, err := model.ParseConfig(map[string]any{"model_type": "llama", "vocab_size": float64(tok.VocabSize()),
		"hidden_size": 64.0, "num_hidden_layers": 2.0, "num_attention_heads": 4.0, "num_key_value_heads": 2.0,
		"intermediate_size": 128.0, "max_position_embeddings": 128.0, "tie_word_embeddings": true,
		"eos_token_id": 258.0, "pad_token_id": 256.0})
	if err != nil {
		t.Fatal(err)
	}
	m := model.New(cfg)
	m.InitRandom(1)
	if err := m.SaveDir(dir, "F32"); err != nil {
		t.Fatal(err)
	}
}

func writeLines(t *testing.T, path string, rows []any) {
	t.Helper()
	var b strings.Builder
	for _, r := range rows {
		j, _ := json.Marshal(r)
		b.Write(j)
		b.WriteByte('\n')
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestSFTLearnsResponseFormat: SFT from scratch on chats whose answers all
// follow one format teaches the format and, through the trained end-of-turn
// token, when to stop — checked with `align generate` on unseen prompts.
func TestSFTLearnsResponseFormat(t *testing.T) {
	var a []map[string]float64 // f32 metric rows (its directory goes with its subtest)
	t.Run("f32", func(t *testing.T) { a, _ = trainRows(t, testSFTLearnsResponseFormat(t)) })
	// --bf16 learns the same format, with losses near (not equal to) f32's;
	// config.yaml records the flag.
	t.Run("bf16", func(t *testing.T) {
		out := testSFTLearnsResponseFormat(t, "--bf16")
		if cfg, err := os.ReadFile(filepath.Join(out, "config.yaml")); err != nil || !strings.Contains(string(cfg), "bf16: true") {
			t.Errorf("config.yaml does not record bf16: %v\n%s", err, cfg)
		}
		if a == nil {
			return
		}
		b, _ := trainRows(t, out)
		if len(a) == 0 || len(a) != len(b) {
			t.Fatalf("%d f32 and %d bf16 metric rows", len(a), len(b))
		}
		l32, l16 := a[0]["loss"], b[0]["loss"]
		t.Logf("loss at step %v: f32 %.5f, bf16 %.5f", a[0]["step"], l32, l16)
		if l32 == l16 || math.Abs(l32-l16) > 0.05*l32 {
			t.Errorf("first logged loss: f32 %.6f, bf16 %.6f; want different and within 5%%", l32, l16)
		}
	})
}

func testSFTLearnsResponseFormat(t *testing.T, extra ...string) (out string) {
	dir := t.TempDir()
	base := filepath.Join(dir, "base")
	writeCharModel(t, base)
	words := []string{"red", "blue", "green", "cat", "dog", "sun", "moon", "tree", "fish", "bird",
		"rain", "snow", "wind", "fire", "rock", "sand", "leaf", "star", "ship", "sea"}
	var rows []any
	for _, w := range words {
		rows = append(rows, map[string]any{"messages": []map[string]string{
			{"role": "user", "content": "Say " + w}, {"role": "assistant", "content": "OK: " + w + "!"}}})
	}
	train := filepath.Join(dir, "train.jsonl")
	writeLines(t, train, rows)
	out = filepath.Join(dir, "sft")
	stdout, stderr, err := runAlign(t, "", append([]string{"sft", "--model", base, "--data", train, "--out", out,
		"--max-steps", "60", "--batch-size", "10", "--lr", "3e-3", "--lr-scheduler", "constant", "--logging-steps", "50"}, extra...)...)
	if err != nil {
		t.Fatalf("sft: %v\n%s\n%s", err, stdout, stderr)
	}
	if !strings.Contains(stderr, "20 rows (messages)") {
		t.Errorf("sft did not report its rows: %s", stderr)
	}
	prompts := filepath.Join(dir, "prompts.jsonl")
	writeLines(t, prompts, []any{map[string]string{"prompt": "Say cat"}, map[string]string{"prompt": "Say star"}})
	gen, stderr, err := runAlign(t, "", "generate", "--model", out, "--prompts", prompts, "--chat",
		"--max-new-tokens", "30", "--temperature", "0")
	if err != nil {
		t.Fatalf("generate: %v\n%s", err, stderr)
	}
	sc := bufio.NewScanner(strings.NewReader(gen))
	n := 0
	for sc.Scan() {
		var r struct {
			Prompt, Completion string
			FinishReason       string `json:"finish_reason"`
		}
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		n++
		t.Logf("%q -> %q (%s)", r.Prompt, r.Completion, r.FinishReason)
		if !strings.HasPrefix(r.Completion, "OK: ") || r.FinishReason != "stop" {
			t.Errorf("%q: completion %q (%s); want the trained format ending in a stop", r.Prompt, r.Completion, r.FinishReason)
		}
	}
	if n != 2 {
		t.Fatalf("generate wrote %d rows, want 2", n)
	}
	return out
}

// TestSFTWithLoRAAndMerge: a LoRA SFT run writes PEFT adapters (not a full
// model); `align merge` folds them into a plain model whose log-probs equal the
// base+adapters model's.
func TestSFTWithLoRAAndMerge(t *testing.T) {
	dir := t.TempDir()
	base := filepath.Join(dir, "base")
	writeCharModel(t, base)
	train := filepath.Join(dir, "train.jsonl")
	writeLines(t, train, []any{map[string]string{"prompt": "Say hi", "completion": " hi!"},
		map[string]string{"prompt": "Say yo", "completion": " yo!"}})
	out := filepath.Join(dir, "lora")
	if _, stderr, err := runAlign(t, "", "sft", "--model", base, "--data", train, "--out", out, "--max-steps", "5",
		"--batch-size", "2", "--lr", "1e-2", "--lora-r", "4", "--lora-targets", "q_proj,v_proj"); err != nil {
		t.Fatalf("sft --lora-r: %v\n%s", err, stderr)
	}
	for _, f := range []string{"adapter_config.json", "adapter_model.safetensors", "tokenizer.json"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Errorf("LoRA run output lacks %s", f)
		}
	}
	if _, err := os.Stat(filepath.Join(out, "model.safetensors")); err == nil {
		t.Error("LoRA run wrote a full model.safetensors")
	}
	merged := filepath.Join(dir, "merged")
	if _, stderr, err := runAlign(t, "", "merge", "--base", base, "--adapter", out, "--out", merged); err != nil {
		t.Fatalf("merge: %v\n%s", err, stderr)
	}
	ids := []int32{256 + 1, 'S', 'a', 'y', ' ', 'h', 'i'}
	adapted, err := model.LoadDir(base)
	if err != nil {
		t.Fatal(err)
	}
	if err := adapted.LoadPEFT(out); err != nil {
		t.Fatal(err)
	}
	plain, err := model.LoadDir(merged)
	if err != nil {
		t.Fatal(err)
	}
	orig, _ := model.LoadDir(base)
	a, _ := policy.SequenceLogprobs(adapted, ids)
	p, _ := policy.SequenceLogprobs(plain, ids)
	o, _ := policy.SequenceLogprobs(orig, ids)
	moved := false
	for i := range a {
		if d := a[i] - p[i]; d > 1e-4 || d < -1e-4 {
			t.Errorf("logprob %d: adapted %.6f, merged %.6f", i, a[i], p[i])
		}
		if d := a[i] - o[i]; d > 1e-3 || d < -1e-3 {
			moved = true
		}
	}
	if !moved {
		t.Error("LoRA training left the model unchanged")
	}
}

// TestSFTBadRows: without --skip-bad-rows the first bad row stops the run before
// any step, naming file and line; with it, rows are skipped and counted.
func TestSFTBadRows(t *testing.T) {
	dir := t.TempDir()
	base := filepath.Join(dir, "base")
	writeCharModel(t, base)
	bad := filepath.Join(dir, "bad.jsonl")
	os.WriteFile(bad, []byte(`{"prompt":"a","completion":"b"}`+"\n"+`{"prompt":"c","completion":"d"}`+"\n"+
		`{"prompt":"e"}`+"\n"+`{"prompt":"f","completion":"g"}`+"\n"), 0o644)
	out := filepath.Join(dir, "run")
	_, stderr, err := runAlign(t, "", "sft", "--model", base, "--data", bad, "--out", out, "--max-steps", "2")
	if err == nil || !strings.Contains(stderr, "bad.jsonl:3") || !strings.Contains(stderr, "completion") {
		t.Fatalf("want an error naming bad.jsonl:3 and the missing field; got %v: %s", err, stderr)
	}
	if _, err := os.Stat(filepath.Join(out, "metrics.jsonl")); err == nil {
		t.Fatal("a training step ran before the bad row was reported")
	}
	// A bad --dtype is caught before training, not when the model is saved.
	if _, stderr, err := runAlign(t, "", "sft", "--model", base, "--data", bad, "--out", out, "--max-steps", "2",
		"--skip-bad-rows", "--dtype", "FP8"); err == nil || !strings.Contains(stderr, "--dtype") {
		t.Fatalf("--dtype FP8: %v: %s", err, stderr)
	}
	if _, err := os.Stat(filepath.Join(out, "metrics.jsonl")); err == nil {
		t.Fatal("a training step ran before --dtype was checked")
	}
	_, stderr, err = runAlign(t, "", "sft", "--model", base, "--data", bad, "--out", out, "--max-steps", "2", "--skip-bad-rows")
	if err != nil {
		t.Fatalf("--skip-bad-rows: %v\n%s", err, stderr)
	}
	if !strings.Contains(stderr, "skipped 1 bad rows of 4") || !strings.Contains(stderr, "3 rows") {
		t.Fatalf("skip report missing: %s", stderr)
	}
}

// TestGenerateWithAdapter: `align generate --adapter` on the base gives what
// the merged model gives (greedy), so adapters need not be merged to sample.
func TestGenerateWithAdapter(t *testing.T) {
	dir := t.TempDir()
	base := filepath.Join(dir, "base")
	writeCharModel(t, base)
	train := filepath.Join(dir, "train.jsonl")
	writeLines(t, train, []any{map[string]string{"prompt": "Say hi", "completion": " hi!"}})
	out := filepath.Join(dir, "lora")
	if _, stderr, err := runAlign(t, "", "sft", "--model", base, "--data", train, "--out", out, "--max-steps", "20",
		"--batch-size", "1", "--lr", "3e-2", "--lora-r", "4", "--lora-dropout", "0"); err != nil {
		t.Fatalf("sft: %v\n%s", err, stderr)
	}
	merged := filepath.Join(dir, "merged")
	if _, stderr, err := runAlign(t, "", "merge", "--base", base, "--adapter", out, "--out", merged); err != nil {
		t.Fatalf("merge: %v\n%s", err, stderr)
	}
	args := []string{"generate", "--prompt", "Say hi", "--max-new-tokens", "8", "--temperature", "0"}
	a, stderr, err := runAlign(t, "", append(args, "--model", base, "--adapter", out)...)
	if err != nil {
		t.Fatalf("generate --adapter: %v\n%s", err, stderr)
	}
	b, _, err := runAlign(t, "", append(args, "--model", merged)...)
	if err != nil {
		t.Fatal(err)
	}
	plain, _, _ := runAlign(t, "", append(args, "--model", base)...)
	if a != b {
		t.Fatalf("with adapter %s\nmerged       %s", a, b)
	}
	if a == plain {
		t.Fatalf("the adapter changed nothing: %s", a)
	}
}

// TestGenerateN: --n gives that many completions per prompt, numbered, and
// sampling at temperature 1 makes them differ.
func TestGenerateN(t *testing.T) {
	dir := t.TempDir()
	writeCharModel(t, dir)
	out, stderr, err := runAlign(t, "", "generate", "--model", dir, "--prompt", "hi", "--n", "4",
		"--max-new-tokens", "6", "--temperature", "1", "--seed", "3")
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	seen := map[string]bool{}
	for i, l := range lines {
		var r struct {
			Completion string
			Sample     *int `json:"sample"`
		}
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatal(err)
		}
		if r.Sample == nil || *r.Sample != i {
			t.Fatalf("line %d: sample %v", i, r.Sample)
		}
		seen[r.Completion] = true
	}
	if len(lines) != 4 || len(seen) < 2 {
		t.Fatalf("%d lines, %d distinct completions:\n%s", len(lines), len(seen), out)
	}
}
