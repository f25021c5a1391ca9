package tokenizer

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

// minimal is a valid tokenizer.json with a two-byte vocabulary.
const minimal = `{"model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": ["a b"]},
 "pre_tokenizer": {"type": "ByteLevel", "use_regex": true}, "decoder": {"type": "ByteLevel"}}`

func TestBadTokenizerJSON(t *testing.T) {
	cases := []struct {
		name, json string
		want       []string // substrings of the error
	}{
		{"bad json", `{"model": `, []string{"bad.json", "invalid JSON"}},
		{"not an object", `[1,2]`, []string{"bad.json"}},
		{"missing model", `{"added_tokens": []}`, []string{"bad.json", "model", "missing"}},
		{"missing vocab", `{"model": {"type": "BPE"}}`, []string{"model.vocab", "missing"}},
		{"wrong model type", `{"model": {"type": "WordPiece", "vocab": {}}}`, []string{"model.type", "WordPiece"}},
		{"vocab wrong type", `{"model": {"type": "BPE", "vocab": ["a"]}}`, []string{"bad.json", "model.vocab"}},
		{"vocab id wrong type", `{"model": {"type": "BPE", "vocab": {"a": "x"}}}`, []string{"model.vocab"}},
		{"negative id", `{"model": {"type": "BPE", "vocab": {"a": -1}}}`, []string{"model.vocab", "bad id"}},
		{"merges wrong type", `{"model": {"type": "BPE", "vocab": {"a": 0}, "merges": 3}}`, []string{"model.merges"}},
		{"merge unknown token", `{"model": {"type": "BPE", "vocab": {"a": 0, "ab": 1}, "merges": ["a b"]}}`,
			[]string{"model.merges[0]", "unknown token", `"b"`}},
		{"merge result missing", `{"model": {"type": "BPE", "vocab": {"a": 0, "b": 1}, "merges": [["a", "b"]]}}`,
			[]string{"model.merges[0]", `"ab"`}},
		{"merge malformed", `{"model": {"type": "BPE", "vocab": {"a": 0}, "merges": ["a"]}}`, []string{"model.merges[0]"}},
		{"merge pair of three", `{"model": {"type": "BPE", "vocab": {"a": 0}, "merges": [["a","a","a"]]}}`, []string{"model.merges[0]"}},
		{"added token missing content", strings.Replace(minimal, `"model"`, `"added_tokens": [{"id": 5}], "model"`, 1),
			[]string{"added_tokens[0]"}},
		{"added tokens wrong type", strings.Replace(minimal, `"model"`, `"added_tokens": {"id": 5}, "model"`, 1),
			[]string{"added_tokens"}},
		{"unknown pre-tokenizer", strings.Replace(minimal, `"type": "ByteLevel", "use_regex": true`, `"type": "Whitespace"`, 1),
			[]string{"pre_tokenizer.type", "Whitespace"}},
		{"no pre-tokenizer", strings.Replace(minimal, `"pre_tokenizer"`, `"x"`, 1), []string{"pre_tokenizer", "missing"}},
		{"lookahead regex", strings.Replace(minimal, `{"type": "ByteLevel", "use_regex": true}`,
			`{"type": "Sequence", "pretokenizers": [{"type": "Split", "pattern": {"Regex": "a(?=b)"}, "behavior": "Isolated"}, {"type": "ByteLevel", "use_regex": false}]}`, 1),
			[]string{"pre_tokenizer.pretokenizers[0]", "unsupported regex"}},
		{"bad behavior", strings.Replace(minimal, `{"type": "ByteLevel", "use_regex": true}`,
			`{"type": "Sequence", "pretokenizers": [{"type": "Split", "pattern": {"Regex": "a"}, "behavior": "Sideways"}, {"type": "ByteLevel", "use_regex": false}]}`, 1),
			[]string{"pre_tokenizer.pretokenizers[0]", "Sideways"}},
		{"bad normalizer", strings.Replace(minimal, `"model"`, `"normalizer": {"type": "Precompiled"}, "model"`, 1),
			[]string{"normalizer.type", "Precompiled"}},
		{"bad decoder", strings.Replace(minimal, `"decoder": {"type": "ByteLevel"}`, `"decoder": {"type": "WordPiece"}`, 1),
			[]string{"decoder.type"}},
		{"unk not in vocab", `{"model": {"type": "BPE", "vocab": {"a": 0}, "unk_token": "<unk>"}, "pre_tokenizer": {"type": "ByteLevel"}}`,
			[]string{"model.unk_token"}},
		{"byte fallback", `{"model": {"type": "BPE", "vocab": {"a": 0}, "byte_fallback": true}}`, []string{"model.byte_fallback"}},
		{"bad template processing", strings.Replace(minimal, `"model"`,
			`"post_processor": {"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "<s>"}}], "special_tokens": {}}, "model"`, 1),
			[]string{"post_processor.single[0]", "<s>"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseTokenizerJSON([]byte(c.json), "bad.json")
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
	if _, err := ParseTokenizerJSON([]byte(minimal), "ok.json"); err != nil {
		t.Fatalf("minimal: %v", err)
	}
}

func TestBadFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), dir) {
		t.Fatalf("empty dir: %v", err)
	}
	write("vocab.json", `{"a": 0, "b": 1, "ab": 2}`)
	write("merges.txt", "#version: 0.2\na b c\n")
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "merges.txt: line 2") {
		t.Fatalf("bad merges line: %v", err)
	}
	write("merges.txt", "a x\n")
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "merges.txt") || !strings.Contains(err.Error(), `"x"`) {
		t.Fatalf("unknown merge token: %v", err)
	}
	write("merges.txt", "a b\n")
	write("tokenizer_config.json", `{"add_bos_token": "yes"}`)
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "tokenizer_config.json: add_bos_token") {
		t.Fatalf("bad config bool: %v", err)
	}
	write("tokenizer_config.json", `{"chat_template": 7}`)
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "chat_template") {
		t.Fatalf("bad chat_template: %v", err)
	}
	write("tokenizer_config.json", `{"eos_token": [1]}`)
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "eos_token") {
		t.Fatalf("bad eos_token: %v", err)
	}
	write("tokenizer_config.json", `{"added_tokens_decoder": {"x": {"content": "a"}}}`)
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "added_tokens_decoder.x") {
		t.Fatalf("bad added_tokens_decoder: %v", err)
	}
	write("vocab.json", `[1]`)
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "vocab.json") {
		t.Fatalf("bad vocab.json: %v", err)
	}
}

