package toolcall

import (
	"encoding/json"
	"testing"

	"github.com/align-go/align/chat"
	"github.com/align-go/align/grammar"
)

// The call schema names each function with const and takes its
// parameters where usable, any object where not; compiled, its grammar
// accepts exactly the calls it describes, and Parse reads them after the
// opening.
func TestCallSchema(t *testing.T) {
	fns := []chat.Function{
		{Name: "get_weather", Parameters: json.RawMessage(`{"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}`)},
		{Name: "odd", Parameters: json.RawMessage(`{"type": "object", "properties": {"z": {"type": "string", "pattern": "^a"}}}`)},
	}
	usable := func(p []byte) bool { _, err := grammar.Schema(p); return err == nil }
	got := string(CallSchema(Hermes, fns, usable))
	want := `{"anyOf": [{"type": "object", "properties": {"name": {"const": "get_weather"}, "arguments": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}, "required": ["name", "arguments"]}, ` +
		`{"type": "object", "properties": {"name": {"const": "odd"}, "arguments": {"type": "object"}}, "required": ["name", "arguments"]}]}`
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	if one := string(CallSchema(Llama3JSON, fns[:1], usable)); one != `{"type": "object", "properties": {"name": {"const": "get_weather"}, "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}, "required": ["name", "parameters"]}` {
		t.Fatalf("llama: %s", one)
	}
	g, err := grammar.Schema([]byte(got))
	if err != nil {
		t.Fatal(err)
	}
	m := grammar.NewMatcher(g, grammar.NewVocab(nil, nil, 0))
	p := &Parser{Format: Hermes, Names: map[string]bool{"get_weather": true, "odd": true}}
	for text, ok := range map[string]bool{
		`{"name": "get_weather", "arguments": {"city": "Oslo"}}`: true,
		`{"name": "odd", "arguments": {"anything": [1]}}`:        true,
		`{"name": "get_weather", "arguments": {"town": "Oslo"}}`: false,
		`{"name": "other", "arguments": {}}`:                     false,
		`{"arguments": {"city": "Oslo"}, "name": "get_weather"}`: false,
	} {
		if m.Match([]byte(text)) != ok {
			t.Errorf("grammar on %s: want %v", text, ok)
		}
		if ok {
			if _, calls := p.Parse(Opening(Hermes) + text); len(calls) != 1 {
				t.Errorf("Parse(opening + %s): %+v", text, calls)
			}
		}
	}
}
