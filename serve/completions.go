package serve

import (
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/align-go/align/engine"
)

// promptList is the completions "prompt": a string, a list of strings, a list
// of token ids, or a list of such lists.
type promptList struct {
	texts []string
	ids   [][]int32
}

func (p *promptList) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		p.texts = []string{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err == nil {
		p.texts = many
		return nil
	}
	var ids []int32
	if err := json.Unmarshal(b, &ids); err == nil {
		p.ids = [][]int32{ids}
		return nil
	}
	var idss [][]int32
	if err := json.Unmarshal(b, &idss); err == nil {
		p.ids = idss
		return nil
	}
	return fmt.Errorf("want a string, a list of strings, or token ids")
}

type completionRequest struct {
	params
	Prompt   *promptList `json:"prompt"`
	Logprobs *int        `json:"logprobs"`
	Echo     bool        `json:"echo"`
	Suffix   *string     `json:"suffix"`
}

func (s *Server) completions(w http.ResponseWriter, r *http.Request) {
	var req completionRequest
	if ae := s.decodeBody(w, r, &req); ae != nil {
		writeAPIError(w, ae)
		return
	}
	if req.MaxTokens == nil {
		sixteen := 16 // OpenAI's default for this endpoint
		req.MaxTokens = &sixteen
	}
	pr, ae := s.check(&req.params)
	if ae != nil {
		writeAPIError(w, ae)
		return
	}
	switch {
	case req.Prompt == nil || len(req.Prompt.texts)+len(req.Prompt.ids) == 0:
		writeAPIError(w, badRequest("prompt", "missing_required_parameter", "you must provide a prompt"))
		return
	case req.Echo:
		writeAPIError(w, badRequest("echo", "unsupported_value", "echo is not supported by this server"))
		return
	case req.Suffix != nil && *req.Suffix != "":
		writeAPIError(w, badRequest("suffix", "unsupported_value", "suffix is not supported by this server"))
		return
	}
	top := 0
	if req.Logprobs != nil {
		if *req.Logprobs < 0 || *req.Logprobs > 5 {
			writeAPIError(w, badRequest("logprobs", "invalid_value", "logprobs %d: want [0, 5]", *req.Logprobs))
			return
		}
		top = *req.Logprobs
		pr.req.Logprobs, pr.req.TopLogprobs = true, top
	}
	prompts := req.Prompt.ids
	for _, t := range req.Prompt.texts {
		prompts = append(prompts, s.e.TextPrompt(t))
	}
	V := s.e.Model.Cfg.Vocab
	for i, p := range req.Prompt.ids {
		for _, id := range p {
			if id < 0 || int(id) >= V {
				writeAPIError(w, badRequest("prompt", "invalid_value", "prompt %d: token id %d outside the vocabulary [0,%d)", i, id, V))
				return
			}
		}
	}
	reqs, ae := s.requests(prompts, pr, "prompt")
	if ae != nil {
		writeAPIError(w, ae)
		return
	}
	s.run(w, r, prompts, reqs, pr, &completionShape{s: s, logprobs: req.Logprobs != nil, ignoreEOS: pr.req.IgnoreEOS}, "cmpl-", "prompt")
}

type completionShape struct {
	s                   *Server
	logprobs, ignoreEOS bool
}

type completionLogprobs struct {
	Tokens        []string             `json:"tokens"`
	TokenLogprobs []float64            `json:"token_logprobs"`
	TopLogprobs   []map[string]float64 `json:"top_logprobs"`
	TextOffset    []int                `json:"text_offset"`
}

// logprobsOf lists the text tokens of toks; offsets count bytes from start.
func (c *completionShape) logprobsOf(toks []engine.Token, start int) *completionLogprobs {
	if !c.logprobs {
		return nil
	}
	out := &completionLogprobs{Tokens: []string{}, TokenLogprobs: []float64{}, TopLogprobs: []map[string]float64{}, TextOffset: []int{}}
	off := start
	for _, t := range toks {
		if isEOS(c.s.e, t.ID, c.ignoreEOS) {
			continue
		}
		text, _ := c.s.e.TokenText(t.ID)
		out.Tokens = append(out.Tokens, text)
		out.TokenLogprobs = append(out.TokenLogprobs, finite(t.Logprob))
		top := map[string]float64{}
		for _, cd := range t.Top {
			s, _ := c.s.e.TokenText(cd.ID)
			if _, dup := top[s]; !dup {
				top[s] = finite(cd.Logprob)
			}
		}
		out.TopLogprobs = append(out.TopLogprobs, top)
		out.TextOffset = append(out.TextOffset, off)
		off += len(text)
	}
	return out
}

type completionChoice struct {
	Text         string              `json:"text"`
	Index        int                 `json:"index"`
	Logprobs     *completionLogprobs `json:"logprobs"`
	FinishReason *string             `json:"finish_reason"`
}

type completionResponse struct {
	ID      string             `json:"id"`
	Object  string             `json:"object"`
	Created int64              `json:"created"`
	Model   string             `json:"model"`
	Choices []completionChoice `json:"choices"`
	Usage   *usage             `json:"usage"`
}

func (c *completionShape) response(id string, created int64, results []engine.Result, u *usage) any {
	resp := completionResponse{ID: id, Object: "text_completion", Created: created, Model: c.s.o.ModelName,
		Choices: make([]completionChoice, len(results)), Usage: u}
	for i, r := range results {
		fr := r.FinishReason
		resp.Choices[i] = completionChoice{Text: r.Text, Index: i, Logprobs: c.logprobsOf(r.Tokens, 0), FinishReason: &fr}
	}
	return resp
}

func (c *completionShape) chunk(id string, created int64, idx int, ev *engine.Event, first bool) any {
	ch := completionChoice{Text: ev.Text, Index: idx, Logprobs: c.logprobsOf(ev.Tokens, 0)}
	if ev.Done {
		fr := ev.FinishReason
		ch.FinishReason = &fr
	}
	return completionResponse{ID: id, Object: "text_completion", Created: created, Model: c.s.o.ModelName,
		Choices: []completionChoice{ch}}
}

func (c *completionShape) usageChunk(id string, created int64, u *usage) any {
	return completionResponse{ID: id, Object: "text_completion", Created: created, Model: c.s.o.ModelName,
		Choices: []completionChoice{}, Usage: u}
}
