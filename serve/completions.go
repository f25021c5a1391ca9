package serve

import (
	"bytes"
	"encoding/json"
	"net/http"
	"reflect"
	"unicode/utf8"

	"github.com/align-go/align/engine"
)

// promptList is the completions "prompt": a string, a list of strings, a list
// of token ids, or a list of such lists.
type promptList struct {
	texts []string
	ids   [][]int32
}

func init() {
	checkers[reflect.TypeFor[promptList]()] = checkPrompt
}

// checkPrompt checks the four shapes of "prompt"; a list's first element
// decides which one it is.
func checkPrompt(w *walker, tok token, path string) *apiError {
	const want = "a string, an array of strings, an array of token ids or an array of arrays of token ids"
	if tok.kind == '"' || tok.kind == 'n' {
		return nil
	}
	if tok.kind != '[' {
		return mismatch(path, want, tok)
	}
	var elem byte // the first element's kind
	for i := 0; w.more(); i++ {
		if elem == '0' && i == w.lim.ids && w.lim.ids > 0 {
			return tooManyIDs(path, w.lim)
		}
		if elem != 0 && elem != '0' && i == w.lim.prompts && w.lim.prompts > 0 {
			return badRequest(path, "request_too_large", "%s holds more than %d prompts; this server holds at most %d sequences at once",
				path, w.lim.prompts, w.lim.prompts)
		}
		el := w.next()
		if elem == 0 {
			if el.kind != '"' && el.kind != '0' && el.kind != '[' {
				return mismatch(index(path, i), want, el)
			}
			elem = el.kind
		}
		var ae *apiError
		switch elem {
		case '"':
			ae = w.check(el, reflect.TypeFor[string](), index(path, i))
			if el.kind == 'n' {
				ae = mismatch(index(path, i), "a string", el)
			}
		case '0':
			ae = checkID(el, index(path, i))
		case '[':
			ae = checkIDs(w, el, index(path, i))
		}
		if ae != nil {
			return ae
		}
	}
	w.next()
	return nil
}

// checkIDs checks one list of token ids, at most a context's worth.
func checkIDs(w *walker, tok token, path string) *apiError {
	if tok.kind != '[' {
		return mismatch(path, "an array of token ids", tok)
	}
	for i := 0; w.more(); i++ {
		if i == w.lim.ids && w.lim.ids > 0 {
			return tooManyIDs(path, w.lim)
		}
		if ae := checkID(w.next(), index(path, i)); ae != nil {
			return ae
		}
	}
	w.next()
	return nil
}

func checkID(tok token, path string) *apiError {
	if tok.kind != '0' {
		return mismatch(path, "a token id", tok)
	}
	if _, ok, inRange := parseInt(tok.raw, 32); !ok {
		return badRequest(path, "invalid_type", "%s: expected a token id, got %s", path, tok.raw)
	} else if !inRange {
		return badRequest(path, "invalid_value", "%s: %s is out of range", path, tok.raw)
	}
	return nil
}

func tooManyIDs(path string, lim limits) *apiError {
	return badRequest(path, "context_length_exceeded", "%s holds more than %d token ids: past this model's context of %d tokens",
		path, lim.ids, lim.context)
}

