package tokenizer

import (
	"os"
	"testing"

	"github.com/ardanlabs/jinja"

	"github.com/align-go/align/chat"
	"github.com/align-go/align/internal/refdata"
)

type toolRow struct {
	Template            string         `json:"template"`
	Messages            []chat.Message `json:"messages"`
	Tools               []chat.Tool    `json:"tools"`
	AddGenerationPrompt bool           `json:"add_generation_prompt"`
	Vars                map[string]any `json:"vars"`
	Rendered            string         `json:"rendered"`
}

// Tools, tool calls and tool results rendered through Qwen3's template
// and a Llama 3.1-style one (tools printed with tojson(indent=4)) match
// Python Jinja2 under transformers' settings byte for byte
// (testdata/gen_tool_templates.py): key order as given, Python's float
// repr and string escapes, arguments parsed into objects.
func TestChatTemplateTools(t *testing.T) {
	llamaSrc, err := os.ReadFile("testdata/llama31_style_tools.jinja")
	if err != nil {
		t.Fatal(err)
	}
	llama, err := Load(refdata.Dir(t, "tokenizers/qwen3"))
	if err != nil {
		t.Fatal(err)
	}
	llama.SetChatTemplate(string(llamaSrc))
	toks := map[string]*Tokenizer{"qwen3": qwen3(t), "llama31": llama}
	rows := readJSONL[toolRow](t, "testdata/tool_templates.jsonl")
	if len(rows) < 7 {
		t.Fatalf("%d rows", len(rows))
	}
	for i, r := range rows {
		got, err := toks[r.Template].RenderChatWith(r.Messages, ChatOptions{AddGenerationPrompt: r.AddGenerationPrompt, Vars: r.Vars, Tools: r.Tools})
		if err != nil {
			t.Fatalf("row %d: %v", i+1, err)
		}
		if got != r.Rendered {
			t.Errorf("row %d (%s) rendered:\n got %q\nwant %q", i+1, r.Template, got, r.Rendered)
		}
	}
}

// Python's json.dumps spelling of floats (repr) and strings.
func TestPyToJSONScalars(t *testing.T) {
	for f, want := range map[float64]string{1.5: "1.5", 1: "1.0", 100000: "100000.0", 1e16: "1e+16", 1.5e-7: "1.5e-07",
		0.0001: "0.0001", 0.00001: "1e-05", -2.25: "-2.25", 123456789012345.6: "123456789012345.6", 1e15: "1000000000000000.0"} {
		if got := pyFloat(f); got != want {
			t.Errorf("pyFloat(%v) = %s, want %s", f, got, want)
		}
	}
	v, err := jsonValue([]byte(`{"b": "tab\there \u0001 \u2028 é 😀 <&>", "a": [1, 2.0, true, null, {}]}`))
	if err != nil {
		t.Fatal(err)
	}
	out, err := pyToJSON([]jinja.Value{v}, nil)
	if err != nil {
		t.Fatal(err)
	}
	// python3 -c 'import json; print(json.dumps({"b": "tab\there \u0001 \u2028 é 😀 <&>", "a": [1, 2.0, True, None, {}]}, ensure_ascii=False))'
	if want := "{\"b\": \"tab\\there \\u0001 \u2028 é 😀 <&>\", \"a\": [1, 2.0, true, null, {}]}"; out.AsString() != want {
		t.Errorf("got %s\nwant %s", out.AsString(), want)
	}
}
