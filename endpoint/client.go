package endpoint

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"time"
)

// The defaults of a zero Client: the same for a chat endpoint, an LLM judge
// and an HTTP reward.
const (
	DefaultConcurrency = 4
	DefaultRetries     = 5
	DefaultBackoff     = 500 * time.Millisecond
	DefaultTimeout     = 120 * time.Second
)

// maxBody bounds what one answer may hold.
const maxBody = 64 << 20

// Client sends requests to an endpoint, retrying 429, 5xx and transport
// errors (timeouts included) with exponential backoff; any other status fails
// at once. The zero value works, with the Default settings.
type Client struct {
	HTTP   *http.Client // nil: http.DefaultClient
	APIKey string       // sent as "Authorization: Bearer KEY" when set
	// Concurrency is how many requests a caller that sends many (llm.Remote)
	// keeps in flight (0: DefaultConcurrency).
	Concurrency int
	Retries     int           // 0: DefaultRetries; negative: none
	Backoff     time.Duration // first retry delay, doubled each time (0: DefaultBackoff)
	Timeout     time.Duration // per attempt (0: DefaultTimeout)
}

// FromEnv is a Client configured from ALIGN_HTTP_CONCURRENCY (requests at a
// time), ALIGN_HTTP_RETRIES (0: none) and ALIGN_HTTP_TIMEOUT (per attempt, a
// Go duration such as 90s), each when set. It does not read an API key: a
// key is for the endpoints that want one (see APIKeyFromEnv), not for every
// URL a user names. A malformed setting is an error naming the variable.
func FromEnv() (Client, error) {
	var c Client
	n, set, err := envInt("ALIGN_HTTP_CONCURRENCY", 1)
	if err != nil {
		return Client{}, err
	}
	if set {
		c.Concurrency = n
	}
	if n, set, err = envInt("ALIGN_HTTP_RETRIES", 0); err != nil {
		return Client{}, err
	}
	if set {
		c.Retries = n
		if n == 0 {
			c.Retries = -1 // none asked for; 0 means the default
		}
	}
	if v := os.Getenv("ALIGN_HTTP_TIMEOUT"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return Client{}, fmt.Errorf("ALIGN_HTTP_TIMEOUT=%q: want a positive duration such as 90s", v)
		}
		c.Timeout = d
	}
	return c, nil
}

// APIKeyFromEnv is ALIGN_API_KEY, else OPENAI_API_KEY.
func APIKeyFromEnv() string {
	if key := os.Getenv("ALIGN_API_KEY"); key != "" {
		return key
	}
	return os.Getenv("OPENAI_API_KEY")
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

// WithDefaults is c with each unset (zero) setting replaced by its Default;
// a negative Retries (none) stays as it is.
func (c Client) WithDefaults() Client {
	if c.Concurrency <= 0 {
		c.Concurrency = DefaultConcurrency
	}
	if c.Retries == 0 {
		c.Retries = DefaultRetries
	}
	if c.Backoff <= 0 {
		c.Backoff = DefaultBackoff
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	return c
}

// Workers is how many requests to keep in flight.
func (c *Client) Workers() int { return c.WithDefaults().Concurrency }

// StatusError is an answer other than 200 OK.
type StatusError struct {
	Code int
	Body string // the start of the answer
}

func (e *StatusError) Error() string { return fmt.Sprintf("HTTP %d: %s", e.Code, e.Body) }

// Do sends one request (body as JSON when not nil) and returns the answer's
// body when the status is 200, retrying as the Client says.
func (c *Client) Do(ctx context.Context, method, url string, body []byte) ([]byte, error) {
	d := c.WithDefaults()
	retries := max(d.Retries, 0)
	for attempt := 0; ; attempt++ {
		b, retry, err := d.once(ctx, method, url, body)
		if err == nil || !retry || attempt >= retries || ctx.Err() != nil {
			return b, err
		}
		if err := sleep(ctx, d.Backoff<<attempt); err != nil {
			return nil, err
		}
	}
}

// sleep waits d or until ctx ends. A variable so that tests can record the
// backoff schedule instead of waiting it out.
var sleep = func(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// once sends one attempt (c has its defaults); retry says whether its
// failure may pass.
func (c *Client) once(ctx context.Context, method, url string, body []byte) (b []byte, retry bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return nil, false, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.APIKey != "" {
		req.Header.Set("Authorization", "Bearer "+c.APIKey)
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, true, err
	}
	defer resp.Body.Close()
	if b, err = io.ReadAll(io.LimitReader(resp.Body, maxBody)); err != nil {
		return nil, true, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500,
			&StatusError{Code: resp.StatusCode, Body: truncate(string(bytes.TrimSpace(b)), 200)}
	}
	return b, false, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
