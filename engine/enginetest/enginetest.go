// Package enginetest writes the tiny model directories the tests of the
// engine, the server, llm.Local and Constitutional AI run on.
package enginetest

import (
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/align-go/align/internal/refdata"
	"github.com/align-go/align/model"
	"github.com/align-go/align/tokenizer"
)

var (
	tokOnce sync.Once
	tok     *tokenizer.Tokenizer
	tokErr  error
)

// Tokenizer returns the Qwen3 tokenizer that ModelDir writes, parsed once
// per test process (parsing its 151k-token vocabulary costs about a third
// of a CPU-second) and shared: callers must not change it (no
// SetChatTemplate); a test that needs another template loads its own.
func Tokenizer(t testing.TB) *tokenizer.Tokenizer {
	t.Helper()
	tokOnce.Do(func() { tok, tokErr = tokenizer.Load(refdata.Dir(t, "tokenizers/qwen3")) })
	if tokErr != nil {
		t.Fatal(tokErr)
	}
	if tok == nil { // the first call failed before Load returned
		t.Fatal("the Qwen3 tokenizer did not load")
	}
	return tok
}

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

// RandomAdapter writes a PEFT LoRA adapter (r 4, alpha 8 on q_proj, v_proj
// and down_proj) for the model in dir, with random A and B (B is zero at
// attach, which would change nothing), and returns its directory.
func RandomAdapter(t testing.TB, dir string, seed uint64) string {
	t.Helper()
	m, err := model.LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.AttachLoRA(model.LoRAConfig{R: 4, Alpha: 8, Targets: []string{"q_proj", "v_proj", "down_proj"}}, seed); err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(seed, 1))
	lo := m.LoRA()
	for i := range lo.Data {
		lo.Data[i] = float32(r.NormFloat64())
	}
	out := t.TempDir()
	if err := m.SavePEFT(out, dir); err != nil {
		t.Fatal(err)
	}
	return out
}
