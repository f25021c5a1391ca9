package serve

import (
	"encoding/json"
	"net/http"
	"reflect"
	"strings"

	"github.com/align-go/align/chat"
	"github.com/align-go/align/engine"
)

// content is a message's content: a string, or a list of parts of which
// only text parts are taken (the handler names any other part's path).
type content struct {
	text  string
	parts []contentPart
}

// contentPart is one part of a content list. The non-text kinds are listed
// so that they are refused by name, not as unknown fields.
type contentPart struct {
	Type       string `json:"type"`
	Text       string `json:"text"`
	ImageURL   any    `json:"image_url"`
	InputAudio any    `json:"input_audio"`
	File       any    `json:"file"`
	Refusal    any    `json:"refusal"`
}

func init() {
	checkers[reflect.TypeFor[content]()] = func(w *walker, tok token, path string) *apiError {
		if tok.kind == '"' || tok.kind == 'n' {
			return nil
		}
		if tok.kind != '[' {
			return mismatch(path, "a string or an array of content parts", tok)
		}
		return w.check(tok, reflect.TypeFor[[]contentPart](), path)
	}
}

func (c *content) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '[' {
		return json.Unmarshal(b, &c.parts)
	}
	var s *string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	if s != nil {
		c.text = *s
	}
	return nil
}

// textOf joins a content's text parts; path names the content for errors.
func (c *content) textOf(path string) (string, *apiError) {
	if c.parts == nil {
		return c.text, nil
	}
	var all strings.Builder
	for k, p := range c.parts {
		if p.Type != "text" {
			return "", badRequest(index(path, k)+".type", "unsupported_value",
				"%s.type %q: this server takes text parts only", index(path, k), p.Type)
		}
		all.WriteString(p.Text)
	}
	return all.String(), nil
}

type chatRequest struct {
	params
	toolFields
	// Messages are chat.Message on the wire, with content that may be a
	// list of parts. name is taken and not used (the chat templates here
	// do not render it).
	Messages []struct {
		Role         string          `json:"role"`
		Content      content         `json:"content"`
		Name         *string         `json:"name"`
		ToolCallID   *string         `json:"tool_call_id"`
		Refusal      *string         `json:"refusal"`
		ToolCalls    []chat.ToolCall `json:"tool_calls"`
		FunctionCall any             `json:"function_call"`
		Audio        any             `json:"audio"`
	} `json:"messages"`
	MaxCompletionTokens *int  `json:"max_completion_tokens"`
	Logprobs            *bool `json:"logprobs"`
	TopLogprobs         *int  `json:"top_logprobs"`
}

var chatRoles = map[string]bool{"system": true, "developer": true, "user": true, "assistant": true, "tool": true}

