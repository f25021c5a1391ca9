package rl

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/align-go/align/model"
	"github.com/align-go/align/tokenizer"
)

// byteTok is one token per byte plus the special tokens named in cfg.
func byteTok(t *testing.T, cfg tokenizer.Config, added ...string) *tokenizer.Tokenizer {
	t.Helper()
	tok, err := tokenizer.NewByteLevel(cfg, added...)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// StopTokens takes every declared EOS (tokenizer first, then config.json,
// then generation_config.json, each once and inside the vocabulary), pads
// with the pad token when there is one and with the first EOS otherwise,
// and refuses a policy without any EOS.
func TestStopTokens(t *testing.T) {
	cfgOf := func(raw map[string]any) *model.Config {
		raw["model_type"], raw["vocab_size"] = "llama", 260.0
		raw["hidden_size"], raw["num_hidden_layers"], raw["num_attention_heads"] = 8.0, 1.0, 2.0
		raw["intermediate_size"], raw["max_position_embeddings"] = 16.0, 32.0
		c, err := model.ParseConfig(raw)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "generation_config.json"), []byte(`{"eos_token_id": [258, 256, 999]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	tok := byteTok(t, tokenizer.Config{EOSToken: "<eos>", PADToken: "<pad>"}, "<eos>", "<pad>", "<eot>")
	eos, pad, err := StopTokens(dir, cfgOf(map[string]any{"eos_token_id": 10.0}), tok)
	if err != nil || !slices.Equal(eos, []int32{256, 10, 258}) || pad != 257 {
		t.Fatalf("eos %v pad %d err %v; want [256 10 258], pad 257", eos, pad, err)
	}
	// No pad token anywhere: padding carries the first EOS.
	bare := t.TempDir()
	eos, pad, err = StopTokens(bare, cfgOf(map[string]any{"eos_token_id": 10.0}), byteTok(t, tokenizer.Config{}))
	if err != nil || !slices.Equal(eos, []int32{10}) || pad != 10 {
		t.Fatalf("eos %v pad %d err %v; want [10], pad 10", eos, pad, err)
	}
	if _, _, err := StopTokens(bare, cfgOf(map[string]any{}), byteTok(t, tokenizer.Config{})); err == nil || !strings.Contains(err.Error(), "no EOS") {
		t.Fatalf("no EOS anywhere: %v", err)
	}
}
