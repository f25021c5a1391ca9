package serve

import (
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/align-go/align/chat"
	"github.com/align-go/align/engine"
)

// content is a message's content: a string, or a list of parts of which
// only text parts are accepted.
type content string

func (c *content) UnmarshalJSON(b []byte) error {
	var s *string
	if err := json.Unmarshal(b, &s); err == nil {
		if s != nil {
			*c = content(*s)
		}
		return nil
	}
	var parts []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	if err := json.Unmarshal(b, &parts); err != nil {
		return fmt.Errorf("want a string or a list of content parts")
	}
	var all string
	for _, p := range parts {
		if p.Type != "text" {
			return fmt.Errorf("content part of type %q: this server takes text only", p.Type)
		}
		all += p.Text
	}
	*c = content(all)
	return nil
}

type chatRequest struct {
	params
	Messages []struct {
		Role    string  `json:"role"`
		Content content `json:"content"`
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
		req.MaxTokens = req.MaxCompletionTokens
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
		if !chatRoles[m.Role] {
			writeAPIError(w, badRequest(fmt.Sprintf("messages[%d].role", i), "invalid_value",
				"messages[%d].role %q: want system, developer, user, assistant or tool", i, m.Role))
			return
		}
		role := m.Role
		if role == "developer" {
			role = "system" // OpenAI's newer name; templates know "system"
		}
		msgs[i] = chat.Message{Role: role, Content: string(m.Content)}
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
	ids, err := s.e.ChatPrompt(msgs)
	if err != nil {
		writeAPIError(w, badRequest("messages", "invalid_value", "%v", err))
		return
	}
	prompts := [][]int32{ids}
	reqs, ae := s.requests(prompts, pr, "messages")
	if ae != nil {
		writeAPIError(w, ae)
		return
	}
	s.run(w, r, prompts, reqs, pr, &chatShape{s: s, lp: lp, ignoreEOS: pr.req.IgnoreEOS}, "chatcmpl-", "messages")
}

type chatLogprobs struct {
	on  bool
	top int
}

type chatShape struct {
	s         *Server
	lp        chatLogprobs
	ignoreEOS bool
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
	Index        int              `json:"index"`
	Message      chat.Message     `json:"message"`
	Logprobs     *chatLogprobsOut `json:"logprobs"`
	FinishReason string           `json:"finish_reason"`
}

type chatResponse struct {
	ID      string       `json:"id"`
	Object  string       `json:"object"`
	Created int64        `json:"created"`
	Model   string       `json:"model"`
	Choices []chatChoice `json:"choices"`
	Usage   *usage       `json:"usage"`
}

func (c *chatShape) response(id string, created int64, results []engine.Result, u *usage) any {
	resp := chatResponse{ID: id, Object: "chat.completion", Created: created, Model: c.s.o.ModelName,
		Choices: make([]chatChoice, len(results)), Usage: u}
	for i, r := range results {
		resp.Choices[i] = chatChoice{Index: i, Message: chat.Message{Role: chat.RoleAssistant, Content: r.Text},
			Logprobs: c.logprobs(r.Tokens), FinishReason: r.FinishReason}
	}
	return resp
}

type chatDelta struct {
	Role    string  `json:"role,omitempty"`
	Content *string `json:"content,omitempty"`
}

type chatChunkChoice struct {
	Index        int              `json:"index"`
	Delta        chatDelta        `json:"delta"`
	Logprobs     *chatLogprobsOut `json:"logprobs"`
	FinishReason *string          `json:"finish_reason"`
}

type chatChunk struct {
	ID      string            `json:"id"`
	Object  string            `json:"object"`
	Created int64             `json:"created"`
	Model   string            `json:"model"`
	Choices []chatChunkChoice `json:"choices"`
	Usage   *usage            `json:"usage"`
}

func (c *chatShape) chunk(id string, created int64, idx int, ev *engine.Event, first bool) any {
	ch := chatChunkChoice{Index: idx, Logprobs: c.logprobs(ev.Tokens)}
	text := ev.Text
	ch.Delta.Content = &text
	if first {
		ch.Delta.Role = "assistant"
	}
	if ev.Done {
		fr := ev.FinishReason
		ch.FinishReason = &fr
	}
	return chatChunk{ID: id, Object: "chat.completion.chunk", Created: created, Model: c.s.o.ModelName,
		Choices: []chatChunkChoice{ch}}
}

func (c *chatShape) usageChunk(id string, created int64, u *usage) any {
	return chatChunk{ID: id, Object: "chat.completion.chunk", Created: created, Model: c.s.o.ModelName,
		Choices: []chatChunkChoice{}, Usage: u}
}
