package toolcall

import (
	"encoding/json"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/align-go/align/internal/refdata"
)

type parseCase struct {
	name    string
	f       Format
	text    string
	content string
	calls   []Call
}

var parseCases = []parseCase{
	{"plain", Hermes, "Hello there.\n", "Hello there.\n", nil},
	{"one call", Hermes, "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>", "",
		[]Call{{"get_weather", `{"city": "Paris"}`}}},
	{"text then two calls", Hermes, "Let me check.\n<tool_call>\n{\"name\": \"a\", \"arguments\": {}}\n</tool_call>\n<tool_call>\n{\"arguments\": {\"x\": [1, {\"y\": \"}\"}]}, \"name\": \"b\"}\n</tool_call>",
		"Let me check.", []Call{{"a", "{}"}, {"b", `{"x": [1, {"y": "}"}]}`}}},
	{"unclosed call at the end", Hermes, "<tool_call>\n{\"name\": \"a\", \"arguments\": {\"k\": 1}}\n", "", []Call{{"a", `{"k": 1}`}}},
	{"arguments as a string", Hermes, "<tool_call>{\"name\": \"a\", \"arguments\": \"{\\\"k\\\": 1}\"}</tool_call>", "", []Call{{"a", `{"k": 1}`}}},
	{"no arguments", Hermes, "<tool_call>{\"name\": \"a\"}</tool_call>", "", []Call{{"a", "{}"}}},
	{"parameters key", Hermes, "<tool_call>{\"name\": \"a\", \"parameters\": {\"k\": 2}}</tool_call>", "", []Call{{"a", `{"k": 2}`}}},
	{"text around", Hermes, "  Sure:  <tool_call>{\"name\": \"a\"}</tool_call>  done. ", "  Sure:done. ", []Call{{"a", "{}"}}},
	{"malformed JSON stays content", Hermes, "A <tool_call>\n{\"name\": \"a\", \"arguments\": {\"k\": }\n</tool_call> B", "A <tool_call>\n{\"name\": \"a\", \"arguments\": {\"k\": }\n</tool_call> B", nil},
	{"truncated call stays content", Hermes, "<tool_call>\n{\"name\": \"a\", \"argum", "<tool_call>\n{\"name\": \"a\", \"argum", nil},
	{"no name", Hermes, "<tool_call>{\"arguments\": {}}</tool_call>", "<tool_call>{\"arguments\": {}}</tool_call>", nil},
	{"empty name", Hermes, "<tool_call>{\"name\": \"\"}</tool_call>", "<tool_call>{\"name\": \"\"}</tool_call>", nil},
	{"array arguments", Hermes, "<tool_call>{\"name\": \"a\", \"arguments\": [1]}</tool_call>", "<tool_call>{\"name\": \"a\", \"arguments\": [1]}</tool_call>", nil},
	{"two objects in one call", Hermes, "<tool_call>{\"name\": \"a\"}{\"name\": \"b\"}</tool_call>", "<tool_call>{\"name\": \"a\"}{\"name\": \"b\"}</tool_call>", nil},
	{"unknown function", Hermes, "<tool_call>{\"name\": \"rm_rf\"}</tool_call>", "<tool_call>{\"name\": \"rm_rf\"}</tool_call>", nil},
	{"bad then good", Hermes, "x<tool_call>oops</tool_call> \n<tool_call>{\"name\": \"a\"}</tool_call>", "x<tool_call>oops</tool_call>", []Call{{"a", "{}"}}},
	{"tag-like text", Hermes, "a <tool b <tool_c", "a <tool b <tool_c", nil},

	{"llama plain", Llama3JSON, "The weather is fine.", "The weather is fine.", nil},
	{"llama call", Llama3JSON, "{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Paris\"}}", "", []Call{{"get_weather", `{"city": "Paris"}`}}},
	{"llama python tag, two calls", Llama3JSON, "<|python_tag|>{\"name\": \"a\", \"parameters\": {}}; {\"name\": \"b\", \"arguments\": {\"q\": \"x;y\"}}\n", "",
		[]Call{{"a", "{}"}, {"b", `{"q": "x;y"}`}}},
	{"llama malformed", Llama3JSON, "{\"name\": \"a\", \"parameters\": {\"k\": 1}", "{\"name\": \"a\", \"parameters\": {\"k\": 1}", nil},
	{"llama trailing text", Llama3JSON, "{\"name\": \"a\", \"parameters\": {}} and more", "{\"name\": \"a\", \"parameters\": {}} and more", nil},
	{"llama JSON that is not a call", Llama3JSON, " {\"answer\": 42}", " {\"answer\": 42}", nil},
}

var known = map[string]bool{"a": true, "b": true, "get_weather": true}

func TestParse(t *testing.T) {
	for _, c := range parseCases {
		p := &Parser{Format: c.f, Names: known}
		content, calls := p.Parse(c.text)
		if content != c.content || !reflect.DeepEqual(calls, c.calls) {
			t.Errorf("%s: got %q %+v, want %q %+v", c.name, content, calls, c.content, c.calls)
		}
	}
}

