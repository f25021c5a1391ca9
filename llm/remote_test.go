package llm

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// 429 then 500 are retried, the key is sent, and the second run is served
// from the cache without a request.
func TestRemoteRetryCache(t *testing.T) {
	var calls atomic.Int32
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := calls.Add(1)
		if r.Header.Get("Authorization") != "Bearer k" {
			http.Error(w, "no key", 401)
			return
		}
		switch n {
		case 1:
			http.Error(w, "slow down", 429)
		case 2:
			http.Error(w, "oops", 500)
		default:
			w.Write([]byte(`{"choices":[{"message":{"role":"assistant","content":"B"},"finish_reason":"stop",
			"logprobs":{"content":[{"top_logprobs":[{"token":"B","logprob":-0.1},{"token":"A","logprob":-2.4}]}]}}],
			"usage":{"prompt_tokens":7,"completion_tokens":1}}`))
		}
	}))
	defer ts.Close()
	t.Setenv("ALIGN_API_KEY", "k")
	r := NewRemote(ts.URL, "m")
	r.Backoff, r.CacheDir = time.Millisecond, t.TempDir()
	req := []Request{{Messages: []Message{{Role: "user", Content: "A or B?"}}, MaxTokens: 1, TopLogprobs: 2}}
	got, err := r.Chat(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if g := got[0]; g.Text != "B" || g.PromptTokens != 7 || len(g.TopLogprobs) != 1 || g.TopLogprobs[0][1].Logprob != -2.4 {
		t.Fatalf("%+v", g)
	}
	if calls.Load() != 3 {
		t.Fatalf("%d calls, want 3", calls.Load())
	}
	again, err := r.Chat(context.Background(), req)
	if err != nil || again[0].Text != "B" || calls.Load() != 3 {
		t.Fatalf("cached run: %+v %v, %d calls", again, err, calls.Load())
	}
	// A 401 is not retried and names the status.
	r.APIKey, r.CacheDir = "bad", ""
	if _, err := r.Chat(context.Background(), req); err == nil || !strings.Contains(err.Error(), "HTTP 401") || calls.Load() != 4 {
		t.Fatalf("bad key: %v, %d calls", err, calls.Load())
	}
}
