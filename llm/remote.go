package llm

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/align-go/align/chat"
)

// Remote is a Client for any OpenAI-compatible /chat/completions endpoint.
// Requests run at most Concurrency at a time; 429, 5xx and network errors are
// retried with exponential backoff; answers are cached on disk under CacheDir
// by a hash of the request body, so a re-run costs nothing.
type Remote struct {
	BaseURL     string // e.g. http://127.0.0.1:8080/v1
	Model       string
	APIKey      string        // NewRemote reads ALIGN_API_KEY, then OPENAI_API_KEY
	Concurrency int           // default 4
	Retries     int           // 0: the default, 5; negative: none
	Backoff     time.Duration // first retry delay, doubled each time (default 500ms)
	Timeout     time.Duration // per attempt (default 120s)
	CacheDir    string        // "" disables the cache
	HTTP        *http.Client

	modelOnce sync.Once // discoverModel, when Model is ""
	modelErr  error
}

// NewRemote is a Remote configured from the environment: the API key
// (ALIGN_API_KEY, else OPENAI_API_KEY) and, when set, ALIGN_HTTP_CONCURRENCY
// (requests at a time), ALIGN_HTTP_RETRIES and ALIGN_HTTP_TIMEOUT (per
// attempt, a Go duration such as 90s). A malformed setting is an error
// naming the variable.
func NewRemote(baseURL, model string) (*Remote, error) {
	key := os.Getenv("ALIGN_API_KEY")
	if key == "" {
		key = os.Getenv("OPENAI_API_KEY")
	}
	r := &Remote{BaseURL: strings.TrimRight(baseURL, "/"), Model: model, APIKey: key}
	n, set, err := envInt("ALIGN_HTTP_CONCURRENCY", 1)
	if err != nil {
		return nil, err
	}
	if set {
		r.Concurrency = n
	}
	if n, set, err = envInt("ALIGN_HTTP_RETRIES", 0); err != nil {
		return nil, err
	}
	if set {
		r.Retries = n
		if n == 0 {
			r.Retries = -1 // none asked for; 0 means the default
		}
	}
	if v := os.Getenv("ALIGN_HTTP_TIMEOUT"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("ALIGN_HTTP_TIMEOUT=%q: want a positive duration such as 90s", v)
		}
		r.Timeout = d
	}
	return r, nil
}

// envInt reads the integer environment variable name (set reports whether it
// is), which must be >= min.
func envInt(name string, min int) (n int, set bool, err error) {
	v := os.Getenv(name)
	if v == "" {
		return 0, false, nil
	}
	n, err = strconv.Atoi(v)
	if err != nil || n < min {
		return 0, false, fmt.Errorf("%s=%q: want an integer >= %d", name, v, min)
	}
	return n, true, nil
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

type wireResp struct {
	Choices []struct {
		Message      chat.Message `json:"message"`
		FinishReason string       `json:"finish_reason"`
		Logprobs     *struct {
			Content []struct {
				TopLogprobs []struct {
					Token   string  `json:"token"`
					Logprob float64 `json:"logprob"`
				} `json:"top_logprobs"`
			} `json:"content"`
		} `json:"logprobs"`
	} `json:"choices"`
	Usage struct {
		PromptTokens     int `json:"prompt_tokens"`
		CompletionTokens int `json:"completion_tokens"`
	} `json:"usage"`
}

// Chat implements Client.
func (r *Remote) Chat(ctx context.Context, reqs []Request) ([]Response, error) {
	conc := r.Concurrency
	if conc <= 0 {
		conc = 4
	}
	if err := r.discoverModel(ctx); err != nil {
		return nil, fmt.Errorf("llm remote %s: %w", r.BaseURL, err)
	}
	out := make([]Response, len(reqs))
	errs := make([]error, len(reqs))
	sem := make(chan struct{}, conc)
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
	retries, backoff := r.Retries, r.Backoff
	switch {
	case retries == 0:
		retries = 5
	case retries < 0:
		retries = 0
	}
	if backoff <= 0 {
		backoff = 500 * time.Millisecond
	}
	var resp Response
	for attempt := 0; ; attempt++ {
		var retry bool
		resp, retry, err = r.post(ctx, body)
		if err == nil || !retry || attempt >= retries {
			break
		}
		select {
		case <-time.After(backoff << attempt):
		case <-ctx.Done():
			return Response{}, ctx.Err()
		}
	}
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

// send makes one request to the endpoint's path with the API key, through
// r.HTTP (or Go's default client). A body is sent as JSON.
func (r *Remote) send(ctx context.Context, method, path string, body io.Reader) (*http.Response, error) {
	hreq, err := http.NewRequestWithContext(ctx, method, r.BaseURL+path, body)
	if err != nil {
		return nil, err
	}
	if body != nil {
		hreq.Header.Set("Content-Type", "application/json")
	}
	if r.APIKey != "" {
		hreq.Header.Set("Authorization", "Bearer "+r.APIKey)
	}
	hc := r.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	return hc.Do(hreq)
}

// post sends one attempt; retry says whether the failure may pass.
func (r *Remote) post(ctx context.Context, body []byte) (Response, bool, error) {
	to := r.Timeout
	if to <= 0 {
		to = 120 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, to)
	defer cancel()
	hresp, err := r.send(ctx, http.MethodPost, "/chat/completions", bytes.NewReader(body))
	if err != nil {
		return Response{}, true, err
	}
	defer hresp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(hresp.Body, 64<<20))
	if err != nil {
		return Response{}, true, err
	}
	if hresp.StatusCode != 200 {
		retry := hresp.StatusCode == 429 || hresp.StatusCode >= 500
		return Response{}, retry, fmt.Errorf("HTTP %d: %s", hresp.StatusCode, bytes.TrimSpace(b))
	}
	var w wireResp
	if err := json.Unmarshal(b, &w); err != nil || len(w.Choices) == 0 {
		return Response{}, false, fmt.Errorf("bad response %.200q: %v", b, err)
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
	return resp, false, nil
}