func (s *Server) chat(w http.ResponseWriter, r *http.Request) {
	var req chatRequest
	if ae := s.decodeBody(w, r, &req); ae != nil {
		writeAPIError(w, ae)
		return
	}
	if req.MaxCompletionTokens != nil {
		req.MaxTokens, req.maxTokensName = req.MaxCompletionTokens, "max_completion_tokens"
	}
	pr, ae := s.check(&req.params)
	if ae != nil {
		writeAPIError(w, ae)
		return
	}
	if len(req.Messages) == 0 {
		writeAPIError(w, badRequest("messages", "missing_required_parameter", "messages must hold at least one message"))
		return
	}
	msgs := make([]chat.Message, len(req.Messages))
	for i, m := range req.Messages {
		path := index("messages", i)
		if !chatRoles[m.Role] {
			writeAPIError(w, badRequest(path+".role", "invalid_value",
				"%s.role %q: want system, developer, user, assistant or tool", path, m.Role))
			return
		}
		for _, f := range []struct {
			name string
			v    any
		}{{"function_call", m.FunctionCall}, {"audio", m.Audio}} {
			if f.v != nil {
				writeAPIError(w, badRequest(path+"."+f.name, "unsupported_parameter", "%s.%s is not supported by this server", path, f.name))
				return
			}
		}
		text, ae := m.Content.textOf(path + ".content")
		if ae != nil {
			writeAPIError(w, ae)
			return
		}
		role := m.Role
		if role == "developer" {
			role = "system" // OpenAI's newer name; templates know "system"
		}
		msgs[i] = chat.Message{Role: role, Content: text}
		if ae := toolMessage(&msgs[i], m.ToolCalls, m.ToolCallID, path); ae != nil {
			writeAPIError(w, ae)
			return
		}
	}
	tools, ae := s.planTools(&req.toolFields)
	if ae != nil {
		writeAPIError(w, ae)
		return
	}
	if tools != nil && tools.constraint != nil {
		if pr.req.Constraint != nil {
			writeAPIError(w, badRequest("response_format", "invalid_value",
				"response_format cannot be combined with tool_choice \"required\" or a named function: the output is a tool call"))
			return
		}
		pr.req.Constraint = tools.constraint
	}
	lp := chatLogprobs{}
	if req.Logprobs != nil && *req.Logprobs {
		lp.on = true
	}
	if req.TopLogprobs != nil {
		if *req.TopLogprobs < 0 || *req.TopLogprobs > 20 {
			writeAPIError(w, badRequest("top_logprobs", "invalid_value", "top_logprobs %d: want [0, 20]", *req.TopLogprobs))
			return
		}
		if !lp.on && *req.TopLogprobs > 0 {
			writeAPIError(w, badRequest("top_logprobs", "invalid_value", "top_logprobs needs logprobs: true"))
			return
		}
		lp.top = *req.TopLogprobs
	}
	pr.req.Logprobs, pr.req.TopLogprobs = lp.on, lp.top
	if ae := s.countCheck(1, pr, "n"); ae != nil {
		writeAPIError(w, ae)
		return
	}
	ids, err := s.chatPrompt(msgs, tools)
	if err != nil {
		writeAPIError(w, badRequest("messages", "invalid_value", "%v", err))
		return
	}
	prompts := [][]int32{ids}
	reqs, release, ae := s.requests(prompts, pr, "messages")
	if ae != nil {
		writeAPIError(w, ae)
		return
	}
	s.run(w, r, prompts, reqs, release, pr, &chatShape{s: s, model: req.Model, lp: lp, ignoreEOS: pr.req.IgnoreEOS, tools: tools}, "chatcmpl-", "messages")
}

type chatLogprobs struct {
	on  bool
	top int
}

type chatShape struct {
	s         *Server
	model     string // the model the request named: the served one or an adapter
	lp        chatLogprobs
	ignoreEOS bool
	tools     *toolPlan           // nil without tools
	streams   map[int]*toolStream // per choice, when tools are parsed
}

type topLogprob struct {
	Token   string  `json:"token"`
	Logprob float64 `json:"logprob"`
	Bytes   []int   `json:"bytes"`
}

type tokenLogprob struct {
	topLogprob
	TopLogprobs []topLogprob `json:"top_logprobs"`
}

type chatLogprobsOut struct {
	Content []tokenLogprob `json:"content"`
}

func (c *chatShape) tokenEntry(id int32, lp float32) topLogprob {
	text, b := c.s.e.TokenText(id)
	bs := make([]int, len(b))
	for i, x := range b {
		bs[i] = int(x)
	}
	return topLogprob{Token: text, Logprob: finite(lp), Bytes: bs}
}

// logprobs lists the tokens that are part of the text (not EOS).
func (c *chatShape) logprobs(toks []engine.Token) *chatLogprobsOut {
	if !c.lp.on {
		return nil
	}
	out := &chatLogprobsOut{Content: []tokenLogprob{}}
	for _, t := range toks {
		if isEOS(c.s.e, t.ID, c.ignoreEOS) {
			continue
		}
		e := tokenLogprob{topLogprob: c.tokenEntry(t.ID, t.Logprob), TopLogprobs: []topLogprob{}}
		for _, cd := range t.Top {
			e.TopLogprobs = append(e.TopLogprobs, c.tokenEntry(cd.ID, cd.Logprob))
		}
		out.Content = append(out.Content, e)
	}
	return out
}

