package serve

import (
	"bytes"
	"encoding/json"
	"reflect"
	"regexp"

	"github.com/align-go/align/chat"
	"github.com/align-go/align/engine"
	"github.com/align-go/align/generate"
	"github.com/align-go/align/grammar"
	"github.com/align-go/align/tokenizer"
	"github.com/align-go/align/toolcall"
)

// Tool calls: the request's tools are rendered by the model's own chat
// template (its tool section teaches the model a call syntax), and the
// syntax that template teaches (toolcall.Detect) is parsed out of the
// output into OpenAI tool_calls, streamed or not. tool_choice "required"
// or a named function appends the opening of a call to the prompt
// opening of a call (toolcall.Opening) to the prompt and samples the
// call's JSON object under a grammar (package grammar) of the calls the
// choice allows (toolcall.CallSchema): a listed name and arguments that
// follow that function's parameters schema (any JSON object where the
// schema uses keywords the grammar compiler refuses). Such a call always
// parses unless max_tokens cuts it. A call that does not parse stays
// content, every byte of it, with finish_reason "stop" or "length".

// toolFields are chat's tool parameters.
type toolFields struct {
	Tools      []wireTool `json:"tools"`
	ToolChoice any        `json:"tool_choice"`
	// ParallelToolCalls false keeps the first call; later ones are content.
	ParallelToolCalls *bool `json:"parallel_tool_calls"`
}

type wireTool struct {
	Type     string `json:"type"`
	Function *struct {
		Name        string          `json:"name"`
		Description *string         `json:"description"`
		Parameters  json.RawMessage `json:"parameters"`
		// Strict asks for arguments that follow the schema; they are not
		// constrained here, so it changes nothing.
		Strict *bool `json:"strict"`
	} `json:"function"`
}

func init() {
	// A JSON Schema is any object; it is passed to the template as sent.
	checkers[reflect.TypeFor[json.RawMessage]()] = func(w *walker, tok token, path string) *apiError {
		if tok.kind == 'n' {
			return nil
		}
		if tok.kind != '{' {
			return mismatch(path, "an object", tok)
		}
		w.skipValue(tok)
		return nil
	}
}

