package endpoint

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// The one set of defaults every remote call (chat endpoint, LLM judge, HTTP
// reward) gets from a zero Client or an unset environment.
func TestDefaults(t *testing.T) {
	want := Client{Concurrency: 4, Retries: 5, Backoff: 500 * time.Millisecond, Timeout: 120 * time.Second}
	if got := (Client{}).WithDefaults(); got != want {
		t.Fatalf("zero Client: %+v, want %+v", got, want)
	}
	for _, v := range []string{"ALIGN_HTTP_CONCURRENCY", "ALIGN_HTTP_RETRIES", "ALIGN_HTTP_TIMEOUT"} {
		t.Setenv(v, "")
	}
	c, err := FromEnv()
	if err != nil || c.WithDefaults() != want {
		t.Fatalf("FromEnv with nothing set: %+v %v, want %+v", c.WithDefaults(), err, want)
	}
	if got := (Client{Retries: -1, Concurrency: 2}).WithDefaults(); got.Retries != -1 || got.Concurrency != 2 {
		t.Fatalf("set values must stay: %+v", got)
	}
}

func TestFromEnv(t *testing.T) {
	t.Setenv("ALIGN_HTTP_CONCURRENCY", "9")
	t.Setenv("ALIGN_HTTP_RETRIES", "0")
	t.Setenv("ALIGN_HTTP_TIMEOUT", "1m30s")
	c, err := FromEnv()
	if err != nil || c.Concurrency != 9 || c.Retries != -1 || c.Timeout != 90*time.Second || c.APIKey != "" {
		t.Fatalf("%+v %v", c, err)
	}
	t.Setenv("OPENAI_API_KEY", "o")
	t.Setenv("ALIGN_API_KEY", "")
	if k := APIKeyFromEnv(); k != "o" {
		t.Fatalf("key %q, want OPENAI_API_KEY's", k)
	}
	t.Setenv("ALIGN_API_KEY", "a")
	if k := APIKeyFromEnv(); k != "a" {
		t.Fatalf("key %q, want ALIGN_API_KEY's", k)
	}
}

// 429, 5xx and timeouts are retried up to Retries times; other statuses fail
// at once; the key and content type are sent.
func TestDoRetries(t *testing.T) {
	var calls atomic.Int32
	var fail atomic.Int32 // status of the next answers; 0: OK
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if r.Header.Get("Authorization") != "Bearer k" || r.Header.Get("Content-Type") != "application/json" {
			http.Error(w, "headers", 400)
			return
		}
		switch code := int(fail.Load()); code {
		case 0:
			w.Write([]byte("ok"))
		case 1:
			io.Copy(io.Discard, r.Body) // so the server sees the client hang up
			<-r.Context().Done()        // answers only after the client gave up
		default:
			http.Error(w, "nope", code)
		}
	}))
	defer srv.Close()
	c := Client{APIKey: "k", Backoff: time.Millisecond, Timeout: 20 * time.Millisecond}
	for _, tc := range []struct {
		status  int32
		retries int
		calls   int32
	}{
		{0, 0, 1},
		{500, 0, 6}, // zero Retries: the default, 5
		{503, 2, 3},
		{429, 1, 2},
		{500, -1, 1},
		{404, 0, 1},
		{401, 3, 1},
		{1, 2, 3}, // each attempt times out
	} {
		calls.Store(0)
		fail.Store(tc.status)
		c.Retries = tc.retries
		b, err := c.Do(context.Background(), http.MethodPost, srv.URL, []byte("{}"))
		if calls.Load() != tc.calls {
			t.Errorf("status %d, retries %d: %d calls, want %d", tc.status, tc.retries, calls.Load(), tc.calls)
		}
		var se *StatusError
		switch {
		case tc.status == 0 && (err != nil || string(b) != "ok"):
			t.Errorf("ok: %q %v", b, err)
		case tc.status > 1 && (!errors.As(err, &se) || se.Code != int(tc.status) || se.Body != "nope"):
			t.Errorf("status %d: error %v", tc.status, err)
		case tc.status == 1 && err == nil:
			t.Errorf("timeouts: no error")
		}
	}
}
