package main

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/align-go/align/internal/refdata"
	"github.com/align-go/align/tokenizer"
)

// TestTokenizerTrainThenPretrain is issue 3's end-to-end check: a tokenizer
// trained by `align tokenizer train` on Moby-Dick, then a tiny model pretrained
// from scratch on the same book with it, showing a clearly falling loss.
func TestTokenizerTrainThenPretrain(t *testing.T) {
	t.Parallel() // independent processes over its own directories
	book := refdata.Path(t, "corpora/moby-dick.txt")
	dir := t.TempDir()
	tokDir := filepath.Join(dir, "tok")
	if _, stderr, err := runAlign(t, "", "tokenizer", "train", "--text", book, "--vocab-size", "1024",
		"--special-tokens", "<|endoftext|>,<|im_start|>,<|im_end|>", "--out", tokDir); err != nil {
		t.Fatalf("tokenizer train: %v\n%s", err, stderr)
	}
	tok, err := tokenizer.Load(tokDir)
	if err != nil {
		t.Fatal(err)
	}
	if tok.VocabSize() != 1024 {
		t.Fatalf("trained vocab %d, want 1024", tok.VocabSize())
	}
	cfg := filepath.Join(dir, "config.json")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`{"model_type":"llama","vocab_size":%d,"hidden_size":64,"num_hidden_layers":2,
		"num_attention_heads":4,"num_key_value_heads":2,"intermediate_size":128,"max_position_embeddings":128,
		"tie_word_embeddings":true}`, tok.VocabSize())), 0o644)
	b, _ := os.ReadFile(book)
	text := filepath.Join(dir, "moby.txt")
	os.WriteFile(text, b[:300000], 0o644)
	out := filepath.Join(dir, "base")
	if _, stderr, err := runAlign(t, "", "pretrain", "--model-config", cfg, "--tokenizer", tokDir, "--text", text,
		"--out", out, "--seq-len", "64", "--batch-size", "8", "--max-steps", "500", "--lr", "3e-3",
		"--warmup-steps", "5", "--logging-steps", "50"); err != nil {
		t.Fatalf("pretrain: %v\n%s", err, stderr)
	}
	rows := metricRows(t, out)
	first, last := rows[0]["loss"], rows[len(rows)-1]["loss"]
	t.Logf("loss %.3f -> %.3f over %d logged windows", first, last, len(rows))
	// Uniform over 1024 tokens is ln 1024 = 6.93; unigram statistics of English
	// BPE tokens sit near 5.7, so ending below 5.3 needs real context modelling.
	if first < 6 || last > 5.3 {
		t.Fatalf("loss %.3f -> %.3f: not clearly falling", first, last)
	}
}