// collect runs text through a Stream in the given pieces and joins what
// it sends, checking the delta shape on the way.
func collect(t *testing.T, p *Parser, pieces []string) (string, []Call) {
	t.Helper()
	s := p.NewStream()
	var content strings.Builder
	var calls []Call
	take := func(ds []Delta) {
		for _, d := range ds {
			if d.Call == nil {
				if d.Content == "" {
					t.Fatalf("empty content delta")
				}
				content.WriteString(d.Content)
				continue
			}
			switch {
			case d.Call.Name != "":
				if d.Call.Index != len(calls) || d.Call.Arguments != "" {
					t.Fatalf("call start %+v after %d calls", d.Call, len(calls))
				}
				calls = append(calls, Call{Name: d.Call.Name})
			case d.Call.Index != len(calls)-1 || d.Call.Arguments == "":
				t.Fatalf("fragment %+v with %d calls", d.Call, len(calls))
			default:
				calls[len(calls)-1].Arguments += d.Call.Arguments
			}
		}
	}
	for _, x := range pieces {
		take(s.Write(x))
	}
	take(s.Close())
	if s.Calls() != len(calls) {
		t.Fatalf("Calls() %d, sent %d", s.Calls(), len(calls))
	}
	return content.String(), calls
}

// Streaming in any split gives what Parse gives.
func TestStreamMatchesParse(t *testing.T) {
	for _, c := range parseCases {
		p := &Parser{Format: c.f, Names: known}
		wantContent, wantCalls := p.Parse(c.text)
		splits := [][]string{{c.text}}
		var bytes, runes []string
		for i := 0; i < len(c.text); i++ {
			bytes = append(bytes, c.text[i:i+1])
		}
		for _, r := range c.text {
			runes = append(runes, string(r))
		}
		splits = append(splits, bytes, runes)
		for cut := 1; cut < len(c.text); cut++ {
			splits = append(splits, []string{c.text[:cut], c.text[cut:]})
		}
		for _, pieces := range splits {
			content, calls := collect(t, p, pieces)
			if content != wantContent || !reflect.DeepEqual(calls, wantCalls) {
				t.Fatalf("%s split %q: got %q %+v, want %q %+v", c.name, pieces, content, calls, wantContent, wantCalls)
			}
		}
	}
}

// A call's arguments arrive in the pieces they were generated in.
func TestStreamFragments(t *testing.T) {
	p := &Parser{Format: Hermes}
	s := p.NewStream()
	var got []Delta
	for _, x := range []string{"Hi ", "<tool_call>", "\n{\"name\": \"a\", \"arguments\": ", "{\"k\"", ": 1", "}}\n", "</tool_call>"} {
		got = append(got, s.Write(x)...)
	}
	got = append(got, s.Close()...)
	want := []Delta{{Content: "Hi"}, {Call: &CallDelta{Index: 0, Name: "a"}},
		{Call: &CallDelta{Arguments: `{"k"`}}, {Call: &CallDelta{Arguments: ": 1"}}, {Call: &CallDelta{Arguments: "}"}}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %s", show(got))
	}
}

func show(ds []Delta) string {
	var b strings.Builder
	for _, d := range ds {
		if d.Call != nil {
			b.WriteString("call" + "{" + d.Call.Name + "|" + d.Call.Arguments + "} ")
		} else {
			b.WriteString("content{" + d.Content + "} ")
		}
	}
	return b.String()
}

func TestDetect(t *testing.T) {
	for src, want := range map[string]Format{
		"{% if tools %}<tool_call>{% endif %}":                              Hermes,
		`{% if tools %}ipython {"name": ..., "parameters": ...}{% endif %}`: Llama3JSON,
		"{% for m in messages %}{{ m.content }}{% endfor %}":                0,
		"{% if tools %}[TOOL_CALLS]{% endif %}":                             0,
	} {
		if got, ok := Detect(src); got != want || ok != (want != 0) {
			t.Errorf("Detect(%q) = %v %v, want %v", src, got, ok, want)
		}
	}
}

// The templates the tests render with: Qwen3's own and the Llama 3.1-style
// fixture.
func TestDetectRealTemplates(t *testing.T) {
	var cfg struct {
		ChatTemplate string `json:"chat_template"`
	}
	if err := json.Unmarshal(refdata.ReadFile(t, "tokenizers/qwen3/tokenizer_config.json"), &cfg); err != nil {
		t.Fatal(err)
	}
	llama, err := os.ReadFile("../tokenizer/testdata/llama31_style_tools.jinja")
	if err != nil {
		t.Fatal(err)
	}
	for src, want := range map[string]Format{cfg.ChatTemplate: Hermes, string(llama): Llama3JSON} {
		if got, ok := Detect(src); got != want || !ok {
			t.Errorf("Detect = %v %v, want %v", got, ok, want)
		}
	}
}
