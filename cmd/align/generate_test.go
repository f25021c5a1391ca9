package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/align-go/align/model"
	"github.com/align-go/align/tokenizer"
)

// genModelDir writes a tiny random Qwen3-shaped model (seed 5) with a small
// byte-level BPE tokenizer and the ChatML chat template (chatModelDir).
func genModelDir(t *testing.T) string { return chatModelDir(t, 5) }

// chatTokenizerText is what chatModelDir's tokenizer is trained on: English
// and JSON, so merges cross word and JSON-syntax boundaries as a real
// tokenizer's do.
const chatTokenizerText = `Call me Ishmael. The whale is white. Hi, what is 2+2? Name a colour. Say hi.
I can't help with that. Sorry, I cannot do that. Here is how to do it, step by step.
{"ok": true, "n": [1, 2, 3]} {"ok": false, "n": []} {"name": "x", "value": 12}
`

// chatModelDir writes a tiny random Qwen3-shaped model (hidden 16, one
// layer) with a byte-level BPE tokenizer of a few hundred tokens trained
// here (special tokens <|endoftext|>, <|im_start|>, <|im_end|>; no chat
// template of its own, so the ChatML one Qwen uses applies), and returns its
// directory. The CLI tests start a process per command: the real Qwen3
// tokenizer (151,936 tokens) costs most of a CPU-second to load in each, and
// the tokenizer is not what these tests are about (tokenizer/ holds it to
// the reference vectors). Weights are scaled up so greedy output is decided
// by clear margins, not rounding.
func chatModelDir(t *testing.T, seed uint64) string {
	t.Helper()
	dir := t.TempDir()
	tok := chatTokenizer(t, dir)
	cfg, err := model.ParseConfig(map[string]any{"model_type": "qwen3", "vocab_size": float64(tok.VocabSize()), "hidden_size": 16.0,
		"num_hidden_layers": 1.0, "num_attention_heads": 2.0, "num_key_value_heads": 1.0, "head_dim": 8.0,
		"intermediate_size": 32.0, "max_position_embeddings": 512.0, "tie_word_embeddings": true,
		"eos_token_id": float64(tok.EOS())})
	if err != nil {
		t.Fatal(err)
	}
	m := model.New(cfg)
	m.InitRandom(seed)
	for i := range m.Data {
		m.Data[i] *= 10 // peaked logits: greedy output not decided by rounding
	}
	if err := m.SaveDir(dir, "F32"); err != nil {
		t.Fatal(err)
	}
	return dir
}

// chatTokenizer trains chatModelDir's tokenizer and saves it in dir.
func chatTokenizer(t *testing.T, dir string) *tokenizer.Tokenizer {
	t.Helper()
	tr, err := tokenizer.NewTrainer(tokenizer.TrainOptions{VocabSize: 400,
		SpecialTokens: []string{"<|endoftext|>", "<|im_start|>", "<|im_end|>"}})
	if err != nil {
		t.Fatal(err)
	}
	tr.AddText(chatTokenizerText)
	tok, err := tr.Train()
	if err != nil {
		t.Fatal(err)
	}
	if err := tok.SaveAll(dir); err != nil {
		t.Fatal(err)
	}
	return tok
}

type genLine struct {
	Prompt       string `json:"prompt"`
	Completion   string `json:"completion"`
	Tokens       int    `json:"tokens"`
	FinishReason string `json:"finish_reason"`
}

func parseGenLines(t *testing.T, out string) []genLine {
	t.Helper()
	var rows []genLine
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var g genLine
		if err := json.Unmarshal([]byte(l), &g); err != nil {
			t.Fatalf("bad output line %q: %v", l, err)
		}
		rows = append(rows, g)
	}
	return rows
}

