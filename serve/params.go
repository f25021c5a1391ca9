package serve

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/align-go/align/engine"
	"github.com/align-go/align/generate"
)

// stopList is OpenAI's "stop": a string, a list of up to 4 strings, or null.
type stopList []string

func (s *stopList) UnmarshalJSON(b []byte) error {
	var one *string
	if err := json.Unmarshal(b, &one); err == nil {
		if one != nil {
			*s = stopList{*one}
		}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return fmt.Errorf("want a string or a list of strings")
	}
	*s = many
	return nil
}

// params are the request fields chat and completions share.
type params struct {
	Model         string   `json:"model"`
	MaxTokens     *int     `json:"max_tokens"`
	Temperature   *float64 `json:"temperature"`
	TopP          *float64 `json:"top_p"`
	TopK          *int     `json:"top_k"` // vLLM's extension
	N             *int     `json:"n"`
	Stop          stopList `json:"stop"`
	Seed          *int64   `json:"seed"`
	Stream        bool     `json:"stream"`
	StreamOptions *struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
	IgnoreEOS bool `json:"ignore_eos"` // vLLM's extension
}

// parsed is a validated request, ready to become engine requests.
type parsed struct {
	n            int
	maxTokens    int // 0: up to the context
	req          engine.Request
	stream       bool
	includeUsage bool
}

// check validates the shared fields. Defaults follow OpenAI: temperature 1,
// top_p 1, n 1, a fresh random seed when none is given.
func (s *Server) check(p *params) (*parsed, *apiError) {
	if p.Model == "" {
		return nil, badRequest("model", "missing_required_parameter", "you must provide a model parameter")
	}
	if p.Model != s.o.ModelName {
		return nil, s.unknownModel(p.Model)
	}
	out := &parsed{n: 1, stream: p.Stream}
	smp := generate.Sampling{Temperature: 1}
	if p.Temperature != nil {
		t := *p.Temperature
		if !(t >= 0 && t <= 2) {
			return nil, badRequest("temperature", "invalid_value", "temperature %v: want a number in [0, 2]", t)
		}
		smp.Temperature = t
	}
	if p.TopP != nil {
		tp := *p.TopP
		if !(tp > 0 && tp <= 1) {
			return nil, badRequest("top_p", "invalid_value", "top_p %v: want a number in (0, 1]", tp)
		}
		smp.TopP = tp
	}
	if p.TopK != nil {
		// vLLM: -1 (or 0) is off.
		if *p.TopK < -1 {
			return nil, badRequest("top_k", "invalid_value", "top_k %d: want -1 (off) or a count >= 1", *p.TopK)
		}
		smp.TopK = max(*p.TopK, 0)
	}
	if p.N != nil {
		if *p.N < 1 || *p.N > s.o.MaxN {
			return nil, badRequest("n", "invalid_value", "n %d: want an integer in [1, %d]", *p.N, s.o.MaxN)
		}
		out.n = *p.N
	}
	if p.MaxTokens != nil {
		if *p.MaxTokens < 1 {
			return nil, badRequest("max_tokens", "invalid_value", "max_tokens %d: want >= 1", *p.MaxTokens)
		}
		out.maxTokens = *p.MaxTokens
	}
	if len(p.Stop) > 4 {
		return nil, badRequest("stop", "invalid_value", "stop holds %d strings: at most 4", len(p.Stop))
	}
	for _, st := range p.Stop {
		if st == "" {
			return nil, badRequest("stop", "invalid_value", "stop strings must not be empty")
		}
	}
	if p.StreamOptions != nil {
		if !p.Stream {
			return nil, badRequest("stream_options", "invalid_value", "stream_options is only allowed with stream: true")
		}
		out.includeUsage = p.StreamOptions.IncludeUsage
	}
	seed := rand.Uint64()
	if p.Seed != nil {
		seed = uint64(*p.Seed)
	}
	out.req = engine.Request{Sampling: smp, Seed: seed, Stop: p.Stop, IgnoreEOS: p.IgnoreEOS}
	return out, nil
}

// requests are the engine requests for prompts, n choices each (choice
// index p*n+i), all drawing from the request's seed on stream i.
func (s *Server) requests(prompts [][]int32, pr *parsed, param string) ([]engine.Request, *apiError) {
	ctxLen := s.e.ContextLen()
	var reqs []engine.Request
	for pi, ids := range prompts {
		if len(ids) == 0 {
			return nil, badRequest(param, "invalid_value", "prompt %d encodes to no tokens", pi)
		}
		mt := pr.maxTokens
		if mt == 0 {
			mt = ctxLen - len(ids)
			if mt < 1 {
				return nil, engineError(&engine.TooLongError{Prompt: len(ids), MaxTokens: 1, Context: ctxLen}, param)
			}
		}
		for i := 0; i < pr.n; i++ {
			r := pr.req
			r.Prompt, r.MaxTokens, r.Stream = ids, mt, uint64(i)
			reqs = append(reqs, r)
		}
	}
	return reqs, nil
}

type usage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
	TotalTokens      int `json:"total_tokens"`
}

func makeUsage(prompts [][]int32, results []engine.Result) *usage {
	u := &usage{}
	for _, p := range prompts {
		u.PromptTokens += len(p)
	}
	for _, r := range results {
		u.CompletionTokens += len(r.Tokens)
	}
	u.TotalTokens = u.PromptTokens + u.CompletionTokens
	return u
}

// finite replaces -Inf log-probabilities (a token of zero probability under
// float32) by the most negative float32, since JSON has no infinity.
func finite(x float32) float64 {
	if math.IsInf(float64(x), -1) || math.IsNaN(float64(x)) {
		return -math.MaxFloat32
	}
	return float64(x)
}
