package serve

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/align-go/align/engine"
	"github.com/openai/openai-go/v3/option"
)

// call sends one request to h in-process, from a loopback client unless
// headers say otherwise ("Key: value" pairs).
func call(h http.Handler, method, path, body string, headers ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	r.Host = "127.0.0.1:8080"
	if body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	for _, kv := range headers {
		k, v, _ := strings.Cut(kv, ": ")
		if k == "Host" {
			r.Host = v
		} else if v == "" {
			r.Header.Del(k)
		} else {
			r.Header.Set(k, v)
		}
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

type errorBody struct {
	Error struct {
		Message string  `json:"message"`
		Type    string  `json:"type"`
		Param   *string `json:"param"`
		Code    any     `json:"code"`
	} `json:"error"`
}

// wantError checks an OpenAI-shaped error: status, param ("" for null) and
// code ("" for any).
func wantError(t *testing.T, w *httptest.ResponseRecorder, status int, param, code string) errorBody {
	t.Helper()
	var eb errorBody
	if err := json.Unmarshal(w.Body.Bytes(), &eb); err != nil || eb.Error.Message == "" || eb.Error.Type == "" {
		t.Fatalf("status %d, body %q: not an OpenAI error (%v)", w.Code, w.Body, err)
	}
	got := ""
	if eb.Error.Param != nil {
		got = *eb.Error.Param
	}
	if w.Code != status || got != param || code != "" && eb.Error.Code != code {
		t.Fatalf("got %d param %q code %v (%s), want %d param %q code %q", w.Code, got, eb.Error.Code, eb.Error.Message, status, param, code)
	}
	return eb
}

// The requests of issue 18, points 1, 2 and 5: each is refused with the
// right status before anything of its size is allocated.
func TestAdmission(t *testing.T) {
	e := sharedEngine(t) // queue 64, 4 rows, context 512
	h := New(e, Options{ModelName: modelName}).Handler()

	// Point 1: 4,000 one-token prompts × n 16 × max_tokens 200 in a 20 KB
	// body. It used to allocate 402 MB (a 202-event buffer per sequence)
	// before answering 429; 64,000 sequences can never fit a queue of 64,
	// and the walk over the body stops at the 65th prompt.
	body := `{"model":"tiny","prompt":[` + strings.Repeat(`[5],`, 3999) + `[5]],"n":16,"max_tokens":200}`
	w := wantAlloc(t, h, "/v1/completions", body, refusedAlloc)
	wantError(t, w, 400, "prompt", "request_too_large")
	// The same prompts as text, and a single prompt past the context.
	w = wantAlloc(t, h, "/v1/completions", `{"model":"tiny","prompt":[`+strings.Repeat(`"a",`, 3999)+`"a"],"n":16}`, refusedAlloc)
	wantError(t, w, 400, "prompt", "request_too_large")
	w = wantAlloc(t, h, "/v1/completions", `{"model":"tiny","prompt":[`+strings.Repeat(`5,`, 20000)+`5]}`, refusedAlloc)
	wantError(t, w, 400, "prompt", "context_length_exceeded")
	w = wantAlloc(t, h, "/v1/chat/completions", `{"model":"tiny","messages":[`+strings.Repeat(`{"role":"user","content":"a"},`, 2000)+`{"role":"user","content":"a"}]}`, refusedAlloc)
	wantError(t, w, 400, "messages", "context_length_exceeded")
	w = wantAlloc(t, h, "/v1/chat/completions", `{"model":"tiny","messages":[{"role":"user","content":"a"}],"logit_bias":{`+strings.Repeat(`"5":1,`, 20000)+`"5":1}}`, refusedAlloc)
	wantError(t, w, 400, "logit_bias", "invalid_value")
	// Within the limits, a body's parse costs at most bodyAlloc per byte.
	w = wantAlloc(t, h, "/v1/completions", `{"model":"tiny","prompt":[`+strings.Repeat(`[`+strings.Repeat(`5,`, 500)+`5],`, 63)+`[5]],"n":1,"max_tokens":9999}`, bodyAlloc)
	wantError(t, w, 400, "max_tokens", "context_length_exceeded")
	w = wantAlloc(t, h, "/v1/chat/completions", `{"model":"tiny","messages":[{"role":"user","content":[`+strings.Repeat(`{"type":"text","text":""},`, 20000)+`{"type":"image_url"}]}]}`, bodyAlloc)
	wantError(t, w, 400, "messages[0].content[20000].type", "unsupported_value")

	// Point 2: max_tokens past any context, and past int64.
	for _, c := range []struct{ path, body, param, code string }{
		{"/v1/completions", `{"model":"tiny","prompt":"hi","max_tokens":9223372036854775807}`, "max_tokens", "context_length_exceeded"},
		{"/v1/chat/completions", `{"model":"tiny","messages":[{"role":"user","content":"hi"}],"max_tokens":9223372036854775807}`, "max_tokens", "context_length_exceeded"},
		{"/v1/chat/completions", `{"model":"tiny","messages":[{"role":"user","content":"hi"}],"max_completion_tokens":9223372036854775807}`, "max_completion_tokens", "context_length_exceeded"},
		{"/v1/completions", `{"model":"tiny","prompt":"hi","max_tokens":9223372036854775808}`, "max_tokens", "invalid_value"},
		{"/v1/completions", `{"model":"tiny","prompt":"hi","max_tokens":1e300}`, "max_tokens", "invalid_type"},
		{"/v1/completions", `{"model":"tiny","prompt":"hi","n":9223372036854775807}`, "n", "invalid_value"},
		// 500 tokens fit the context alone, not after this prompt.
		{"/v1/completions", `{"model":"tiny","prompt":"` + strings.Repeat("whale ", 40) + `","max_tokens":500}`, "prompt", "context_length_exceeded"},
	} {
		wantError(t, call(h, "POST", c.path, c.body), 400, c.param, c.code)
	}

	// Point 5: 5 prompts × n 16 = 80 sequences can never fit a queue of 64:
	// 400 on an idle server, not "retry later".
	w = call(h, "POST", "/v1/completions", `{"model":"tiny","prompt":["a","b","c","d","e"],"n":16}`)
	wantError(t, w, 400, "n", "request_too_large")
	// 4 × 16 = 64 fits the queue: answered.
	w = call(h, "POST", "/v1/completions", `{"model":"tiny","prompt":["a","b","c","d"],"n":16,"max_tokens":1}`)
	if w.Code != 200 {
		t.Fatalf("64 sequences: %d %s", w.Code, w.Body)
	}
}

// bodyAlloc is the most bytes checking and decoding may allocate per body
// byte, the figure the README's serve section and align serve --help build
// on; a body refused by the walk costs refusedAlloc per byte (the body
// itself, read once). Both beside a fixed 64 KiB for the request and reply.
const (
	bodyAlloc    = 32
	refusedAlloc = 2
)

// wantAlloc sends body and checks it allocated at most perByte bytes per
// body byte, plus 64 KiB.
func wantAlloc(t *testing.T, h http.Handler, path, body string, perByte uint64) *httptest.ResponseRecorder {
	t.Helper()
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	w := call(h, "POST", path, body)
	runtime.ReadMemStats(&after)
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("%d-byte body to %s: %d allocated (%.1f per byte): %d", len(body), path, alloc, float64(alloc)/float64(len(body)), w.Code)
	if alloc > perByte*uint64(len(body))+64<<10 {
		t.Errorf("a %d-byte body allocated %d bytes (> %d per body byte)", len(body), alloc, perByte)
	}
	return w
}

func TestSaturating(t *testing.T) {
	const M = int64(^uint64(0) >> 1)
	for _, c := range []struct{ got, want int64 }{
		{satAdd(M-1, 1), M}, {satAdd(M, M), M}, {satAdd(3, 4), 7},
		{satMul(M/2+1, 2), M}, {satMul(1<<32, 1<<32), M}, {satMul(0, M), 0}, {satMul(6, 7), 42},
	} {
		if c.got != c.want {
			t.Errorf("got %d, want %d", c.got, c.want)
		}
	}
}

// A request that fits the budget once others finish gets 429 with
// Retry-After; one larger than the whole budget gets 400; the budget comes
// back when a client goes away.
func TestTokenBudget(t *testing.T) {
	e := sharedEngine(t)
	s := New(e, Options{ModelName: modelName, MaxPendingTokens: 400})
	ts := httptest.NewServer(s.Handler())
	defer ts.Close()
	// Hold 300 tokens (prompt + 290) with a stream read until it runs.
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "POST", ts.URL+"/v1/completions", strings.NewReader(
		`{"model":"tiny","prompt":"The whale","max_tokens":290,"ignore_eos":true,"stream":true}`))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bufio.NewReader(resp.Body).ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	if used := s.tokens.inUse(); used < 290 {
		t.Fatalf("%d tokens reserved by the stream", used)
	}
	w := call(s.Handler(), "POST", "/v1/completions", `{"model":"tiny","prompt":"The whale","max_tokens":150}`)
	wantError(t, w, 429, "", "rate_limit_exceeded")
	if ra, err := strconv.Atoi(w.Header().Get("Retry-After")); err != nil || ra < 1 || ra > 60 {
		t.Errorf("Retry-After %q", w.Header().Get("Retry-After"))
	}
	w = call(s.Handler(), "POST", "/v1/completions", `{"model":"tiny","prompt":"The whale","max_tokens":100,"n":4}`)
	wantError(t, w, 400, "n", "request_too_large")
	// The client leaves: its tokens come back.
	cancel()
	resp.Body.Close()
	for deadline := time.Now().Add(10 * time.Second); s.tokens.inUse() != 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d tokens still reserved after the client left", s.tokens.inUse())
		}
	}
	if w := call(s.Handler(), "POST", "/v1/completions", `{"model":"tiny","prompt":"The whale","max_tokens":2}`); w.Code != 200 {
		t.Fatalf("after release: %d %s", w.Code, w.Body)
	}
}