func TestGenerateCLI(t *testing.T) {
	t.Parallel() // independent processes over its own directories
	dir := genModelDir(t)
	stdout, stderr, err := runAlign(t, "", "generate", "--model", dir, "--prompt", "The whale", "--max-new-tokens", "6")
	if err != nil {
		t.Fatalf("%v: %s", err, stderr)
	}
	g := parseGenLines(t, stdout)
	if len(g) != 1 || g[0].Prompt != "The whale" || g[0].Tokens < 1 || g[0].Tokens > 6 {
		t.Fatalf("output %+v", g)
	}
	if g[0].Tokens == 6 && g[0].FinishReason != "length" || g[0].Tokens < 6 && g[0].FinishReason != "stop" {
		t.Errorf("%d tokens with finish_reason %q", g[0].Tokens, g[0].FinishReason)
	}

	// bf16 decode weights: the peaked logits leave the greedy choice to the
	// model, not to rounding, so the output is the f32 one.
	stdout, stderr, err = runAlign(t, "", "generate", "--model", dir, "--prompt", "The whale", "--max-new-tokens", "6", "--dtype", "bf16")
	if err != nil {
		t.Fatalf("--dtype bf16: %v: %s", err, stderr)
	}
	if b := parseGenLines(t, stdout); len(b) != 1 || b[0] != g[0] {
		t.Errorf("--dtype bf16 output %+v, f32 gave %+v", b, g[0])
	}

	// A stop string taken from the greedy completion cuts it there: two
	// whole characters after the first (a random model's byte tokens can
	// leave a lone byte, which no stop string matches).
	stop := ""
	for c, i := []rune(g[0].Completion), 1; i+2 <= len(c) && stop == ""; i++ {
		if c[i] != utf8.RuneError && c[i+1] != utf8.RuneError {
			stop = string(c[i : i+2])
		}
	}
	if g[0].Tokens == 6 && stop != "" {
		cut := strings.Index(g[0].Completion, stop)
		stdout, stderr, err = runAlign(t, "", "generate", "--model", dir, "--prompt", "The whale", "--max-new-tokens", "6",
			"--stop", "never-seen", "--stop", stop)
		if err != nil {
			t.Fatalf("%v: %s", err, stderr)
		}
		s := parseGenLines(t, stdout)[0]
		if s.Completion != g[0].Completion[:cut] || s.FinishReason != "stop" {
			t.Errorf("--stop %q: completion %q finish %q; want %q stop", stop, s.Completion, s.FinishReason, g[0].Completion[:cut])
		}
	} else {
		t.Logf("greedy completion %q too short for the stop-string check", g[0].Completion)
	}

	// A prompts file: plain and chat rows keep their order; batch size 1 and
	// 2 give the same greedy output.
	pf := filepath.Join(t.TempDir(), "p.jsonl")
	os.WriteFile(pf, []byte(`{"prompt": "Call me"}`+"\n\n"+`{"messages": [{"role": "user", "content": "Hi"}]}`+"\n"+`{"prompt": "x"}`+"\n"+
		`{"prompt": [{"role": "user", "content": "Hi"}], "answer": "extra fields are ignored"}`+"\n"), 0o644)
	var outs [][]genLine
	for _, bs := range []string{"1", "2"} {
		stdout, stderr, err = runAlign(t, "", "generate", "--model", dir, "--prompts", pf, "--max-new-tokens", "4", "--batch-size", bs)
		if err != nil {
			t.Fatalf("%v: %s", err, stderr)
		}
		outs = append(outs, parseGenLines(t, stdout))
	}
	rows := outs[0]
	// A conversational "prompt" (TRL's prompt-only format) is a messages row.
	if len(rows) != 4 || rows[0].Prompt != "Call me" || rows[2].Prompt != "x" || rows[3] != rows[1] ||
		rows[1].Prompt != "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n" {
		t.Fatalf("prompts file output %+v", rows)
	}
	for i := range rows {
		if rows[i] != outs[1][i] {
			t.Errorf("row %d differs between batch sizes: %+v vs %+v", i, rows[i], outs[1][i])
		}
	}

	// --chat wraps a plain prompt as a user turn.
	stdout, _, err = runAlign(t, "", "generate", "--model", dir, "--prompt", "Hi", "--chat", "--max-new-tokens", "4")
	if err != nil || parseGenLines(t, stdout)[0] != rows[1] {
		t.Errorf("--chat output %q, want the messages row %+v (err %v)", stdout, rows[1], err)
	}

	// Seeded sampling is reproducible.
	args := []string{"generate", "--model", dir, "--prompt", "Call me", "--max-new-tokens", "8", "--temperature", "1.5", "--top-p", "0.9", "--seed", "7"}
	a, _, err1 := runAlign(t, "", args...)
	b, _, err2 := runAlign(t, "", args...)
	if err1 != nil || err2 != nil || a != b {
		t.Errorf("same seed, different output:\n%s\n%s", a, b)
	}
}

