package llm

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/align-go/align/chat"
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
	r := mustRemote(t, ts.URL, "m")
	r.Backoff, r.CacheDir = time.Millisecond, t.TempDir()
	req := []Request{{Messages: []chat.Message{{Role: "user", Content: "A or B?"}}, MaxTokens: 1, TopLogprobs: 2}}
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

// A Remote with no model asks /models once and names the first it lists.
func TestRemoteDiscoversModel(t *testing.T) {
	var listed, posted int
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v1/models":
			listed++
			w.Write([]byte(`{"object":"list","data":[{"id":"served-one","object":"model"}]}`))
		case "/v1/chat/completions":
			posted++
			var q map[string]any
			json.NewDecoder(r.Body).Decode(&q)
			if q["model"] != "served-one" {
				http.Error(w, `{"error":{"message":"unknown model"}}`, 400)
				return
			}
			w.Write([]byte(`{"choices":[{"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}]}`))
		}
	}))
	defer ts.Close()
	r := mustRemote(t, ts.URL+"/v1", "")
	for range 2 {
		resp, err := r.Chat(context.Background(), []Request{{Messages: []chat.Message{{Role: "user", Content: "hi"}}, Seed: 1 << 63}})
		if err != nil || resp[0].Text != "ok" {
			t.Fatalf("%v %v", resp, err)
		}
	}
	if listed != 1 || posted != 2 {
		t.Fatalf("listed %d times, posted %d", listed, posted)
	}
	empty := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(`{"data":[]}`)) }))
	defer empty.Close()
	if _, err := mustRemote(t, empty.URL, "").Chat(context.Background(), []Request{{}}); err == nil || !strings.Contains(err.Error(), "lists none") {
		t.Fatalf("want an error naming the empty model list, got %v", err)
	}
}

func mustRemote(t *testing.T, url, model string) *Remote {
	t.Helper()
	r, err := NewRemote(url, model)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestRemoteEnv: ALIGN_HTTP_CONCURRENCY, _RETRIES and _TIMEOUT set the
// client's limits; a malformed value is an error naming the variable; zero
// retries means no retry (a 500 is then final after one call).
func TestRemoteEnv(t *testing.T) {
	t.Setenv("ALIGN_HTTP_CONCURRENCY", "9")
	t.Setenv("ALIGN_HTTP_RETRIES", "2")
	t.Setenv("ALIGN_HTTP_TIMEOUT", "1m30s")
	r := mustRemote(t, "http://127.0.0.1:1/v1", "m")
	if r.Concurrency != 9 || r.Retries != 2 || r.Timeout != 90*time.Second {
		t.Fatalf("concurrency %d retries %d timeout %v", r.Concurrency, r.Retries, r.Timeout)
	}
	for _, c := range []struct{ name, val, want string }{
		{"ALIGN_HTTP_CONCURRENCY", "0", `ALIGN_HTTP_CONCURRENCY="0": want an integer >= 1`},
		{"ALIGN_HTTP_RETRIES", "-1", `ALIGN_HTTP_RETRIES="-1": want an integer >= 0`},
		{"ALIGN_HTTP_TIMEOUT", "90", `ALIGN_HTTP_TIMEOUT="90": want a positive duration such as 90s`},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv(c.name, c.val)
			if _, err := NewRemote("http://127.0.0.1:1/v1", "m"); err == nil || err.Error() != c.want {
				t.Fatalf("err %v, want %q", err, c.want)
			}
		})
	}
	var calls atomic.Int32
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		calls.Add(1)
		http.Error(w, "oops", 500)
	}))
	defer ts.Close()
	t.Setenv("ALIGN_HTTP_RETRIES", "0")
	r = mustRemote(t, ts.URL, "m")
	if _, err := r.Chat(context.Background(), []Request{{Messages: []chat.Message{{Role: "user", Content: "x"}}}}); err == nil || calls.Load() != 1 {
		t.Fatalf("ALIGN_HTTP_RETRIES=0: err %v after %d calls, want an error after 1", err, calls.Load())
	}
}