// UnmarshalJSON decodes the shape checkPrompt found, told by the first
// element's first byte.
func (p *promptList) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		p.texts = []string{""}
		return json.Unmarshal(b, &p.texts[0])
	}
	if len(b) == 0 || b[0] != '[' {
		return json.Unmarshal(b, &p.texts) // null; checkPrompt let nothing else through
	}
	inner := bytes.TrimLeft(b[1:], " \t\r\n")
	switch {
	case len(inner) == 0 || inner[0] == ']':
		return nil
	case inner[0] == '"':
		return json.Unmarshal(b, &p.texts)
	case inner[0] == '[':
		return json.Unmarshal(b, &p.ids)
	}
	p.ids = [][]int32{nil}
	return json.Unmarshal(b, &p.ids[0])
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
	nPrompts := len(req.Prompt.texts) + len(req.Prompt.ids)
	if ae := s.countCheck(nPrompts, pr, "prompt"); ae != nil {
		writeAPIError(w, ae)
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
	V := s.e.Model.Cfg.Vocab
	for i, p := range req.Prompt.ids {
		for k, id := range p {
			if id < 0 || int(id) >= V {
				path := index("prompt", k)
				if len(req.Prompt.ids) > 1 {
					path = index(index("prompt", i), k)
				}
				writeAPIError(w, badRequest(path, "invalid_value", "%s: token id %d outside the vocabulary [0,%d)", path, id, V))
				return
			}
		}
	}
	prompts := req.Prompt.ids
	for _, t := range req.Prompt.texts {
		prompts = append(prompts, s.e.TextPrompt(t))
	}
	reqs, release, ae := s.requests(prompts, pr, "prompt")
	if ae != nil {
		writeAPIError(w, ae)
		return
	}
	s.run(w, r, prompts, reqs, release, pr, &completionShape{s: s, model: req.Model, logprobs: req.Logprobs != nil, ignoreEOS: pr.req.IgnoreEOS,
		offsets: make([]int, len(reqs))}, "cmpl-", "prompt")
}

type completionShape struct {
	s                   *Server
	model               string // the model the request named
	logprobs, ignoreEOS bool
	offsets             []int // per choice, the characters streamed so far
}

type completionLogprobs struct {
	Tokens        []string             `json:"tokens"`
	TokenLogprobs []float64            `json:"token_logprobs"`
	TopLogprobs   []map[string]float64 `json:"top_logprobs"`
	TextOffset    []int                `json:"text_offset"`
}

// logprobsOf lists the text tokens of toks. text_offset counts characters
// (Unicode code points, as Python's len does in OpenAI's and vLLM's servers)
// of the token strings from the completion's start; *off carries it across
// a stream's chunks.
func (c *completionShape) logprobsOf(toks []engine.Token, off *int) *completionLogprobs {
	if !c.logprobs {
		return nil
	}
	out := &completionLogprobs{Tokens: []string{}, TokenLogprobs: []float64{}, TopLogprobs: []map[string]float64{}, TextOffset: []int{}}
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
		out.TextOffset = append(out.TextOffset, *off)
		*off += utf8.RuneCountInString(text)
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
	ID                string             `json:"id"`
	Object            string             `json:"object"`
	Created           int64              `json:"created"`
	Model             string             `json:"model"`
	SystemFingerprint string             `json:"system_fingerprint"`
	Choices           []completionChoice `json:"choices"`
	Usage             *usage             `json:"usage"`
}

func (c *completionShape) response(id string, created int64, results []engine.Result, u *usage) any {
	resp := completionResponse{ID: id, Object: "text_completion", Created: created, Model: c.model, SystemFingerprint: c.s.fingerprint,
		Choices: make([]completionChoice, len(results)), Usage: u}
	for i, r := range results {
		fr := r.FinishReason
		off := 0
		resp.Choices[i] = completionChoice{Text: r.Text, Index: i, Logprobs: c.logprobsOf(r.Tokens, &off), FinishReason: &fr}
	}
	return resp
}

func (c *completionShape) chunk(id string, created int64, idx int, ev *engine.Event, first bool) any {
	ch := completionChoice{Text: ev.Text, Index: idx, Logprobs: c.logprobsOf(ev.Tokens, &c.offsets[idx])}
	if ev.Done {
		fr := ev.FinishReason
		ch.FinishReason = &fr
	}
	return completionResponse{ID: id, Object: "text_completion", Created: created, Model: c.model, SystemFingerprint: c.s.fingerprint,
		Choices: []completionChoice{ch}}
}

func (c *completionShape) usageChunk(id string, created int64, u *usage) any {
	return completionResponse{ID: id, Object: "text_completion", Created: created, Model: c.model, SystemFingerprint: c.s.fingerprint,
		Choices: []completionChoice{}, Usage: u}
}
