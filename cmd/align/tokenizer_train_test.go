package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/align-go/align/tokenizer"
)

func writeTrainText(t *testing.T, dir, name, text string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestTokenizerTrainCLI(t *testing.T) {
	dir := t.TempDir()
	a := writeTrainText(t, dir, "a.txt", strings.Repeat("the cat sat on the mat\n", 40))
	b := writeTrainText(t, dir, "b.txt", strings.Repeat("the dog sat on the log\n", 40))
	out := filepath.Join(dir, "tok")
	// Files both through repeated --text and as trailing arguments.
	_, stderr, err := runAlign(t, "", "tokenizer", "train", "--text", a, "--vocab-size", "270", "--out", out, b)
	if err != nil {
		t.Fatalf("%v: %s", err, stderr)
	}
	if !strings.Contains(stderr, "trained 270 tokens (4 special)") {
		t.Errorf("summary: %q", stderr)
	}
	for _, f := range []string{"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Fatal(err)
		}
	}
	tok, err := tokenizer.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	if tok.VocabSize() != 270 {
		t.Fatalf("vocab size %d", tok.VocabSize())
	}
	for id, s := range []string{"<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|pad|>"} {
		if got := tok.Encode(s); !slices.Equal(got, []int{id}) {
			t.Errorf("%s -> %v, want [%d]", s, got, id)
		}
	}
	// Worked out by hand: words "the", " sat", " on", " the", "\n" x80 and
	// " cat", " mat", " dog", " log" x40. (a,t), (h,e), (t,h) occur 160
	// times; ties go to smaller ids (a < h < t < Ġ), and merged tokens
	// take ids in creation order.
	var tj struct {
		Model struct {
			Merges [][2]string `json:"merges"`
		} `json:"model"`
	}
	raw, _ := os.ReadFile(filepath.Join(out, "tokenizer.json"))
	if err := json.Unmarshal(raw, &tj); err != nil {
		t.Fatal(err)
	}
	want := [][2]string{{"a", "t"}, {"h", "e"}, {"t", "he"}, {"o", "g"}, {"o", "n"}, {"s", "at"},
		{"Ġ", "the"}, {"Ġ", "on"}, {"Ġ", "sat"}, {"c", "at"}}
	if !slices.Equal(tj.Model.Merges, want) {
		t.Errorf("merges %q, want %q", tj.Model.Merges, want)
	}
	text := "the cat sat on the log\nunseen: Ωμέγα 😀"
	if got := tok.Decode(tok.Encode(text)); got != text {
		t.Errorf("round trip %q", got)
	}
	var cfg map[string]any
	raw, _ = os.ReadFile(filepath.Join(out, "tokenizer_config.json"))
	if err := json.Unmarshal(raw, &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg["eos_token"] != "<|im_end|>" || cfg["pad_token"] != "<|pad|>" || cfg["bos_token"] != nil ||
		cfg["model_max_length"] != 2048.0 || cfg["chat_template"] != tokenizer.ChatMLTemplate {
		t.Errorf("tokenizer_config.json: %v", cfg)
	}

	// Same input, same bytes.
	out2 := filepath.Join(dir, "tok2")
	if _, stderr, err := runAlign(t, "", "tokenizer", "train", "-q", "--text", a, "--text", b, "--vocab-size", "270", "--out", out2); err != nil || stderr != "" {
		t.Fatalf("%v: %q", err, stderr)
	}
	for _, f := range []string{"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"} {
		x, _ := os.ReadFile(filepath.Join(out, f))
		y, _ := os.ReadFile(filepath.Join(out2, f))
		if !bytes.Equal(x, y) {
			t.Errorf("%s differs between two identical runs", f)
		}
	}
}

func TestTokenizerTrainCLIOptions(t *testing.T) {
	dir := t.TempDir()
	a := writeTrainText(t, dir, "a.txt", "Café CAFÉ 12345 don't\n")
	out := filepath.Join(dir, "tok")
	if _, stderr, err := runAlign(t, "", "tokenizer", "train", "-q", "--text", a, "--vocab-size", "300", "--out", out,
		"--pattern", "qwen2", "--nfc", "--special-tokens", "<|endoftext|>", "--model-max-length", "0"); err != nil {
		t.Fatalf("%v: %s", err, stderr)
	}
	raw, _ := os.ReadFile(filepath.Join(out, "tokenizer.json"))
	for _, want := range []string{`"normalizer": {"type":"NFC"}`, `"type":"Split"`} {
		if !bytes.Contains(raw, []byte(want)) {
			t.Errorf("tokenizer.json lacks %s", want)
		}
	}
	cfg, _ := os.ReadFile(filepath.Join(out, "tokenizer_config.json"))
	if bytes.Contains(cfg, []byte("model_max_length")) || bytes.Contains(cfg, []byte("chat_template")) ||
		!bytes.Contains(cfg, []byte(`"eos_token": "<|endoftext|>"`)) {
		t.Errorf("tokenizer_config.json:\n%s", cfg)
	}
	tok, err := tokenizer.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	// Qwen2's pattern splits digits one by one: no merge joins them.
	if ids := tok.Encode("12345"); len(ids) != 5 {
		t.Errorf("12345 -> %v, want 5 single digits", ids)
	}
}

func TestTokenizerTrainCLIErrors(t *testing.T) {
	dir := t.TempDir()
	good := writeTrainText(t, dir, "good.txt", "some text\n")
	empty := writeTrainText(t, dir, "empty.txt", "")
	missing := filepath.Join(dir, "missing.txt")
	out := filepath.Join(dir, "out")
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"no text", []string{"--vocab-size", "300", "--out", out}, "--text"},
		{"no vocab size", []string{"--text", good, "--out", out}, "vocab-size"},
		{"no out", []string{"--text", good, "--vocab-size", "300"}, "out"},
		{"vocab too small", []string{"--text", good, "--vocab-size", "259", "--out", out}, "vocab size 259 is smaller than the 256 byte symbols plus 4 special tokens"},
		{"empty file", []string{"--text", good, "--text", empty, "--vocab-size", "300", "--out", out}, empty + ": empty file"},
		{"missing file", []string{"--text", missing, "--vocab-size", "300", "--out", out}, missing},
		{"bad pattern", []string{"--text", good, "--vocab-size", "300", "--out", out, "--pattern", "bert"}, `--pattern: unknown "bert"`},
		{"eos not special", []string{"--text", good, "--vocab-size", "300", "--out", out, "--eos-token", "</s>"}, `eos token "</s>"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, stderr, err := runAlign(t, "", append([]string{"tokenizer", "train"}, c.args...)...)
			if err == nil || !strings.Contains(stderr, c.want) {
				t.Fatalf("err %v, stderr %q; want it to contain %q", err, stderr, c.want)
			}
		})
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("a failed run wrote the output directory")
	}
}
