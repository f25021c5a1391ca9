package reward

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// HTTP is a reward served over HTTP. Each Score POSTs one JSON body
//
//	{"samples": [{"prompt": "...", "completion": "...", <row fields>}, ...]}
//
// and expects 200 with {"rewards": [NUMBER, ...]}, one per sample in order.
// 429, 5xx and transport errors (timeouts included) are retried with
// exponential backoff; other statuses fail at once with the body's start.
type HTTP struct {
	URL     string
	Client  *http.Client
	Retries int
	Backoff time.Duration
}

func newHTTP(url string, o Options) *HTTP {
	h := &HTTP{URL: url, Client: o.HTTPClient, Retries: o.Retries, Backoff: o.Backoff}
	if h.Client == nil {
		t := o.Timeout
		if t <= 0 {
			t = 60 * time.Second
		}
		h.Client = &http.Client{Timeout: t}
	}
	if h.Retries == 0 {
		h.Retries = 3
	}
	if h.Backoff <= 0 {
		h.Backoff = 500 * time.Millisecond
	}
	return h
}

// Name is the reward's metric name.
func (h *HTTP) Name() string { return "http" }

// Score posts the batch.
func (h *HTTP) Score(ctx context.Context, samples []Sample) ([]float64, error) {
	body := struct {
		Samples []map[string]any `json:"samples"`
	}{make([]map[string]any, len(samples))}
	for i, s := range samples {
		body.Samples[i] = sampleJSON(s)
	}
	b, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	var last error
	for try := 0; try <= max(h.Retries, 0); try++ {
		if try > 0 {
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(h.Backoff << (try - 1)):
			}
		}
		var retry bool
		var out []float64
		out, retry, last = h.post(ctx, b, len(samples))
		if last == nil {
			return out, nil
		}
		if !retry || ctx.Err() != nil {
			break
		}
	}
	return nil, last
}

func (h *HTTP) post(ctx context.Context, body []byte, n int) (out []float64, retry bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.URL, bytes.NewReader(body))
	if err != nil {
		return nil, false, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := h.Client.Do(req)
	if err != nil {
		return nil, true, fmt.Errorf("http reward %s: %w", h.URL, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, true, fmt.Errorf("http reward %s: %w", h.URL, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, resp.StatusCode == 429 || resp.StatusCode >= 500,
			fmt.Errorf("http reward %s: %s: %s", h.URL, resp.Status, truncate(string(data), 200))
	}
	var ans struct {
		Rewards []float64 `json:"rewards"`
	}
	if err := json.Unmarshal(data, &ans); err != nil {
		return nil, false, fmt.Errorf("http reward %s: answer is not {\"rewards\": [NUMBER...]}: %v", h.URL, err)
	}
	if len(ans.Rewards) != n {
		return nil, false, fmt.Errorf("http reward %s: %d rewards for %d samples", h.URL, len(ans.Rewards), n)
	}
	return ans.Rewards, false, nil
}