// A queued request whose client has gone frees its queue place at once.
func TestGoneClientLeavesQueue(t *testing.T) {
	e, err := loadEngine(t, modelDir(t), engine.Options{MaxBatch: 1, QueueSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	ts, client := startServer(t, e, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stream := client.Chat.Completions.NewStreaming(ctx, chatParams("hi", 480), option.WithJSONSet("ignore_eos", true))
	if !stream.Next() {
		t.Fatalf("stream: %v", stream.Err())
	}
	defer stream.Close()
	gone, leave := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		client.Chat.Completions.New(gone, chatParams("hi", 2))
		close(done)
	}()
	for deadline := time.Now().Add(10 * time.Second); e.Queued() == 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("second request never queued")
		}
	}
	leave()
	<-done
	for deadline := time.Now().Add(10 * time.Second); e.Queued() != 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the gone client's request still holds the queue")
		}
	}
	// The place is free while the stream still runs (480 tokens).
	queued := make(chan error, 1)
	go func() {
		_, err := client.Chat.Completions.New(ctx, chatParams("hi", 2))
		queued <- err
	}()
	for deadline := time.Now().Add(10 * time.Second); e.Queued() == 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("third request never queued")
		}
	}
	stream.Close()
	if err := <-queued; err != nil {
		t.Fatal(err)
	}
	_ = ts
}

