package tokenizer

import (
	"encoding/json"
	"fmt"
	"testing"
)

// FuzzScanVocab: whatever the scanner accepts, encoding/json decodes to the
// same map; and it accepts the common spellings (escapes included).
func FuzzScanVocab(f *testing.F) {
	for _, s := range []string{`{"a": 0, "b":1 ,"ab" : 2}`, `{}`, ` {"\"": 5, "\\": 6, "\u0120x": 7, "é": 8} `,
		`{"a": 1, "a": 2}`, `{"a": 1.0}`, `{"a": 01}`, `{"a": -3}`, `{"a": 1e3}`, `{"a": "x"}`, `["a"]`, `{"a": 1,}`,
		"{\"\xff\": 1}", `{"\ud800": 1}`, `{"a": 123456789012345678901}`, `{"a": 1} x`, `null`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, ok := scanVocab(b)
		var want map[string]int
		err := json.Unmarshal(b, &want)
		if !ok {
			return
		}
		if err != nil {
			t.Fatalf("scanVocab accepted %q, encoding/json: %v", b, err)
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("%q: scanVocab %v, encoding/json %v", b, got, want)
		}
	})
}

func TestScanVocabAccepts(t *testing.T) {
	for _, s := range []string{`{"a": 0, "b":1 ,"ab" : 2}`, `{}`, ` {"\"": 5, "\\": 6, "\u0120x": 7, "é": 8} `, "{\"\xff\": 1}"} {
		if _, ok := scanVocab([]byte(s)); !ok {
			t.Errorf("scanVocab gave up on %s", s)
		}
	}
}

// FuzzScanMerges: as FuzzScanVocab, against the merge parser's slow path.
func FuzzScanMerges(f *testing.F) {
	for _, s := range []string{`["a b", "ab c"]`, `[["a", "b"], ["ab","c"]]`, `[]`, `["a b", ["c", "d"]]`, `["a"]`,
		`["a b c"]`, `[["a","b","c"]]`, `[3]`, `["\u0120 \"", ["\\", "\n"]]`, `["a b",]`, `{}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, ok := scanMerges(b)
		if !ok {
			return
		}
		var items []json.RawMessage
		if err := json.Unmarshal(b, &items); err != nil {
			t.Fatalf("scanMerges accepted %q, encoding/json: %v", b, err)
		}
		// The slow path, with the fast one out of the way.
		want, err := parseMergesSlow(items, "fuzz")
		if err != nil {
			t.Fatalf("scanMerges accepted %q, the slow path: %v", b, err)
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("%q: scanMerges %q, slow path %q", b, got, want)
		}
	})
}

// TestIgnoreMerges: with ignore_merges (Llama-3's tokenizer.json) a word that
// is itself in the vocabulary is that one token, even where the merges would
// not build it ("abc" has no merge path here); without it, the merges decide.
func TestIgnoreMerges(t *testing.T) {
	const f = `{"model": {"type": "BPE", "ignore_merges": %s, "vocab": {"a": 0, "b": 1, "c": 2, "ab": 3, "abc": 4}, "merges": ["a b"]},
 "pre_tokenizer": {"type": "ByteLevel", "use_regex": true}, "decoder": {"type": "ByteLevel"}}`
	for _, c := range []struct {
		ignore string
		want   []int
	}{{"true", []int{4}}, {"false", []int{3, 2}}} {
		tok, err := ParseTokenizerJSON([]byte(fmt.Sprintf(f, c.ignore)), "t.json")
		if err != nil {
			t.Fatal(err)
		}
		if got := tok.Encode("abc"); fmt.Sprint(got) != fmt.Sprint(c.want) {
			t.Errorf("ignore_merges %s: Encode(abc) = %v, want %v", c.ignore, got, c.want)
		}
	}
}
