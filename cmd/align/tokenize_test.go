package main

import (
	"bufio"
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/align-go/align/internal/refdata"
)

func TestTokenizeChatTemplateVectors(t *testing.T) {
	data := refdata.ReadFile(t, "tokenizer-vectors/qwen3_chat_template.jsonl")
	type row struct {
		Messages            json.RawMessage `json:"messages"`
		AddGenerationPrompt bool            `json:"add_generation_prompt"`
		Rendered            string          `json:"rendered"`
		IDs                 []int           `json:"ids"`
	}
	var rows []row
	var in strings.Builder
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var r row
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatal(err)
		}
		rows = append(rows, r)
		req, _ := json.Marshal(map[string]any{"messages": r.Messages, "add_generation_prompt": r.AddGenerationPrompt})
		in.Write(append(req, '\n'))
	}
	// A text line between chat lines checks that order and kinds mix.
	in.WriteString(`{"text": "Hello world<|im_end|>"}` + "\n")
	stdout, stderr, err := runAlign(t, in.String(), "tokenize", "--model", refdata.Dir(t, "tokenizers/qwen3"))
	if err != nil {
		t.Fatalf("%v: %s", err, stderr)
	}
	sc := bufio.NewScanner(strings.NewReader(stdout))
	sc.Buffer(nil, 1<<24)
	n := 0
	for ; sc.Scan(); n++ {
		var got struct {
			Rendered *string `json:"rendered"`
			IDs      []int   `json:"ids"`
		}
		if err := json.Unmarshal(sc.Bytes(), &got); err != nil {
			t.Fatalf("output line %d: %v", n+1, err)
		}
		if n == len(rows) {
			// "Hello world" is [9707, 1879] in qwen3_encode.jsonl; <|im_end|> is 151645.
			if got.Rendered != nil || !slices.Equal(got.IDs, []int{9707, 1879, 151645}) {
				t.Errorf("text line: %+v", got)
			}
			continue
		}
		if got.Rendered == nil || *got.Rendered != rows[n].Rendered {
			t.Errorf("line %d: rendered differs", n+1)
		}
		if !slices.Equal(got.IDs, rows[n].IDs) {
			t.Errorf("line %d: ids differ", n+1)
		}
	}
	if n != len(rows)+1 {
		t.Fatalf("%d output lines for %d input lines", n, len(rows)+1)
	}
}

func TestTokenizeErrors(t *testing.T) {
	// A small tokenizer (a process each case: the error paths, not the
	// vocabulary, are under test here; the GPT-2 and Qwen3 ids are the
	// tests above and tokenizer/'s vectors).
	small := t.TempDir()
	tok := chatTokenizer(t, small)
	ids := func(s string) string {
		b, _ := json.Marshal(map[string][]int{"ids": tok.Encode(s)})
		return string(b) + "\n"
	}
	cases := []struct {
		name, stdin string
		args        []string
		wantOut     string
		wantErr     string
	}{
		{"bad json on line 2", "{\"text\": \"a\"}\n{\"text\": \n", nil, ids("a"), "line 2: invalid JSON"},
		{"wrong type", `{"text": 5}`, nil, "", `line 1: field "text"`},
		{"neither field", `{"foo": 1}`, nil, "", `line 1: expected a "text" or a "messages"`},
		{"both fields", `{"text": "a", "messages": []}`, nil, "", "line 1: give either"},
		{"empty line", "{\"text\": \"a\"}\n\n", nil, ids("a"), "line 2: empty line"},
		{"missing role", `{"messages": [{"content": "x"}]}`, nil, "", "line 1: messages[0]: missing role"},
		{"no trailing newline", `{"text": " a"}`, nil, ids(" a"), ""},
		{"missing model dir", `{"text": "a"}`, []string{"--model", filepath.Join(t.TempDir(), "none")}, "", "no tokenizer.json"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			args := c.args
			if args == nil {
				args = []string{"--model", small}
			}
			stdout, stderr, err := runAlign(t, c.stdin, append([]string{"tokenize"}, args...)...)
			if stdout != c.wantOut {
				t.Errorf("stdout %q, want %q", stdout, c.wantOut)
			}
			if c.wantErr == "" {
				if err != nil {
					t.Errorf("unexpected failure: %v %s", err, stderr)
				}
				return
			}
			if err == nil || !strings.Contains(stderr, c.wantErr) {
				t.Errorf("stderr %q (err %v), want it to contain %q", stderr, err, c.wantErr)
			}
		})
	}
}
