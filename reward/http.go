package reward

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/align-go/align/endpoint"
)

// HTTP is a reward served over HTTP. Each Score POSTs one JSON body
//
//	{"samples": [{"prompt": "...", "completion": "...", <row fields>}, ...]}
//
// and expects 200 with {"rewards": [NUMBER, ...]}, one per sample in order.
// Client retries 429, 5xx and transport errors (timeouts included) with
// exponential backoff; other statuses fail at once with the body's start.
type HTTP struct {
	URL    string
	Client *endpoint.Client // nil: a zero Client, the shared defaults
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
	c := h.Client
	if c == nil {
		c = &endpoint.Client{}
	}
	data, err := c.Do(ctx, http.MethodPost, h.URL, b)
	if err != nil {
		return nil, fmt.Errorf("http reward %s: %w", h.URL, err)
	}
	var ans struct {
		Rewards []float64 `json:"rewards"`
	}
	if err := json.Unmarshal(data, &ans); err != nil {
		return nil, fmt.Errorf("http reward %s: answer is not {\"rewards\": [NUMBER...]}: %v", h.URL, err)
	}
	if len(ans.Rewards) != len(samples) {
		return nil, fmt.Errorf("http reward %s: %d rewards for %d samples", h.URL, len(ans.Rewards), len(samples))
	}
	return ans.Rewards, nil
}
