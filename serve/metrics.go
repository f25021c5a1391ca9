package serve

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// metrics are the counters /metrics exposes in Prometheus' text format
// (written by hand: a handful of counters do not need a client library).
// Names follow Prometheus' conventions; vLLM's equivalents are noted.
type metrics struct {
	mu       sync.Mutex
	requests map[[2]string]uint64 // {endpoint, status} -> count
	prompt   uint64               // prompt tokens of finished requests
	gen      uint64               // tokens generated
	running  int64                // requests being answered
	ttft     histogram            // seconds from request to first token
	// Tokens generated in each of the last rateWindow seconds (a ring
	// indexed by Unix second), for the tokens/s gauge and Retry-After.
	ring   [rateWindow]uint64
	ringAt [rateWindow]int64
}

const rateWindow = 10

func newMetrics() *metrics {
	return &metrics{requests: map[[2]string]uint64{},
		ttft: histogram{bounds: []float64{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}}}
}

func (m *metrics) request(endpoint string, status int) {
	m.mu.Lock()
	m.requests[[2]string{endpoint, strconv.Itoa(status)}]++
	m.mu.Unlock()
}

// generated counts n new tokens now.
func (m *metrics) generated(n int) {
	now := time.Now().Unix()
	m.mu.Lock()
	m.gen += uint64(n)
	i := now % rateWindow
	if m.ringAt[i] != now {
		m.ring[i], m.ringAt[i] = 0, now
	}
	m.ring[i] += uint64(n)
	m.mu.Unlock()
}

// tokensPerSecond is the generation rate over the last full rateWindow seconds.
func (m *metrics) tokensPerSecond() float64 {
	now := time.Now().Unix()
	m.mu.Lock()
	defer m.mu.Unlock()
	var sum uint64
	for i := range m.ring {
		if at := m.ringAt[i]; at < now && at >= now-rateWindow {
			sum += m.ring[i]
		}
	}
	return float64(sum) / rateWindow
}

func (m *metrics) firstToken(d time.Duration) {
	m.mu.Lock()
	m.ttft.observe(d.Seconds())
	m.mu.Unlock()
}

func (m *metrics) start() {
	m.mu.Lock()
	m.running++
	m.mu.Unlock()
}

func (m *metrics) end(promptTokens int) {
	m.mu.Lock()
	m.running--
	m.prompt += uint64(promptTokens)
	m.mu.Unlock()
}

type histogram struct {
	bounds []float64
	counts []uint64 // per bucket, not cumulative; the last is +Inf
	sum    float64
	n      uint64
}

func (h *histogram) observe(v float64) {
	if h.counts == nil {
		h.counts = make([]uint64, len(h.bounds)+1)
	}
	i, _ := slices.BinarySearch(h.bounds, v)
	h.counts[i]++
	h.sum += v
	h.n++
}

func (s *Server) health(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, struct {
		Status string `json:"status"`
	}{"ok"})
}

func (s *Server) serveMetrics(w http.ResponseWriter, r *http.Request) {
	m := s.metrics
	rate := m.tokensPerSecond()
	m.mu.Lock()
	var b strings.Builder
	family := func(name, typ, help string) {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
	}
	family("align_requests_total", "counter", "HTTP requests answered, by endpoint and status code.")
	keys := make([][2]string, 0, len(m.requests))
	for k := range m.requests {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b [2]string) int { return strings.Compare(a[0]+" "+a[1], b[0]+" "+b[1]) })
	for _, k := range keys {
		fmt.Fprintf(&b, "align_requests_total{endpoint=%q,status=%q} %d\n", k[0], k[1], m.requests[k])
	}
	family("align_requests_running", "gauge", "Generation requests being answered (queued or decoding).")
	fmt.Fprintf(&b, "align_requests_running %d\n", m.running)
	family("align_queue_depth", "gauge", "Sequences waiting for a decode row (vLLM: num_requests_waiting).")
	fmt.Fprintf(&b, "align_queue_depth %d\n", s.e.Queued())
	family("align_pending_tokens", "gauge", "Tokens (prompt + max_tokens) reserved by requests in flight.")
	fmt.Fprintf(&b, "align_pending_tokens %d\n", s.tokens.inUse())
	family("align_pending_tokens_limit", "gauge", "Most tokens requests in flight may reserve (--max-pending-tokens).")
	fmt.Fprintf(&b, "align_pending_tokens_limit %d\n", s.tokens.limit)
	family("align_prompt_tokens_total", "counter", "Prompt tokens of answered requests.")
	fmt.Fprintf(&b, "align_prompt_tokens_total %d\n", m.prompt)
	family("align_generation_tokens_total", "counter", "Tokens generated.")
	fmt.Fprintf(&b, "align_generation_tokens_total %d\n", m.gen)
	family("align_generation_tokens_per_second", "gauge", fmt.Sprintf("Tokens generated per second over the last %d s.", rateWindow))
	fmt.Fprintf(&b, "align_generation_tokens_per_second %g\n", rate)
	family("align_time_to_first_token_seconds", "histogram", "Seconds from a request's arrival to its first generated token.")
	var cum uint64
	for i, le := range m.ttft.bounds {
		if m.ttft.counts != nil {
			cum += m.ttft.counts[i]
		}
		fmt.Fprintf(&b, "align_time_to_first_token_seconds_bucket{le=\"%g\"} %d\n", le, cum)
	}
	fmt.Fprintf(&b, "align_time_to_first_token_seconds_bucket{le=\"+Inf\"} %d\n", m.ttft.n)
	fmt.Fprintf(&b, "align_time_to_first_token_seconds_sum %g\n", m.ttft.sum)
	fmt.Fprintf(&b, "align_time_to_first_token_seconds_count %d\n", m.ttft.n)
	m.mu.Unlock()
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	w.Write([]byte(b.String()))
}