// serveOn runs s.Serve on a loopback listener for the test.
func serveOn(t *testing.T, s *Server) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	return ln.Addr().String()
}

// closedWithin reports whether the server closes c within d (reading and
// discarding whatever it answers first).
func closedWithin(c net.Conn, d time.Duration) bool {
	c.SetReadDeadline(time.Now().Add(d))
	_, err := io.Copy(io.Discard, c)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		return false
	}
	return true
}

// Point 3: slow clients are cut off; the key is checked before the body.
func TestTimeoutsAndKeyFirst(t *testing.T) {
	e := sharedEngine(t)
	addr := serveOn(t, New(e, Options{ModelName: modelName, APIKey: "sekrit",
		ReadHeaderTimeout: 300 * time.Millisecond, ReadTimeout: 600 * time.Millisecond, IdleTimeout: 600 * time.Millisecond}))
	dial := func(s string) net.Conn {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		if _, err := io.WriteString(c, s); err != nil {
			t.Fatal(err)
		}
		return c
	}
	head := "POST /v1/completions HTTP/1.1\r\nHost: " + addr + "\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n"
	slowHeaders := dial("POST /v1/completions HTTP/1.1\r\nHost: ")
	slowBody := dial(head + "Authorization: Bearer sekrit\r\n\r\n{\"model\":")
	idle := dial("")
	if !closedWithin(slowHeaders, 10*time.Second) || !closedWithin(slowBody, 10*time.Second) || !closedWithin(idle, 10*time.Second) {
		t.Fatal("a slow or idle connection was held past its timeout")
	}
	// A wrong key is answered without the 100,000-byte body, and the
	// connection is closed rather than drained (draining would wait for the
	// body until ReadTimeout, here 60 s).
	addr = serveOn(t, New(e, Options{ModelName: modelName, APIKey: "sekrit", ReadTimeout: time.Minute}))
	c := dial(head + "Authorization: Bearer wrong\r\n\r\n")
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 401 || !resp.Close {
		t.Fatalf("wrong key before the body: %d, close %v", resp.StatusCode, resp.Close)
	}
}

