package pairenc

import (
	"testing"

	"github.com/align-go/align/model"
	"github.com/align-go/align/tokenizer"
)

// Ids of the test tokenizer's special tokens (after the 256 bytes).
const (
	testEOS = 256
	testPAD = 257
)

// byteTokenizer is a byte-level BPE without merges: one token per byte,
// plus <eos> and <pad>.
func byteTokenizer(t testing.TB) *tokenizer.Tokenizer {
	t.Helper()
	tok, err := tokenizer.NewByteLevel(tokenizer.Config{EOSToken: "<eos>", PADToken: "<pad>"}, "<eos>", "<pad>") // testEOS, testPAD
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// byteConfig is a small llama config over the byte tokenizer's 258 ids (no
// weights: encoding needs only the vocabulary and EOS).
func byteConfig(t testing.TB) *model.Config {
	t.Helper()
	cfg, err := model.ParseConfig(map[string]any{"model_type": "llama", "vocab_size": 258.0, "eos_token_id": float64(testEOS),
		"hidden_size": 32.0, "num_hidden_layers": 2.0, "num_attention_heads": 4.0, "num_key_value_heads": 2.0,
		"intermediate_size": 64.0, "max_position_embeddings": 128.0})
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}
