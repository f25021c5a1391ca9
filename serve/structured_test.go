package serve

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

const personSchema = `{"type":"object","properties":{"name":{"type":"string","maxLength":12},"age":{"type":"integer"},
	"pets":{"type":"array","items":{"type":"object","properties":{"kind":{"enum":["cat","dog"]},"legs":{"type":["integer","null"]}},
	"required":["kind","legs"],"additionalProperties":false},"maxItems":2}},"required":["name","age","pets"],"additionalProperties":false}`

func schemaValidator(t *testing.T, schema string) *jsonschema.Schema {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(strings.NewReader(schema))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("s.json", doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile("s.json")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func mustValidate(t *testing.T, s *jsonschema.Schema, text string) {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(text), &v); err != nil {
		t.Fatalf("%q does not parse: %v", text, err)
	}
	inst, _ := jsonschema.UnmarshalJSON(strings.NewReader(text))
	if err := s.Validate(inst); err != nil {
		t.Fatalf("%q does not validate: %v", text, err)
	}
}

// TestStructuredOutputSDK: the official Go SDK asks a tiny random model
// for json_schema output (strict), sampled at temperature 1, streamed and
// not, and for json_object; every reply parses and validates with an
// independent JSON Schema validator, and ends with finish_reason "stop".
func TestStructuredOutputSDK(t *testing.T) {
	e := sharedEngine(t)
	_, client := startServer(t, e, Options{})
	ctx := context.Background()
	var schema map[string]any
	if err := json.Unmarshal([]byte(personSchema), &schema); err != nil {
		t.Fatal(err)
	}
	val := schemaValidator(t, personSchema)
	p := chatParams("Describe a person as JSON.", 300)
	p.Temperature = openai.Float(1)
	p.N = openai.Int(3)
	p.Seed = openai.Int(11)
	p.ResponseFormat = openai.ChatCompletionNewParamsResponseFormatUnion{OfJSONSchema: &openai.ResponseFormatJSONSchemaParam{
		JSONSchema: openai.ResponseFormatJSONSchemaJSONSchemaParam{Name: "person", Schema: schema, Strict: openai.Bool(true)}}}
	resp, err := client.Chat.Completions.New(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Choices) != 3 {
		t.Fatalf("%d choices", len(resp.Choices))
	}
	for _, c := range resp.Choices {
		if c.FinishReason != "stop" {
			t.Errorf("choice %d: finish %q: %q", c.Index, c.FinishReason, c.Message.Content)
			continue
		}
		mustValidate(t, val, c.Message.Content)
	}
	t.Logf("%s", resp.Choices[0].Message.Content)

	// Streamed: the deltas join into a document that validates, the same
	// as the unstreamed reply with the same seed.
	p.N = openai.Int(1)
	one, err := client.Chat.Completions.New(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	st := client.Chat.Completions.NewStreaming(ctx, p)
	var sb strings.Builder
	finish := ""
	for st.Next() {
		for _, c := range st.Current().Choices {
			sb.WriteString(c.Delta.Content)
			if c.FinishReason != "" {
				finish = c.FinishReason
			}
		}
	}
	if err := st.Err(); err != nil {
		t.Fatal(err)
	}
	mustValidate(t, val, sb.String())
	if sb.String() != one.Choices[0].Message.Content || finish != "stop" {
		t.Errorf("streamed %q (%s), unstreamed %q", sb.String(), finish, one.Choices[0].Message.Content)
	}

	// json_object: any object.
	p.ResponseFormat = openai.ChatCompletionNewParamsResponseFormatUnion{OfJSONObject: &openai.ResponseFormatJSONObjectParam{}}
	p.N = openai.Int(2)
	resp, err = client.Chat.Completions.New(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range resp.Choices {
		var obj map[string]any
		if err := json.Unmarshal([]byte(c.Message.Content), &obj); err != nil && c.FinishReason == "stop" {
			t.Errorf("json_object: %q is not an object: %v", c.Message.Content, err)
		}
	}

	// Legacy completions take response_format too (as vLLM's do).
	cp := openai.CompletionNewParams{Model: openai.CompletionNewParamsModel(modelName),
		Prompt:    openai.CompletionNewParamsPromptUnion{OfString: openai.String("JSON:")},
		MaxTokens: openai.Int(300), Temperature: openai.Float(1), Seed: openai.Int(3)}
	cr, err := client.Completions.New(ctx, cp, option.WithJSONSet("response_format",
		map[string]any{"type": "json_schema", "json_schema": map[string]any{"name": "person", "schema": schema}}))
	if err != nil {
		t.Fatal(err)
	}
	if cr.Choices[0].FinishReason != "stop" {
		t.Fatalf("completions: finish %q: %q", cr.Choices[0].FinishReason, cr.Choices[0].Text)
	}
	mustValidate(t, val, cr.Choices[0].Text)
}

// TestResponseFormatErrors: what cannot be enforced is refused with a 400
// naming the field and, for a schema, the JSON Pointer inside it.
func TestResponseFormatErrors(t *testing.T) {
	e := sharedEngine(t)
	h := New(e, Options{ModelName: modelName}).Handler()
	const pre = `{"model":"tiny","messages":[{"role":"user","content":"hi"}],"max_tokens":5,"response_format":`
	for _, c := range []struct{ rf, param, code, msg string }{
		{`{"type":"json_schema","json_schema":{"name":"p","schema":{"type":"object","properties":{"d":{"type":"string","format":"date"}}}}}`,
			"response_format.json_schema.schema", "invalid_value", "#/properties/d/format"},
		{`{"type":"json_schema","json_schema":{"name":"p","schema":{"type":"object","properties":{"a":{"type":"integer"}},"required":["b"]}}}`,
			"response_format.json_schema.schema", "invalid_value", "#/required/0"},
		{`{"type":"json_schema","json_schema":{"name":"p","schema":5}}`, "response_format.json_schema.schema", "invalid_type", ""},
		{`{"type":"json_schema","json_schema":{"schema":{}}}`, "response_format.json_schema.name", "missing_required_parameter", ""},
		{`{"type":"json_schema","json_schema":{"name":"a b","schema":{}}}`, "response_format.json_schema.name", "invalid_value", ""},
		{`{"type":"json_schema"}`, "response_format.json_schema", "missing_required_parameter", ""},
		{`{"type":"xml"}`, "response_format.type", "invalid_value", "xml"},
		{`{"type":"json_object","json_schema":{"name":"a"}}`, "response_format.json_schema", "invalid_value", ""},
		{`{"type":"json_object","extra":1}`, "response_format.extra", "unknown_parameter", ""},
		{`"json"`, "response_format", "invalid_type", ""},
	} {
		eb := wantError(t, call(h, "POST", "/v1/chat/completions", pre+c.rf+"}"), 400, c.param, c.code)
		if !strings.Contains(eb.Error.Message, c.msg) {
			t.Errorf("%s: message %q, want it to name %q", c.rf, eb.Error.Message, c.msg)
		}
	}
	// type text is plain output.
	if w := call(h, "POST", "/v1/chat/completions", pre+`{"type":"text"}}`); w.Code != 200 {
		t.Fatalf("text: %d %s", w.Code, w.Body)
	}
}

// TestGrammarCache: a schema sent again reuses its compiled grammar (and
// the masks it has computed) until that grammar grows past its state limit.
func TestGrammarCache(t *testing.T) {
	s := New(sharedEngine(t), Options{ModelName: modelName})
	rf := func(schema string) *responseFormat {
		r := &responseFormat{Type: "json_schema"}
		r.JSONSchema = &struct {
			Name        string  `json:"name"`
			Description *string `json:"description"`
			Schema      rawJSON `json:"schema"`
			Strict      *bool   `json:"strict"`
		}{Name: "x", Schema: rawJSON(schema)}
		return r
	}
	a, ae := s.constraint(rf(`{"type":"integer"}`))
	b, _ := s.constraint(rf(`{"type":"integer"}`))
	c, _ := s.constraint(rf(`{"type":"string"}`))
	o1, _ := s.constraint(&responseFormat{Type: "json_object"})
	o2, _ := s.constraint(&responseFormat{Type: "json_object"})
	if ae != nil || a == nil || a != b || a == c || o1 != o2 || o1 == a {
		t.Fatalf("cache: %v %p %p %p %p %p", ae, a, b, c, o1, o2)
	}
	if m, _ := s.constraint(&responseFormat{Type: "text"}); m != nil {
		t.Fatal("text has a grammar")
	}
	// Grow the object grammar past the limit: the next request gets a new one.
	st := o1.Start()
	for i := 0; o1.States() <= maxGrammarStates; i++ {
		// Ever deeper nesting makes new stacks, so new states.
		tok, _ := s.e.Tok.TokenID(`{"`)
		if i%2 == 1 {
			tok, _ = s.e.Tok.TokenID(`":[`)
		}
		if err := st.Accept(int32(tok)); err != nil {
			t.Fatal(err)
		}
	}
	if o3, _ := s.constraint(&responseFormat{Type: "json_object"}); o3 == o1 {
		t.Fatal("a grammar past its state limit was reused")
	}
}