// A generation that outlasts ReadTimeout is not cut: the read deadline
// covers the request, not the reply.
func TestLongRequestOutlivesReadTimeout(t *testing.T) {
	e, err := loadEngine(t, modelDir(t), engine.Options{MaxBatch: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	addr := serveOn(t, New(e, Options{ModelName: modelName, ReadTimeout: 200 * time.Millisecond}))
	post := func(ctx context.Context, body string) (*http.Response, error) {
		req, _ := http.NewRequestWithContext(ctx, "POST", "http://"+addr+"/v1/chat/completions", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		return http.DefaultClient.Do(req)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// The one row is held by a stream for a second.
	hold, err := post(ctx, `{"model":"tiny","messages":[{"role":"user","content":"hi"}],"max_tokens":480,"ignore_eos":true,"stream":true}`)
	if err != nil {
		t.Fatal(err)
	}
	defer hold.Body.Close()
	queued := make(chan *http.Response, 1)
	go func() {
		resp, err := post(ctx, `{"model":"tiny","messages":[{"role":"user","content":"hi"}],"max_tokens":2}`)
		if err != nil {
			t.Error(err)
		}
		queued <- resp
	}()
	time.Sleep(time.Second)
	n, _ := io.Copy(io.Discard, io.LimitReader(hold.Body, 1<<20))
	if n == 0 {
		t.Fatal("the held stream sent nothing")
	}
	hold.Body.Close()
	resp := <-queued
	if resp == nil {
		t.FailNow()
	}
	defer resp.Body.Close()
	if b, _ := io.ReadAll(resp.Body); resp.StatusCode != 200 || !strings.Contains(string(b), `"chat.completion"`) {
		t.Fatalf("queued past ReadTimeout: %d %s", resp.StatusCode, b)
	}
}

// At most MaxConns connections are served at once; the next waits.
func TestConnectionLimit(t *testing.T) {
	e := sharedEngine(t)
	addr := serveOn(t, New(e, Options{ModelName: modelName, MaxConns: 2}))
	var held []net.Conn
	for range 2 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		held = append(held, c)
	}
	third, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer third.Close()
	io.WriteString(third, "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
	br := bufio.NewReader(third)
	third.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if _, err := br.ReadByte(); err == nil {
		t.Fatal("a third connection was served while two were open")
	}
	held[0].Close()
	third.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("after one closed: %v %v", resp, err)
	}
}

// Point 4: only JSON bodies, only this server's Host names, no cross-origin
// browser requests unless allowed, 405 with Allow, Bearer in any case.
func TestBrowserProtection(t *testing.T) {
	e := sharedEngine(t)
	h := New(e, Options{ModelName: modelName, APIKey: "sekrit", AllowedHosts: []string{"align.internal"}}).Handler()
	const chat = `{"model":"tiny","messages":[{"role":"user","content":"hi"}],"max_tokens":1}`
	key := "Authorization: Bearer sekrit"
	for _, ct := range []string{"text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "",
		"application/json; charset=latin1"} {
		wantError(t, call(h, "POST", "/v1/chat/completions", chat, key, "Content-Type: "+ct), 415, "", "unsupported_media_type")
	}
	if w := call(h, "POST", "/v1/chat/completions", chat, key, "Content-Type: Application/JSON; charset=UTF-8"); w.Code != 200 {
		t.Fatalf("application/json with charset: %d %s", w.Code, w.Body)
	}
	// DNS rebinding: a page at attacker.example whose name now resolves to
	// 127.0.0.1 sends Host: attacker.example.
	wantError(t, call(h, "POST", "/v1/chat/completions", chat, key, "Host: attacker.example:8080"), 400, "", "invalid_host")
	wantError(t, call(h, "GET", "/health", "", "Host: attacker.example"), 400, "", "invalid_host")
	for _, host := range []string{"localhost:8080", "align.internal:8080", "[::1]:8080", "10.1.2.3"} {
		if w := call(h, "GET", "/v1/models", "", key, "Host: "+host); w.Code != 200 {
			t.Errorf("Host %s: %d %s", host, w.Code, w.Body)
		}
	}
	// A cross-origin request (CORS off) is refused, with no CORS headers.
	w := call(h, "POST", "/v1/chat/completions", chat, key, "Origin: https://attacker.example")
	wantError(t, w, 403, "", "origin_not_allowed")
	if w.Header().Get("Access-Control-Allow-Origin") != "" {
		t.Error("CORS header on a refused request")
	}
	// Wrong methods: 405 naming the allowed ones.
	w = call(h, "GET", "/v1/chat/completions", "", key)
	wantError(t, w, 405, "", "method_not_allowed")
	if w.Header().Get("Allow") != "POST" {
		t.Errorf("Allow %q", w.Header().Get("Allow"))
	}
	w = call(h, "DELETE", "/v1/models", "", key)
	if w.Code != 405 || w.Header().Get("Allow") != "GET, HEAD" {
		t.Errorf("DELETE /v1/models: %d Allow %q", w.Code, w.Header().Get("Allow"))
	}
	wantError(t, call(h, "GET", "/v2/nothing", ""), 404, "", "not_found")
	// The scheme is case-insensitive; the key is not.
	for auth, want := range map[string]int{"bearer sekrit": 200, "BEARER sekrit": 200, "Bearer  sekrit ": 200,
		"Bearer SEKRIT": 401, "Basic sekrit": 401, "sekrit": 401, "": 401} {
		if w := call(h, "GET", "/v1/models", "", "Authorization: "+auth); w.Code != want {
			t.Errorf("Authorization %q: %d, want %d", auth, w.Code, want)
		}
	}

	// With --cors-origin: preflight and replies carry the CORS headers for
	// that origin only.
	h = New(e, Options{ModelName: modelName, CORSOrigins: []string{"https://app.example"}}).Handler()
	w = call(h, "OPTIONS", "/v1/chat/completions", "", "Origin: https://app.example",
		"Access-Control-Request-Method: POST", "Access-Control-Request-Headers: authorization, content-type")
	hd := w.Header()
	if w.Code != 204 || hd.Get("Access-Control-Allow-Origin") != "https://app.example" ||
		!strings.Contains(hd.Get("Access-Control-Allow-Methods"), "POST") ||
		!strings.Contains(hd.Get("Access-Control-Allow-Headers"), "Authorization") ||
		!strings.Contains(hd.Get("Access-Control-Allow-Headers"), "Content-Type") || hd.Get("Access-Control-Max-Age") == "" {
		t.Fatalf("preflight: %d %v", w.Code, hd)
	}
	w = call(h, "POST", "/v1/chat/completions", chat, "Origin: https://app.example")
	if w.Code != 200 || w.Header().Get("Access-Control-Allow-Origin") != "https://app.example" {
		t.Fatalf("allowed origin: %d %v", w.Code, w.Header())
	}
	wantError(t, call(h, "OPTIONS", "/v1/chat/completions", "", "Origin: https://attacker.example",
		"Access-Control-Request-Method: POST"), 403, "", "origin_not_allowed")
}
