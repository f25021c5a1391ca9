package main

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/align-go/align/internal/refdata"
	"github.com/align-go/align/tokenizer"
)

// TestTokenizerTrainThenPretrain is issue 3's end-to-end check: a tokenizer
// trained by `align tokenizer train` on Moby-Dick, then a tiny model pretrained
// from scratch on the same book with it, showing a clearly falling loss: it
// ends well below the unigram entropy of the text under that tokenizer,
// counted here, which no model that ignores context can beat.
func TestTokenizerTrainThenPretrain(t *testing.T) {
	t.Parallel() // independent processes over its own directories
	book := refdata.Path(t, "corpora/moby-dick.txt")
	dir := t.TempDir()
	tokDir := filepath.Join(dir, "tok")
	// 512 tokens, not 1,024: the bar below is relative to the unigram
	// entropy, and the smaller vocabulary reaches it in half the steps.
	const vocab = 512
	if _, stderr, err := runAlign(t, "", "tokenizer", "train", "--text", book, "--vocab-size", strconv.Itoa(vocab),
		"--special-tokens", "<|endoftext|>,<|im_start|>,<|im_end|>", "--out", tokDir); err != nil {
		t.Fatalf("tokenizer train: %v\n%s", err, stderr)
	}
	tok, err := tokenizer.Load(tokDir)
	if err != nil {
		t.Fatal(err)
	}
	if tok.VocabSize() != vocab {
		t.Fatalf("trained vocab %d, want %d", tok.VocabSize(), vocab)
	}
	cfg := filepath.Join(dir, "config.json")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`{"model_type":"llama","vocab_size":%d,"hidden_size":64,"num_hidden_layers":2,
		"num_attention_heads":4,"num_key_value_heads":2,"intermediate_size":128,"max_position_embeddings":128,
		"tie_word_embeddings":true}`, tok.VocabSize())), 0o644)
	b, _ := os.ReadFile(book)
	b = b[:300000]
	text := filepath.Join(dir, "moby.txt")
	os.WriteFile(text, b, 0o644)
	// The unigram entropy of the training text: the lowest loss a model
	// that predicts every position alike can reach on it.
	counts := map[int]float64{}
	ids := tok.Encode(string(b))
	for _, id := range ids {
		counts[id]++
	}
	unigram := 0.0
	for _, c := range counts {
		p := c / float64(len(ids))
		unigram -= p * math.Log(p)
	}
	out := filepath.Join(dir, "base")
	if _, stderr, err := runAlign(t, "", "pretrain", "--model-config", cfg, "--tokenizer", tokDir, "--text", text,
		"--out", out, "--seq-len", "64", "--batch-size", "8", "--max-steps", "250", "--lr", "5e-3",
		"--warmup-steps", "5", "--logging-steps", "25"); err != nil {
		t.Fatalf("pretrain: %v\n%s", err, stderr)
	}
	rows := metricRows(t, out)
	first, last := rows[0]["loss"], rows[len(rows)-1]["loss"]
	t.Logf("loss %.3f -> %.3f over %d logged windows; unigram entropy %.3f", first, last, len(rows), unigram)
	// The first window starts above the unigram entropy (a fresh model is
	// near uniform, ln 512 = 6.24); ending 0.3 nats below it needs context.
	if first < unigram || last > unigram-0.3 {
		t.Fatalf("loss %.3f -> %.3f against a unigram entropy of %.3f: not clearly falling", first, last, unigram)
	}
}
