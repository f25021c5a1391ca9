package endpoint

import (
	"context"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
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

// roundTrip answers requests in process: the test counts and answers every
// attempt itself, so no attempt can miss its deadline before it is counted
// however loaded the machine is.
type roundTrip func(*http.Request) (*http.Response, error)

func (f roundTrip) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// 429, 5xx and timeouts are retried up to Retries times, after backoffs
// doubling from Backoff; other statuses fail at once; the key and content
// type are sent. No real time passes but the timed-out attempts' own
// deadlines: backoffs are recorded, not slept.
func TestDoRetries(t *testing.T) {
	var slept []time.Duration
	defer func(s func(context.Context, time.Duration) error) { sleep = s }(sleep)
	sleep = func(_ context.Context, d time.Duration) error { slept = append(slept, d); return nil }
	var calls int32
	var fail int32 // status of the answers; 0: OK, 1: none before the attempt's deadline
	hc := &http.Client{Transport: roundTrip(func(r *http.Request) (*http.Response, error) {
		calls++
		answer := func(code int, body string) (*http.Response, error) {
			return &http.Response{StatusCode: code, Body: io.NopCloser(strings.NewReader(body)), Header: http.Header{}, Request: r}, nil
		}
		if r.Header.Get("Authorization") != "Bearer k" || r.Header.Get("Content-Type") != "application/json" {
			return answer(400, "headers")
		}
		switch fail {
		case 0:
			return answer(200, "ok")
		case 1:
			<-r.Context().Done() // the attempt's own timeout
			return nil, r.Context().Err()
		default:
			return answer(int(fail), "nope")
		}
	})}
	ms := time.Millisecond
	for _, tc := range []struct {
		status  int32
		retries int
		calls   int32
		backoff []time.Duration
	}{
		{0, 0, 1, nil},
		{500, 0, 6, []time.Duration{ms, 2 * ms, 4 * ms, 8 * ms, 16 * ms}}, // zero Retries: the default, 5
		{503, 2, 3, []time.Duration{ms, 2 * ms}},
		{429, 1, 2, []time.Duration{ms}},
		{500, -1, 1, nil},
		{404, 0, 1, nil},
		{401, 3, 1, nil},
		{1, 2, 3, []time.Duration{ms, 2 * ms}}, // each attempt times out
	} {
		calls, fail, slept = 0, tc.status, nil
		// A healthy answer never meets the deadline; a hung one always does.
		timeout := time.Hour
		if tc.status == 1 {
			timeout = 5 * time.Millisecond
		}
		c := Client{HTTP: hc, APIKey: "k", Backoff: ms, Timeout: timeout, Retries: tc.retries}
		b, err := c.Do(context.Background(), http.MethodPost, "http://endpoint.invalid/v1", []byte("{}"))
		if calls != tc.calls || !slices.Equal(slept, tc.backoff) {
			t.Errorf("status %d, retries %d: %d calls after backoffs %v, want %d after %v", tc.status, tc.retries, calls, slept, tc.calls, tc.backoff)
		}
		var se *StatusError
		switch {
		case tc.status == 0 && (err != nil || string(b) != "ok"):
			t.Errorf("ok: %q %v", b, err)
		case tc.status > 1 && (!errors.As(err, &se) || se.Code != int(tc.status) || se.Body != "nope"):
			t.Errorf("status %d: error %v", tc.status, err)
		case tc.status == 1 && !errors.Is(err, context.DeadlineExceeded):
			t.Errorf("timeouts: error %v, want the deadline's", err)
		}
	}
}