// toolName is OpenAI's rule for function names.
var toolName = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,64}$`)

// toolPlan is how one request uses tools.
type toolPlan struct {
	tools  []chat.Tool
	parser *toolcall.Parser // nil: output is not parsed for calls (tool_choice "none")
	prefix string           // a forced call's opening: ends the prompt, starts the output
	single bool             // parallel_tool_calls: false
	// constraint holds a forced call's object to the tools' schemas.
	constraint *grammar.Matcher
}

// plan checks the tool fields; nil without tools.
func (s *Server) planTools(tf *toolFields) (*toolPlan, *apiError) {
	if tf.Tools == nil {
		if tf.ToolChoice != nil {
			return nil, badRequest("tool_choice", "invalid_value", "tool_choice is only allowed when tools are specified")
		}
		if tf.ParallelToolCalls != nil {
			return nil, badRequest("parallel_tool_calls", "invalid_value", "parallel_tool_calls is only allowed when tools are specified")
		}
		return nil, nil
	}
	if len(tf.Tools) == 0 {
		return nil, badRequest("tools", "invalid_value", "tools must hold at least one tool (or be left out)")
	}
	format, ok := toolcall.Detect(s.e.Tok.ChatTemplateSource())
	if !ok {
		return nil, badRequest("tools", "unsupported_parameter",
			"this model's chat template does not render tools in a tool-call format this server reads (Hermes/Qwen <tool_call> or Llama 3 JSON)")
	}
	tp := &toolPlan{tools: make([]chat.Tool, len(tf.Tools))}
	names := map[string]bool{}
	for i, t := range tf.Tools {
		path := index("tools", i)
		if t.Type != "function" {
			return nil, badRequest(path+".type", "invalid_value", "%s.type %q: want \"function\"", path, t.Type)
		}
		if t.Function == nil {
			return nil, badRequest(path+".function", "missing_required_parameter", "%s.function is required", path)
		}
		if !toolName.MatchString(t.Function.Name) {
			return nil, badRequest(path+".function.name", "invalid_value",
				"%s.function.name %q: want 1 to 64 letters, digits, underscores or dashes", path, t.Function.Name)
		}
		if names[t.Function.Name] {
			return nil, badRequest(path+".function.name", "invalid_value", "%s.function.name %q: named twice", path, t.Function.Name)
		}
		names[t.Function.Name] = true
		ct := chat.Tool{Type: "function", Function: chat.Function{Name: t.Function.Name, Parameters: t.Function.Parameters}}
		if t.Function.Description != nil {
			ct.Function.Description = *t.Function.Description
		}
		tp.tools[i] = ct
	}
	tp.parser = &toolcall.Parser{Format: format, Names: names}
	tp.single = tf.ParallelToolCalls != nil && !*tf.ParallelToolCalls
	switch c := tf.ToolChoice.(type) {
	case nil:
	case string:
		switch c {
		case "auto":
		case "none":
			tp.parser = nil
		case "required":
			if ae := s.forceCall(tp, format, ""); ae != nil {
				return nil, ae
			}
		default:
			return nil, badRequest("tool_choice", "invalid_value", "tool_choice %q: want \"none\", \"auto\", \"required\" or a function", c)
		}
	case map[string]any:
		fn, _ := c["function"].(map[string]any)
		name, _ := fn["name"].(string)
		if c["type"] != "function" || fn == nil || len(c) != 2 || len(fn) != 1 {
			return nil, badRequest("tool_choice", "invalid_value", `tool_choice: want {"type": "function", "function": {"name": NAME}}`)
		}
		if !names[name] {
			return nil, badRequest("tool_choice.function.name", "invalid_value", "tool_choice names %q, which is not in tools", name)
		}
		if ae := s.forceCall(tp, format, name); ae != nil {
			return nil, ae
		}
	default:
		return nil, badRequest("tool_choice", "invalid_type", "tool_choice: expected a string or an object, got %s", jsonKind(c))
	}
	return tp, nil
}

// forceCall makes tp's output a call to name (any tool when ""): the
// opening ends the prompt and a grammar holds the call's object.
func (s *Server) forceCall(tp *toolPlan, format toolcall.Format, name string) *apiError {
	var fns []chat.Function
	for _, t := range tp.tools {
		if name == "" || t.Function.Name == name {
			fns = append(fns, t.Function)
		}
	}
	// A schema with $ref means its own root, which is not the root of the
	// call schema it is put in.
	compiles := func(p []byte) bool {
		_, err := grammar.Schema(p)
		return err == nil && !bytes.Contains(p, []byte(`"$ref"`))
	}
	var m *grammar.Matcher
	var ae *apiError
	for _, usable := range []func([]byte) bool{compiles, func([]byte) bool { return false }} {
		var rf responseFormat
		schema := toolcall.CallSchema(format, fns, usable)
		body := `{"type": "json_schema", "json_schema": {"name": "tool_call", "schema": ` + string(schema) + `}}`
		if err := json.Unmarshal([]byte(body), &rf); err != nil {
			return &apiError{Message: "building the tool-call grammar: " + err.Error(), Type: "server_error", status: 500}
		}
		if m, ae = s.constraint(&rf); ae == nil {
			break
		}
	}
	if ae != nil {
		return &apiError{Message: "building the tool-call grammar: " + ae.Message, Type: "server_error", status: 500}
	}
	tp.prefix, tp.constraint = toolcall.Opening(format), m
	return nil
}

func jsonKind(v any) string {
	switch v.(type) {
	case bool:
		return "a boolean"
	case float64:
		return "a number"
	case []any:
		return "an array"
	}
	return "an object"
}

// toolMessage converts one request message's tool fields; path names it.
func toolMessage(m *chat.Message, calls []chat.ToolCall, callID *string, path string) *apiError {
	for k, c := range calls {
		p := index(path+".tool_calls", k)
		if c.Type != "function" {
			return badRequest(p+".type", "invalid_value", "%s.type %q: want \"function\"", p, c.Type)
		}
		if c.Function.Name == "" {
			return badRequest(p+".function.name", "missing_required_parameter", "%s.function.name is required", p)
		}
	}
	if len(calls) > 0 && m.Role != chat.RoleAssistant {
		return badRequest(path+".tool_calls", "invalid_value", "%s.tool_calls: only assistant messages make tool calls", path)
	}
	m.ToolCalls = calls
	if m.Role == chat.RoleTool {
		if callID == nil || *callID == "" {
			return badRequest(path+".tool_call_id", "missing_required_parameter", "%s.tool_call_id is required for a tool message", path)
		}
		m.ToolCallID = *callID
	}
	return nil
}

// parse splits one choice's output (prefix included) into content and
// calls with fresh ids; content is nil when empty beside calls.
func (tp *toolPlan) parse(text string) (*string, []chat.ToolCall) {
	text = tp.prefix + text
	if tp.parser == nil {
		return &text, nil
	}
	content, calls := tp.parser.Parse(text)
	if tp.single && len(calls) > 1 {
		calls = calls[:1] // parallel_tool_calls false: the first call only
	}
	if len(calls) == 0 {
		return &text, nil
	}
	out := make([]chat.ToolCall, len(calls))
	for i, c := range calls {
		out[i] = chat.ToolCall{ID: newID("call_"), Type: "function", Function: chat.FunctionCall{Name: c.Name, Arguments: c.Arguments}}
	}
	if content == "" {
		return nil, out
	}
	return &content, out
}

// finish is a choice's finish_reason: "tool_calls" when it called and
// stopped by itself.
func finish(reason string, calls int) string {
	if calls > 0 && reason == generate.FinishStop {
		return "tool_calls"
	}
	return reason
}

// toolCallDelta is a streamed piece of one call, as OpenAI streams it: the
// first with id, type and name (arguments ""), then argument fragments.
type toolCallDelta struct {
	Index    int    `json:"index"`
	ID       string `json:"id,omitempty"`
	Type     string `json:"type,omitempty"`
	Function struct {
		Name      string `json:"name,omitempty"`
		Arguments string `json:"arguments"`
	} `json:"function"`
}

// chunkList is several chunks for one event; run sends each.
type chunkList []any

// toolStream is one choice's streaming parse.
type toolStream struct {
	st      *toolcall.Stream
	started bool
}

// toolChunks turns one event into chunks when tools are parsed.
func (c *chatShape) toolChunks(id string, created int64, idx int, ev *engine.Event) any {
	if c.streams == nil {
		c.streams = map[int]*toolStream{}
	}
	ts := c.streams[idx]
	var ds []toolcall.Delta
	if ts == nil {
		ts = &toolStream{st: c.tools.parser.NewStream()}
		c.streams[idx] = ts
		ds = ts.st.Write(c.tools.prefix)
	}
	ds = append(ds, ts.st.Write(ev.Text)...)
	if ev.Done {
		ds = append(ds, ts.st.Close()...)
	}
	newChunk := func() chatChunkChoice {
		ch := chatChunkChoice{Index: idx}
		if !ts.started {
			ts.started = true
			ch.Delta.Role, ch.Delta.Refusal = "assistant", json.RawMessage("null")
		}
		return ch
	}
	var out chunkList
	var cur *chatChunkChoice
	flush := func() {
		if cur != nil {
			out = append(out, chatChunk{ID: id, Object: "chat.completion.chunk", Created: created, Model: c.model,
				SystemFingerprint: c.s.fingerprint, Choices: []chatChunkChoice{*cur}})
			cur = nil
		}
	}
	for _, d := range ds {
		if d.Call != nil && c.tools.single && d.Call.Index > 0 {
			continue // parallel_tool_calls false: the first call only
		}
		if d.Call == nil {
			if cur == nil || cur.Delta.ToolCalls != nil {
				flush()
				ch := newChunk()
				cur = &ch
			}
			text := d.Content
			if cur.Delta.Content != nil {
				text = *cur.Delta.Content + text
			}
			cur.Delta.Content = &text
			continue
		}
		flush()
		ch := newChunk()
		td := toolCallDelta{Index: d.Call.Index}
		if d.Call.Name != "" {
			td.ID, td.Type, td.Function.Name = newID("call_"), "function", d.Call.Name
		}
		td.Function.Arguments = d.Call.Arguments
		ch.Delta.ToolCalls = []toolCallDelta{td}
		cur = &ch
	}
	if cur == nil && (len(out) == 0 || ev.Done) {
		ch := newChunk()
		if ch.Delta.Role != "" {
			empty := ""
			ch.Delta.Content = &empty
		}
		cur = &ch
	}
	if ev.Done {
		fr := finish(ev.FinishReason, ts.st.Calls())
		cur.FinishReason = &fr
	}
	flush()
	// Logprobs ride on the event's first chunk.
	if lp := c.logprobs(ev.Tokens); lp != nil {
		first := out[0].(chatChunk)
		first.Choices[0].Logprobs = lp
		out[0] = first
	}
	if len(out) == 1 {
		return out[0]
	}
	return out
}

// chatPrompt renders msgs with the tools and appends a forced opening.
func (s *Server) chatPrompt(msgs []chat.Message, tp *toolPlan) ([]int32, error) {
	if tp == nil {
		return s.e.ChatPrompt(msgs)
	}
	text, err := s.e.Tok.RenderChatWith(msgs, tokenizer.ChatOptions{AddGenerationPrompt: true, Tools: tp.tools})
	if err != nil {
		return nil, err
	}
	enc := s.e.Tok.Encode(text + tp.prefix)
	ids := make([]int32, len(enc))
	for i, v := range enc {
		ids[i] = int32(v)
	}
	return ids, nil
}