func TestGenerateCLIErrors(t *testing.T) {
	dir := genModelDir(t)
	tmp := t.TempDir()
	bad := filepath.Join(tmp, "bad.jsonl")
	os.WriteFile(bad, []byte(`{"prompt": "ok"}`+"\n"+`{"promt": "typo"}`+"\n"), 0o644)
	numeric := filepath.Join(tmp, "numeric.jsonl")
	os.WriteFile(numeric, []byte(`{"prompt": 3}`+"\n"), 0o644)
	both := filepath.Join(tmp, "both.jsonl")
	os.WriteFile(both, []byte(`{"prompt": "a", "messages": [{"role": "user", "content": "b"}]}`+"\n"), 0o644)
	broken := filepath.Join(tmp, "broken.jsonl")
	os.WriteFile(broken, []byte(`{"prompt": "ok"}`+"\n"+`{"prompt": `+"\n"), 0o644)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--prompt", "a", "--prompts", bad}, "exactly one"},
		{[]string{"--prompts", bad}, "bad.jsonl:2"},
		{[]string{"--prompts", broken}, "broken.jsonl:2"},
		{[]string{"--prompts", numeric}, `numeric.jsonl:1: field "prompt": want string or list of messages, got number`},
		{[]string{"--prompts", both}, `both.jsonl:1: field "messages": give "prompt" or "messages", not both`},
		{[]string{"--prompt", "a", "--temperature", "-1"}, "temperature"},
		{[]string{"--prompt", "a", "--max-new-tokens", "0"}, "max-new-tokens"},
		{[]string{"--prompt", "a", "--dtype", "f16"}, "--dtype"},
	} {
		_, stderr, err := runAlign(t, "", append([]string{"generate", "--model", dir}, tc.args...)...)
		if err == nil || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: err %v, stderr %q; want an error mentioning %q", tc.args, err, stderr, tc.want)
		}
	}
}

// TestGenerateResponseFormat: --response-format with a JSON Schema file
// makes sampled completions of a random model valid documents; "json" makes
// them objects; a schema the compiler refuses is an error naming the file
// and the schema path, before the model loads.
func TestGenerateResponseFormat(t *testing.T) {
	dir := genModelDir(t)
	schema := filepath.Join(t.TempDir(), "s.json")
	if err := os.WriteFile(schema, []byte(`{"type":"object","properties":{"ok":{"type":"boolean"},
		"n":{"type":"array","items":{"type":"integer"},"maxItems":3}},"required":["ok","n"],"additionalProperties":false}`), 0o644); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, err := runAlign(t, "", "generate", "--model", dir, "--prompt", "JSON:", "--max-new-tokens", "200",
		"--temperature", "1", "--n", "3", "--response-format", schema)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	for _, g := range parseGenLines(t, stdout) {
		var v struct {
			OK *bool `json:"ok"`
			N  []int `json:"n"`
		}
		dec := json.NewDecoder(strings.NewReader(g.Completion))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&v); err != nil || v.OK == nil || v.N == nil || len(v.N) > 3 || g.FinishReason != "stop" {
			t.Errorf("completion %q (%s) does not fit the schema: %v", g.Completion, g.FinishReason, err)
		}
	}
	stdout, stderr, err = runAlign(t, "", "generate", "--model", dir, "--prompt", "JSON:", "--max-new-tokens", "200",
		"--temperature", "1", "--response-format", "json")
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	for _, g := range parseGenLines(t, stdout) {
		var obj map[string]any
		if err := json.Unmarshal([]byte(g.Completion), &obj); err != nil && g.FinishReason == "stop" {
			t.Errorf("json: %q is not an object: %v", g.Completion, err)
		}
	}
	if err := os.WriteFile(schema, []byte(`{"type":"object","properties":{"d":{"type":"string","format":"date"}}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	_, stderr, err = runAlign(t, "", "generate", "--model", filepath.Join(dir, "missing"), "--prompt", "x", "--response-format", schema)
	if err == nil || !strings.Contains(stderr, "s.json: #/properties/d/format") {
		t.Errorf("bad schema: err %v, stderr %q", err, stderr)
	}
}
