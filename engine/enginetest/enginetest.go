// Package enginetest writes the tiny model directories the tests of the
// engine, the server, llm.Local and Constitutional AI run on.
package enginetest

import (
	"testing"

	"github.com/align-go/align/internal/refdata"
	"github.com/align-go/align/model"
)

// ModelDir writes a tiny random Qwen3 model (hidden 16, one layer, context
// 512) with the real Qwen3 tokenizer and chat template, and returns its
// directory. Weights are scaled up so greedy output is decided by clear
// margins, not rounding.
func ModelDir(t testing.TB, seed uint64) string {
	t.Helper()
	dir := t.TempDir()
	refdata.CopyTo(t, "tokenizers/qwen3", dir, "tokenizer.json", "tokenizer_config.json")
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
