package serve

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"strconv"

	"github.com/align-go/align/engine"
	"github.com/align-go/align/generate"
)

// stopList is OpenAI's "stop": a string, a list of up to 4 strings, or null.
type stopList []string

func init() {
	checkers[reflect.TypeFor[stopList]()] = func(w *walker, tok token, path string) *apiError {
		if tok.kind == '"' || tok.kind == 'n' {
			return nil
		}
		if tok.kind != '[' {
			return mismatch(path, "a string or an array of strings", tok)
		}
		return w.check(tok, reflect.TypeFor[[]string](), path)
	}
}

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

// maxLogitBias is the most tokens logit_bias may name (OpenAI's limit).
const maxLogitBias = 300

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
		// Obfuscation pads chunks against length side channels; this
		// server never pads, so either value is honoured.
		IncludeObfuscation *bool `json:"include_obfuscation"`
	} `json:"stream_options"`
	IgnoreEOS        bool               `json:"ignore_eos"` // vLLM's extension
	LogitBias        map[string]float64 `json:"logit_bias"`
	PresencePenalty  *float64           `json:"presence_penalty"`
	FrequencyPenalty *float64           `json:"frequency_penalty"`
	// User identifies the caller for the caller's own records; it changes
	// nothing here.
	User *string `json:"user"`
	// ResponseFormat is enforced while sampling (structured.go).
	ResponseFormat *responseFormat `json:"response_format"`

	// OpenAI parameters this server does not implement: a request that sets
	// one is refused naming it, rather than answered as if it were unset.
	Functions        any `json:"functions"`
	FunctionCall     any `json:"function_call"`
	Store            any `json:"store"`
	Metadata         any `json:"metadata"`
	ServiceTier      any `json:"service_tier"`
	Modalities       any `json:"modalities"`
	Audio            any `json:"audio"`
	Prediction       any `json:"prediction"`
	ReasoningEffort  any `json:"reasoning_effort"`
	WebSearchOptions any `json:"web_search_options"`
	BestOf           any `json:"best_of"`

	maxTokensName string // the field MaxTokens came from ("" is max_tokens)
}

// unsupported names the first unimplemented parameter p sets.
func (p *params) unsupported() string {
	for _, f := range []struct {
		name string
		v    any
	}{{"functions", p.Functions}, {"function_call", p.FunctionCall},
		{"store", p.Store}, {"metadata", p.Metadata}, {"service_tier", p.ServiceTier}, {"modalities", p.Modalities},
		{"audio", p.Audio}, {"prediction", p.Prediction}, {"reasoning_effort", p.ReasoningEffort},
		{"web_search_options", p.WebSearchOptions}, {"best_of", p.BestOf}} {
		switch v := f.v.(type) {
		case nil:
		case bool:
			if v { // store: false asks for nothing
				return f.name
			}
		case float64:
			if f.name != "best_of" || v != 1 {
				return f.name
			}
		default:
			return f.name
		}
	}
	return ""
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
	if name := p.unsupported(); name != "" {
		return nil, badRequest(name, "unsupported_parameter", "%s is not supported by this server", name)
	}
	if p.Model == "" {
		return nil, badRequest("model", "missing_required_parameter", "you must provide a model parameter")
	}
	adapter, ae := s.adapterOf(p.Model)
	if ae != nil {
		return nil, ae
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
		name := p.maxTokensName
		if name == "" {
			name = "max_tokens"
		}
		if *p.MaxTokens < 1 {
			return nil, badRequest(name, "invalid_value", "%s %d: want >= 1", name, *p.MaxTokens)
		}
		// Every prompt has a token, so more than ContextLen-1 never fits.
		if ctx := s.e.ContextLen(); *p.MaxTokens > ctx-1 {
			return nil, badRequest(name, "context_length_exceeded",
				"%s %d: this model's context is %d tokens, prompt included", name, *p.MaxTokens, ctx)
		}
		out.maxTokens = *p.MaxTokens
	}
	for _, pen := range []struct {
		name string
		v    *float64
		to   *float64
	}{{"presence_penalty", p.PresencePenalty, &smp.PresencePenalty}, {"frequency_penalty", p.FrequencyPenalty, &smp.FrequencyPenalty}} {
		if pen.v != nil {
			if !(*pen.v >= -2 && *pen.v <= 2) {
				return nil, badRequest(pen.name, "invalid_value", "%s %v: want a number in [-2, 2]", pen.name, *pen.v)
			}
			*pen.to = *pen.v
		}
	}
	if len(p.LogitBias) > 0 {
		if len(p.LogitBias) > maxLogitBias {
			return nil, badRequest("logit_bias", "invalid_value", "logit_bias holds %d tokens: at most %d", len(p.LogitBias), maxLogitBias)
		}
		V := s.e.Model.Cfg.Vocab
		smp.LogitBias = make(map[int32]float32, len(p.LogitBias))
		for k, b := range p.LogitBias {
			id, err := strconv.ParseInt(k, 10, 32)
			if err != nil || id < 0 || int(id) >= V {
				return nil, badRequest("logit_bias", "invalid_value", "logit_bias key %q: want a token id in [0, %d)", k, V)
			}
			if !(b >= -100 && b <= 100) {
				return nil, badRequest("logit_bias", "invalid_value", "logit_bias[%s] %v: want a number in [-100, 100]", k, b)
			}
			smp.LogitBias[int32(id)] = float32(b)
		}
	}
	c, ae := s.constraint(p.ResponseFormat)
	if ae != nil {
		return nil, ae
	}
	smp.Constraint = c
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
	out.req = engine.Request{Sampling: smp, Seed: seed, Stop: p.Stop, IgnoreEOS: p.IgnoreEOS, Adapter: adapter}
	return out, nil
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