func FuzzLoadTokenizerJSON(f *testing.F) {
	f.Add([]byte(minimal))
	f.Add([]byte(`{"model": {"type": "BPE", "vocab": {"a": 0}, "merges": [["a", "a"]]}}`))
	f.Add([]byte(`{"added_tokens": [{"id": 0, "content": "a", "lstrip": true}], "normalizer": {"type": "Sequence", "normalizers": [{"type": "NFC"}]},` +
		` "pre_tokenizer": {"type": "Sequence", "pretokenizers": [{"type": "Split", "pattern": {"String": " "}, "behavior": "MergedWithNext", "invert": true}, {"type": "ByteLevel"}]},` +
		` "model": {"type": "BPE", "vocab": {"a": 0, "Ġ": 1}, "merges": []}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		tok, err := ParseTokenizerJSON(data, "fuzz.json")
		if err != nil {
			return
		}
		// A tokenizer that loads must encode and decode without panicking.
		for _, s := range []string{"", "a b\n\nab  c", "<|x|>é\u0301"} {
			tok.Decode(tok.Encode(s))
			tok.EncodeOffsets(s, EncodeOptions{AddSpecialTokens: true})
		}
		tok.MarshalTokenizerJSON()
	})
}

// FuzzEncodeRoundTrip checks decode(encode(x)) == x for GPT-2 on any bytes
// (no normalizer, full byte alphabet) and == NFC(x) for Qwen3 on valid UTF-8.
func FuzzEncodeRoundTrip(f *testing.F) {
	for _, s := range []string{"", "Hello world", "a   b\n\n\tc", "'S 'll 123 ½ 日本", "<|im_start|>x<|im_end|>", "\xff\xfe", "e\u0301"} {
		f.Add(s)
	}
	g, q := gpt2JSON(f), qwen3(f)
	f.Fuzz(func(t *testing.T, s string) {
		if got := g.Decode(g.Encode(s)); got != s {
			t.Fatalf("gpt2: %q -> %q", s, got)
		}
		if !utf8.ValidString(s) {
			return
		}
		want, _ := normalize(q.normalizer, s)
		if got := q.Decode(q.Encode(s)); got != want {
			t.Fatalf("qwen3: %q -> %q", s, got)
		}
		ids, offs := q.EncodeOffsets(s, EncodeOptions{})
		if len(ids) != len(offs) {
			t.Fatalf("%d ids, %d offsets", len(ids), len(offs))
		}
	})
}
