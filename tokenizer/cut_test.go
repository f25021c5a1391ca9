package tokenizer

import (
	"reflect"
	"testing"
)

func TestCutBPEVocab(t *testing.T) {
	for _, pairs := range []bool{false, true} {
		merge := func(a, b string) any {
			if pairs {
				return []any{a, b}
			}
			return a + " " + b
		}
		m := map[string]any{
			"vocab": map[string]any{"a": 0.0, "b": 1.0, "ab": 2.0, "c": 3.0, "abc": 4.0, "bc": 5.0},
			"merges": []any{
				merge("a", "b"),  // ab kept: a, b, ab < 4
				merge("ab", "c"), // result abc (4) cut
				merge("b", "c"),  // result bc (5) cut
			},
		}
		if err := CutBPEVocab(m, 4); err != nil {
			t.Fatal(err)
		}
		wantVocab := map[string]any{"a": 0.0, "b": 1.0, "ab": 2.0, "c": 3.0}
		if !reflect.DeepEqual(m["vocab"], wantVocab) {
			t.Errorf("pairs=%v: vocab %v, want %v", pairs, m["vocab"], wantVocab)
		}
		if want := []any{merge("a", "b")}; !reflect.DeepEqual(m["merges"], want) {
			t.Errorf("pairs=%v: merges %v, want %v", pairs, m["merges"], want)
		}
	}
	bad := []map[string]any{
		{"vocab": []any{}},
		{"vocab": map[string]any{"a": "x"}},
		{"vocab": map[string]any{"a": 0.0}, "merges": []any{"ab"}},
		{"vocab": map[string]any{"a": 0.0}, "merges": []any{3.0}},
		{"vocab": map[string]any{"a": 0.0}, "merges": []any{[]any{"a"}}},
	}
	for i, m := range bad {
		if err := CutBPEVocab(m, 1); err == nil {
			t.Errorf("bad input %d: no error", i)
		}
	}
}
