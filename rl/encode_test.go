package rl

import (
	"slices"
	"strings"
	"testing"

	"github.com/align-go/align/internal/refdata"
	"github.com/align-go/align/tokenizer"
)

// EncodePrompts keeps each row's ids, text and fields, and refuses a prompt
// whose tokens plus the generation budget pass the model's positions, at
// exactly one over and not at the limit.
func TestEncodePrompts(t *testing.T) {
	tok, err := tokenizer.Load(refdata.Dir(t, "tokenizers/gpt2"))
	if err != nil {
		t.Fatal(err)
	}
	rows := []PromptRow{
		{Text: "Hello world", Fields: map[string]any{"a": 1}, Loc: "p.jsonl:1"},
		{Text: "The whale is large", Loc: "p.jsonl:2"},
	}
	want := tok.Encode("The whale is large") // GPT-2 adds no BOS
	ps, err := EncodePrompts(rows, tok, 4, len(want)+4)
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 2 || ps[1].Text != "The whale is large" || ps[0].Fields["a"] != 1 {
		t.Fatalf("prompts %+v", ps)
	}
	got := make([]int, len(ps[1].IDs))
	for i, v := range ps[1].IDs {
		got[i] = int(v)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("ids %v, want %v", got, want)
	}
	_, err = EncodePrompts(rows, tok, 5, len(want)+4)
	if err == nil || !strings.Contains(err.Error(), "p.jsonl:2") {
		t.Fatalf("one token over the positions: err %v, want an error naming p.jsonl:2", err)
	}
}

// Decoder turns a rollout's int32 ids into text: GPT-2's 15496 is "Hello",
// 995 is " world" (ids from its vocab.json).
func TestDecoder(t *testing.T) {
	tok, err := tokenizer.Load(refdata.Dir(t, "tokenizers/gpt2"))
	if err != nil {
		t.Fatal(err)
	}
	dec := Decoder(tok)
	if got := dec([]int32{15496, 995}); got != "Hello world" {
		t.Errorf("Decoder: %q, want %q", got, "Hello world")
	}
	if got := dec(nil); got != "" {
		t.Errorf("Decoder(nil): %q, want empty", got)
	}
}
