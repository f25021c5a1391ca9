package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/align-go/align/chat"
	"github.com/align-go/align/model"
	"github.com/align-go/align/tokenizer"
)

// Every shape's config.json parses, and the checkpoint a shape declares has
// the Hub's parameter count.
func TestShapesParse(t *testing.T) {
	want := map[string]int{ // parameter counts the Hub reports (safetensors metadata)
		"qwen2.5-0.5b": 494032768,
		"qwen2.5-1.5b": 1543714304,
		"llama-3.2-3b": 3212749824,
		"llama-3.1-8b": 8030261248,
		"tiny":         151936*64 + 2*(2*64+64*64+64+2*(64*32+32)+64*64+3*64*128) + 64,
	}
	for name, sh := range shapes {
		var raw map[string]any
		if err := json.Unmarshal([]byte(sh.config), &raw); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		cfg, err := model.ParseConfig(raw)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got := cfg.NumParams(); got != want[name] {
			t.Errorf("%s: %d parameters, the Hub's has %d", name, got, want[name])
		}
	}
}

// A Llama-vocabulary copy of the Qwen3 tokenizer keeps every id below
// 128,256, with the chat template's special tokens from 128,000 up.
func TestLlamaTokenizer(t *testing.T) {
	src := filepath.Join("..", "..", "testdata", "tokenizers", "qwen3")
	if _, err := os.Stat(filepath.Join(src, "tokenizer.json.gz")); err != nil {
		t.Skip("no Qwen3 tokenizer in testdata")
	}
	dir := t.TempDir()
	if err := writeTokenizer(dir, src, 128256); err != nil {
		t.Fatal(err)
	}
	tok, err := tokenizer.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	ids, _, err := tok.EncodeChat([]chat.Message{{Role: "user", Content: "Call me Ishmael. Some years ago—never mind how long"}}, tokenizer.ChatOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) < 10 {
		t.Fatalf("%d ids", len(ids))
	}
	special := 0
	for _, id := range ids {
		if id >= 128256 {
			t.Fatalf("id %d beyond the Llama vocabulary: %v", id, ids)
		}
		if id >= 128000 {
			special++
		}
	}
	if special == 0 {
		t.Errorf("no special token from 128000 up in %v", ids)
	}
	if got := tok.Decode(ids); got == "" {
		t.Error("empty decode")
	}
}
