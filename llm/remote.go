package llm

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/align-go/align/chat"
	"github.com/align-go/align/endpoint"
)

// Remote is a Client for any OpenAI-compatible /chat/completions endpoint.
// Requests go through endpoint.Client (at most Concurrency at a time; 429,
// 5xx and network errors retried with exponential backoff); answers are
// cached on disk under CacheDir by a hash of the request body, so a re-run
// costs nothing.
type Remote struct {
	BaseURL string // e.g. http://127.0.0.1:8080/v1
	Model   string
	endpoint.Client
	CacheDir string // "" disables the cache

	modelOnce sync.Once // discoverModel, when Model is ""
	modelErr  error
}

// NewRemote is a Remote configured from the environment: the API key
// (endpoint.APIKeyFromEnv: ALIGN_API_KEY, else OPENAI_API_KEY) and the
// ALIGN_HTTP_* settings (endpoint.FromEnv). A malformed setting is an error
// naming the variable.
func NewRemote(baseURL, model string) (*Remote, error) {
	c, err := endpoint.FromEnv()
	if err != nil {
		return nil, err
	}
	c.APIKey = endpoint.APIKeyFromEnv()
	return &Remote{BaseURL: strings.TrimRight(baseURL, "/"), Model: model, Client: c}, nil
}

type wireReq struct {
	Model       string         `json:"model"`
	Messages    []chat.Message `json:"messages"`
	MaxTokens   int            `json:"max_tokens,omitempty"`
	Temperature float64        `json:"temperature"`
	TopP        float64        `json:"top_p,omitempty"`
	Seed        int64          `json:"seed,omitempty"`
	Stop        []string       `json:"stop,omitempty"`
	Logprobs    bool           `json:"logprobs,omitempty"`
	TopLogprobs int            `json:"top_logprobs,omitempty"`
}

type wireChoice struct {
	Message      *chat.Message `json:"message"`
	FinishReason string        `json:"finish_reason"`
	Logprobs     *struct {
		Content []struct {
			TopLogprobs []struct {
				Token   string  `json:"token"`
				Logprob float64 `json:"logprob"`
			} `json:"top_logprobs"`
		} `json:"content"`
	} `json:"logprobs"`
}

type wireResp struct {
	Choices []*wireChoice `json:"choices"` // pointers: a null choice is an error, not an empty answer
	Usage   struct {
		PromptTokens     int `json:"prompt_tokens"`
		CompletionTokens int `json:"completion_tokens"`
	} `json:"usage"`
	Error json.RawMessage `json:"error"` // an error object some servers send with status 200
}

// Chat implements Client.
func (r *Remote) Chat(ctx context.Context, reqs []Request) ([]Response, error) {
	if err := r.discoverModel(ctx); err != nil {
		return nil, fmt.Errorf("llm remote %s: %w", r.BaseURL, err)
	}
	out := make([]Response, len(reqs))
	errs := make([]error, len(reqs))
	sem := make(chan struct{}, r.Workers())
	var wg sync.WaitGroup
	for i := range reqs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			out[i], errs[i] = r.one(ctx, reqs[i])
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			return nil, fmt.Errorf("llm remote %s: request %d: %w", r.BaseURL, i, err)
		}
	}
	return out, nil
}

func (r *Remote) one(ctx context.Context, q Request) (Response, error) {
	body, err := json.Marshal(wireReq{Model: r.Model, Messages: q.Messages, MaxTokens: q.MaxTokens,
		Temperature: q.Temperature, TopP: q.TopP, Seed: int64(q.seed()), Stop: q.Stop,
		Logprobs: q.TopLogprobs > 0, TopLogprobs: q.TopLogprobs})
	if err != nil {
		return Response{}, err
	}
	sum := sha256.Sum256(append([]byte(r.BaseURL+"\n"), body...))
	var cpath string
	if r.CacheDir != "" {
		cpath = filepath.Join(r.CacheDir, hex.EncodeToString(sum[:])+".json")
		if b, err := os.ReadFile(cpath); err == nil {
			var resp Response
			if json.Unmarshal(b, &resp) == nil {
				return resp, nil
			}
		}
	}
	b, err := r.Do(ctx, http.MethodPost, r.BaseURL+"/chat/completions", body)
	if err != nil {
		return Response{}, err
	}
	resp, err := decode(b)
	if err != nil {
		return Response{}, err
	}
	if cpath != "" {
		if b, err := json.Marshal(resp); err == nil && os.MkdirAll(r.CacheDir, 0o755) == nil {
			tmp := cpath + ".tmp"
			if os.WriteFile(tmp, b, 0o644) == nil {
				os.Rename(tmp, cpath)
			}
		}
	}
	return resp, nil
}

// decode reads a chat completion answer.
func decode(b []byte) (Response, error) {
	var w wireResp
	if err := json.Unmarshal(b, &w); err != nil {
		return Response{}, fmt.Errorf("response is not a chat completion (%v): %.200q", err, b)
	}
	switch {
	case len(w.Choices) == 0 && len(w.Error) > 0 && string(w.Error) != "null":
		return Response{}, fmt.Errorf("response has no choices but an error: %.200s", w.Error)
	case len(w.Choices) == 0:
		return Response{}, fmt.Errorf("response has no choices: %.200q", b)
	case w.Choices[0] == nil:
		return Response{}, fmt.Errorf("response's choices[0] is null: %.200q", b)
	case w.Choices[0].Message == nil:
		return Response{}, fmt.Errorf("response's choices[0] has no message: %.200q", b)
	}
	c := w.Choices[0]
	resp := Response{Text: c.Message.Content, FinishReason: c.FinishReason,
		PromptTokens: w.Usage.PromptTokens, CompletionTokens: w.Usage.CompletionTokens}
	if c.Logprobs != nil {
		for _, t := range c.Logprobs.Content {
			cands := make([]TokenLogprob, len(t.TopLogprobs))
			for k, x := range t.TopLogprobs {
				cands[k] = TokenLogprob{Token: x.Token, Logprob: x.Logprob}
			}
			resp.TopLogprobs = append(resp.TopLogprobs, cands)
		}
	}
	return resp, nil
}
