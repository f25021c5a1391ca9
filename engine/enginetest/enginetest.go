// Package enginetest writes the tiny model directories the tests of the
// engine, the server, llm.Local and Constitutional AI run on.
package enginetest

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/align-go/align/model"
)

// SharedDir is the shared reference data directory (../shared next to the
// repository checkout).
func SharedDir(t testing.TB) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	shared := filepath.Join(filepath.Dir(file), "..", "..", "..", "shared")
	if _, err := os.Stat(filepath.Join(shared, "tokenizers", "qwen3")); err != nil {
		t.Fatalf("reference data missing: %v", err)
	}
	return shared
}

// ModelDir writes a tiny random Qwen3 model (hidden 16, one layer, context
// 512) with the shared Qwen3 tokenizer and chat template, and returns its
// directory. Weights are scaled up so greedy output is decided by clear
// margins, not rounding.
func ModelDir(t testing.TB, seed uint64) string {
	t.Helper()
	shared := SharedDir(t)
	dir := t.TempDir()
	for _, f := range []string{"tokenizer.json", "tokenizer_config.json"} {
		b, err := os.ReadFile(filepath.Join(shared, "tokenizers", "qwen3", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfg, err := model.ParseConfig(map[string]any{"model_type": "qwen3", "vocab_size": 151936.0, "hidden_size": 16.0,
		"num_hidden_layers": 1.0, "num_attention_heads": 2.0, "num_key_value_heads": 1.0, "head_dim": 8.0,
		"intermediate_size": 32.0, "max_position_embeddings": 512.0, "tie_word_embeddings": true})
	if err != nil {
		t.Fatal(err)
	}
	m := model.New(cfg)
	m.InitRandom(seed)
	for i := range m.Data {
		m.Data[i] *= 10
	}
	if err := m.SaveDir(dir, "F32"); err != nil {
		t.Fatal(err)
	}
	return dir
}