// isEOS reports an end-of-sequence token, which is not part of the text
// (unless the request ignored EOS).
func isEOS(e *engine.Engine, id int32, ignore bool) bool {
	if ignore {
		return false
	}
	for _, x := range e.EOS {
		if x == id {
			return true
		}
	}
	return false
}

type chatChoice struct {
	Index   int `json:"index"`
	Message struct {
		Role      string          `json:"role"`
		Content   *string         `json:"content"` // null beside tool calls when the model wrote no text
		Refusal   *string         `json:"refusal"` // always null: this server never refuses in-band
		ToolCalls []chat.ToolCall `json:"tool_calls,omitempty"`
	} `json:"message"`
	Logprobs     *chatLogprobsOut `json:"logprobs"`
	FinishReason string           `json:"finish_reason"`
}

type chatResponse struct {
	ID                string       `json:"id"`
	Object            string       `json:"object"`
	Created           int64        `json:"created"`
	Model             string       `json:"model"`
	SystemFingerprint string       `json:"system_fingerprint"`
	Choices           []chatChoice `json:"choices"`
	Usage             *usage       `json:"usage"`
}

func (c *chatShape) response(id string, created int64, results []engine.Result, u *usage) any {
	resp := chatResponse{ID: id, Object: "chat.completion", Created: created, Model: c.model,
		SystemFingerprint: c.s.fingerprint, Choices: make([]chatChoice, len(results)), Usage: u}
	for i, r := range results {
		resp.Choices[i] = chatChoice{Index: i, Logprobs: c.logprobs(r.Tokens), FinishReason: r.FinishReason}
		m := &resp.Choices[i].Message
		m.Role, m.Content = chat.RoleAssistant, &r.Text
		if c.tools != nil {
			m.Content, m.ToolCalls = c.tools.parse(r.Text)
			resp.Choices[i].FinishReason = finish(r.FinishReason, len(m.ToolCalls))
		}
	}
	return resp
}

type chatDelta struct {
	Role    string  `json:"role,omitempty"`
	Content *string `json:"content,omitempty"`
	// Refusal is null in a choice's first chunk (as OpenAI sends it) and
	// absent after.
	Refusal   json.RawMessage `json:"refusal,omitempty"`
	ToolCalls []toolCallDelta `json:"tool_calls,omitempty"`
}

type chatChunkChoice struct {
	Index        int              `json:"index"`
	Delta        chatDelta        `json:"delta"`
	Logprobs     *chatLogprobsOut `json:"logprobs"`
	FinishReason *string          `json:"finish_reason"`
}

type chatChunk struct {
	ID                string            `json:"id"`
	Object            string            `json:"object"`
	Created           int64             `json:"created"`
	Model             string            `json:"model"`
	SystemFingerprint string            `json:"system_fingerprint"`
	Choices           []chatChunkChoice `json:"choices"`
	Usage             *usage            `json:"usage"`
}

func (c *chatShape) chunk(id string, created int64, idx int, ev *engine.Event, first bool) any {
	if c.tools != nil && c.tools.parser != nil {
		return c.toolChunks(id, created, idx, ev)
	}
	ch := chatChunkChoice{Index: idx, Logprobs: c.logprobs(ev.Tokens)}
	text := ev.Text
	ch.Delta.Content = &text
	if first {
		ch.Delta.Role, ch.Delta.Refusal = "assistant", json.RawMessage("null")
	}
	if ev.Done {
		fr := ev.FinishReason
		ch.FinishReason = &fr
	}
	return chatChunk{ID: id, Object: "chat.completion.chunk", Created: created, Model: c.model,
		SystemFingerprint: c.s.fingerprint, Choices: []chatChunkChoice{ch}}
}

func (c *chatShape) usageChunk(id string, created int64, u *usage) any {
	return chatChunk{ID: id, Object: "chat.completion.chunk", Created: created, Model: c.model,
		SystemFingerprint: c.s.fingerprint, Choices: []chatChunkChoice{}, Usage: u}
}
