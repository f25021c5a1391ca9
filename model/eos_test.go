package model

import (
	"reflect"
	"testing"
)

// TestEOSIDs: the tokenizer's id first, then config.json's, then
// generation_config.json's list; duplicates once; ids outside the
// vocabulary, negative or fractional dropped.
func TestEOSIDs(t *testing.T) {
	cfg := &Config{Vocab: 100, Raw: map[string]any{"eos_token_id": []any{7.0, 9.0}}}
	for _, c := range []struct {
		gen  any
		tok  int
		want []int32
	}{
		{[]any{9.0, 12.0, 150.0, -1.0, 3.5}, 2, []int32{2, 7, 9, 12}},
		{nil, -1, []int32{7, 9}},
		{5.0, 7, []int32{7, 9, 5}},
		{nil, 100, []int32{7, 9}},
	} {
		if got := EOSIDs(cfg, c.gen, c.tok); !reflect.DeepEqual(got, c.want) {
			t.Errorf("gen %v, tokenizer %d: %v, want %v", c.gen, c.tok, got, c.want)
		}
	}
	if got := EOSIDs(&Config{Vocab: 10, Raw: map[string]any{"eos_token_id": 3.0}}, nil, -1); !reflect.DeepEqual(got, []int32{3}) {
		t.Errorf("a single config id: %v", got)
	}
}
