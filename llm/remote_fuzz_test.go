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
	"github.com/align-go/align/endpoint"
)

// FuzzRemoteResponse serves arbitrary /chat/completions and /models bodies
// from a local server to Remote. Seeds are answers shaped as vLLM, llama.cpp's
// server and OpenAI send them (with and without logprobs, usage, null
// content). A malformed answer must give an error naming the endpoint,
// never a panic; an accepted one must have a choices[0] object with a
// message, and carry its text.
func FuzzRemoteResponse(f *testing.F) {
	models := `{"object":"list","data":[{"id":"qwen3","object":"model","owned_by":"vllm"}]}`
	for _, s := range []string{
		`{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"qwen3","choices":[{"index":0,"message":{"role":"assistant","content":"B"},"logprobs":{"content":[{"token":"B","logprob":-0.1,"bytes":[66],"top_logprobs":[{"token":"B","logprob":-0.1,"bytes":[66]},{"token":"A","logprob":-2.4,"bytes":[65]}]}]},"finish_reason":"stop"}],"usage":{"prompt_tokens":7,"total_tokens":8,"completion_tokens":1}}`,
		`{"choices":[{"finish_reason":"length","index":0,"message":{"role":"assistant","content":"Hello there"}}],"created":1,"model":"gpt2","system_fingerprint":"b1","object":"chat.completion","usage":{"completion_tokens":2,"prompt_tokens":5,"total_tokens":7},"id":"chatcmpl-x","timings":{"prompt_n":5}}`,
		`{"choices":[{"message":{"role":"assistant","content":null,"tool_calls":[]},"finish_reason":"tool_calls"}]}`,
		`{"choices":[{"message":{"role":"assistant","content":"x"},"logprobs":null}]}`,
		`{"choices":[]}`, `{"error":{"message":"model not found","type":"invalid_request_error"}}`, `{"choices":[null]}`, `[]`, ``,
		`{"choices":[{}]}`, `{"choices":[{"message":null,"finish_reason":"stop"}]}`, `{"choices":[null,{"message":{"content":"x"}}]}`,
		`{"choices":null,"error":null}`,
	} {
		f.Add(uint8(0), []byte(s), []byte(models), true)
	}
	f.Add(uint8(2), []byte(`{"error":"busy"}`), []byte(models), false)
	f.Add(uint8(0), []byte(`{"choices":[{"message":{"content":"hi"}}]}`), []byte(`{"data":[]}`), false)
	// One server for the whole run (a server per input makes each one wait
	// for its connections to close); the fuzz function runs one input at a
	// time per process, so the answer to serve is set before each call.
	var answer atomic.Pointer[[3][]byte] // status, body, models body
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a := answer.Load()
		switch r.URL.Path {
		case "/models":
			w.Write(a[2])
		case "/chat/completions":
			w.WriteHeader([]int{200, 400, 429, 500}[a[0][0]%4])
			w.Write(a[1])
		default:
			http.NotFound(w, r)
		}
	}))
	f.Cleanup(ts.Close)
	hc := &http.Client{Transport: &http.Transport{}}
	f.Fuzz(func(t *testing.T, status uint8, body, modelsBody []byte, named bool) {
		code := []int{200, 400, 429, 500}[status%4]
		answer.Store(&[3][]byte{{status}, body, modelsBody})
		model := ""
		if named {
			model = "m"
		}
		r := &Remote{BaseURL: ts.URL, Model: model, Client: endpoint.Client{HTTP: hc, Retries: -1, Timeout: 10 * time.Second}}
		reqs := []Request{{Messages: []chat.Message{{Role: "user", Content: "A or B?"}}, MaxTokens: 1, TopLogprobs: 2}}
		got, err := r.Chat(context.Background(), reqs)
		if err != nil {
			if !strings.Contains(err.Error(), "llm remote "+ts.URL) {
				t.Fatalf("error does not name the endpoint: %v", err)
			}
			return
		}
		if code != 200 || len(got) != len(reqs) {
			t.Fatalf("HTTP %d accepted, %d responses", code, len(got))
		}
		var w struct {
			Choices []*struct {
				Message *struct {
					Content *string `json:"content"`
				} `json:"message"`
			} `json:"choices"`
		}
		if err := json.Unmarshal(body, &w); err != nil || len(w.Choices) == 0 {
			t.Fatalf("accepted an answer without choices: %q (%v)", body, err)
		}
		if w.Choices[0] == nil || w.Choices[0].Message == nil {
			t.Fatalf("accepted an answer whose choices[0] is null or has no message: %q", body)
		}
		if c := w.Choices[0].Message.Content; c != nil && *c != got[0].Text {
			t.Fatalf("text %q, choices[0] says %q", got[0].Text, *c)
		}
	})
}
