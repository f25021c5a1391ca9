// Package serve is an OpenAI-compatible HTTP API over a local engine:
// /v1/chat/completions (chat template applied), /v1/completions and
// /v1/models, plain JSON or SSE streaming, with logprobs, usage counts,
// logit_bias and penalties, OpenAI-shaped errors, /health and Prometheus
// /metrics. Requests from all clients share the engine's continuous batch.
//
// It is meant to face untrusted clients: every request is costed before
// anything is allocated for it (admit.go), bodies are checked strictly
// against the API (decode.go), the API key is checked before a body is read,
// only JSON bodies are taken, the Host header must name this server (DNS
// rebinding) and browsers' cross-origin requests are refused unless
// Options.CORSOrigins names them; Serve adds timeouts and a connection limit.
package serve

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/align-go/align/engine"
)

// Options configures a Server. The zero value of each field is its default.
type Options struct {
	// ModelName is the id clients name in "model" and /v1/models lists.
	ModelName string
	// APIKey, when set, must come as "Authorization: Bearer KEY" on every /v1
	// request (the scheme in any case). It is checked before the body is read.
	APIKey string
	// MaxBodyBytes caps a request body (default 4 MiB); larger ones get 413.
	MaxBodyBytes int64
	// MaxN caps "n" (default 16).
	MaxN int
	// MaxPendingTokens caps the tokens (prompt + max_tokens per sequence)
	// of all requests in flight, queued or running (default: (queue + batch)
	// × context length). A request beyond what is free gets 429, beyond the
	// whole of it 400.
	MaxPendingTokens int64
	// AllowedHosts are host names the Host header may carry besides IP
	// literals and localhost ("*": any). Other names are refused, so a page
	// whose DNS name is rebound to this address cannot read replies.
	AllowedHosts []string
	// AllowAdapterLoading adds vLLM's POST /v1/load_lora_adapter and
	// /v1/unload_lora_adapter. Off by default: they make the server read
	// directories a client names.
	AllowAdapterLoading bool
	// CORSOrigins are the browser origins allowed to call the API
	// ("https://app.example", or "*"). Empty: CORS is off, and requests a
	// browser marks as cross-origin are refused.
	CORSOrigins []string

	// Timeouts Serve sets (defaults 10 s, 60 s, 120 s, 60 s): for the request
	// headers, for the whole request with its body, for an idle keep-alive
	// connection, and for each write of a reply (each chunk of a stream).
	ReadHeaderTimeout, ReadTimeout, IdleTimeout, WriteTimeout time.Duration
	// MaxConns caps the connections Serve holds open (default 64); further
	// ones wait in the listen backlog.
	MaxConns int
	// ShutdownTimeout is how long Serve lets running requests finish once
	// its context ends (default 30 s).
	ShutdownTimeout time.Duration
}

func (o *Options) defaults(e *engine.Engine) {
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = 4 << 20
	}
	if o.MaxN <= 0 {
		o.MaxN = 16
	}
	if o.ModelName == "" {
		o.ModelName = "align"
	}
	if o.MaxPendingTokens <= 0 {
		q := max(e.QueueSize(), 0)
		o.MaxPendingTokens = int64(q+e.MaxBatch()) * int64(e.ContextLen())
	}
	for _, d := range []struct {
		v   *time.Duration
		def time.Duration
	}{{&o.ReadHeaderTimeout, 10 * time.Second}, {&o.ReadTimeout, 60 * time.Second},
		{&o.IdleTimeout, 120 * time.Second}, {&o.WriteTimeout, 60 * time.Second}, {&o.ShutdownTimeout, 30 * time.Second}} {
		if *d.v <= 0 {
			*d.v = d.def
		}
	}
	if o.MaxConns <= 0 {
		o.MaxConns = 64
	}
}

// Server answers the OpenAI-compatible API from one engine.
type Server struct {
	e            *engine.Engine
	o            Options
	created      int64
	fingerprint  string
	routes       map[string]*route
	tokens       budget
	metrics      *metrics
	parsing      chan struct{} // a slot per body being checked and decoded
	adapterPaths sync.Map      // adapter name -> the directory it was loaded from
	grammars     grammars      // response_format's compiled grammars (structured.go)
}

// route is one path's handlers by method.
type route struct {
	name    string // the path pattern, as /metrics labels it
	methods map[string]http.HandlerFunc
	auth    bool // needs the API key
	json    bool // takes a JSON body
}

// New builds a server; Handler serves it, Serve listens for it.
func New(e *engine.Engine, o Options) *Server {
	o.defaults(e)
	s := &Server{e: e, o: o, created: time.Now().Unix(), metrics: newMetrics(),
		parsing: make(chan struct{}, runtime.GOMAXPROCS(0))}
	s.tokens.limit = o.MaxPendingTokens
	// The fingerprint names the serving configuration that can change
	// outputs for one seed: the model and the batch size.
	s.fingerprint = fmt.Sprintf("fp_align_%08x", fnv32(fmt.Sprintf("%s/%d/%d/%d", o.ModelName, e.Model.Cfg.Vocab,
		e.ContextLen(), e.MaxBatch())))
	s.routes = map[string]*route{
		"/v1/chat/completions": {methods: map[string]http.HandlerFunc{"POST": s.chat}, auth: true, json: true},
		"/v1/completions":      {methods: map[string]http.HandlerFunc{"POST": s.completions}, auth: true, json: true},
		"/v1/models":           {methods: map[string]http.HandlerFunc{"GET": s.models}, auth: true},
		"/v1/models/{id}":      {methods: map[string]http.HandlerFunc{"GET": s.model}, auth: true},
		"/health":              {methods: map[string]http.HandlerFunc{"GET": s.health}},
		"/metrics":             {methods: map[string]http.HandlerFunc{"GET": s.serveMetrics}},
	}
	if o.AllowAdapterLoading {
		s.routes["/v1/load_lora_adapter"] = &route{methods: map[string]http.HandlerFunc{"POST": s.loadAdapter}, auth: true, json: true}
		s.routes["/v1/unload_lora_adapter"] = &route{methods: map[string]http.HandlerFunc{"POST": s.unloadAdapter}, auth: true, json: true}
	}
	for name, rt := range s.routes {
		rt.name = name
		if get, ok := rt.methods["GET"]; ok {
			rt.methods["HEAD"] = get
		}
	}
	return s
}

// Handler is the server's HTTP handler.
func (s *Server) Handler() http.Handler { return s }

func fnv32(s string) uint32 {
	h := uint32(2166136261)
	for i := 0; i < len(s); i++ {
		h = (h ^ uint32(s[i])) * 16777619
	}
	return h
}

// lookup finds the route of path and the {id} it holds.
func (s *Server) lookup(path string) (*route, string) {
	if rt, ok := s.routes[path]; ok {
		return rt, ""
	}
	if id, ok := strings.CutPrefix(path, "/v1/models/"); ok && id != "" && !strings.Contains(id, "/") {
		return s.routes["/v1/models/{id}"], id
	}
	return nil, ""
}

// ServeHTTP checks, in order, what costs nothing to check: the Host, the
// origin, the route and method, the API key and the content type; only then
// does a handler read the body.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	sw := &statusWriter{ResponseWriter: w}
	rt, id := s.lookup(r.URL.Path)
	label := "other"
	if rt != nil {
		label = rt.name
	}
	defer func() { s.metrics.request(label, sw.status()) }()
	w = sw
	// Replies to refused requests must not wait on a client that does not
	// read; handlers that generate move the deadline on as they write.
	setWriteDeadline(w, s.o.WriteTimeout)

	if !s.hostAllowed(r.Host) {
		writeError(w, http.StatusBadRequest, &apiError{Message: fmt.Sprintf(
			"Host %q is not a name this server answers to (allow it with --allowed-hosts)", r.Host),
			Type: "invalid_request_error", Code: "invalid_host"})
		return
	}
	if origin := r.Header.Get("Origin"); origin != "" {
		if !s.corsAllowed(origin) {
			if !sameOrigin(origin, r.Host) {
				writeError(w, http.StatusForbidden, &apiError{Message: fmt.Sprintf(
					"cross-origin requests from %q are not allowed (allow them with --cors-origin)", origin),
					Type: "invalid_request_error", Code: "origin_not_allowed"})
				return
			}
		} else {
			h := w.Header()
			h.Set("Access-Control-Allow-Origin", origin)
			h.Add("Vary", "Origin")
			if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
				s.preflight(w, r, rt)
				return
			}
		}
	}
	if rt == nil {
		writeError(w, http.StatusNotFound, &apiError{Message: fmt.Sprintf("no route %s %s", r.Method, r.URL.Path),
			Type: "invalid_request_error", Code: "not_found"})
		return
	}
	h, ok := rt.methods[r.Method]
	if !ok {
		w.Header().Set("Allow", strings.Join(rt.allowed(), ", "))
		writeError(w, http.StatusMethodNotAllowed, &apiError{Message: fmt.Sprintf("%s takes %s, not %s",
			r.URL.Path, strings.Join(rt.allowed(), " or "), r.Method), Type: "invalid_request_error", Code: "method_not_allowed"})
		return
	}
	if rt.auth && !s.authorized(r) {
		// Close rather than read (drain) a body nobody will use.
		w.Header().Set("Connection", "close")
		w.Header().Set("WWW-Authenticate", `Bearer realm="align"`)
		writeError(w, http.StatusUnauthorized, &apiError{Message: "missing or incorrect API key (Authorization: Bearer KEY)",
			Type: "invalid_request_error", Code: "invalid_api_key"})
		return
	}
	if rt.json {
		if mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" ||
			(params["charset"] != "" && !strings.EqualFold(params["charset"], "utf-8")) {
			w.Header().Set("Connection", "close")
			writeError(w, http.StatusUnsupportedMediaType, &apiError{Message: fmt.Sprintf(
				"Content-Type %q: this endpoint takes application/json", r.Header.Get("Content-Type")),
				Type: "invalid_request_error", Code: "unsupported_media_type"})
			return
		}
	}
	if id != "" {
		r.SetPathValue("id", id)
	}
	h(w, r)
}

// allowed lists a route's methods for Allow.
func (rt *route) allowed() []string {
	var ms []string
	for m := range rt.methods {
		ms = append(ms, m)
	}
	slices.Sort(ms)
	return ms
}

// preflight answers a CORS preflight from an allowed origin.
func (s *Server) preflight(w http.ResponseWriter, r *http.Request, rt *route) {
	if rt == nil {
		writeError(w, http.StatusNotFound, &apiError{Message: "no route " + r.URL.Path, Type: "invalid_request_error", Code: "not_found"})
		return
	}
	h := w.Header()
	h.Set("Access-Control-Allow-Methods", strings.Join(rt.allowed(), ", "))
	h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type")
	h.Set("Access-Control-Max-Age", "600")
	h.Add("Vary", "Access-Control-Request-Method")
	h.Add("Vary", "Access-Control-Request-Headers")
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) corsAllowed(origin string) bool {
	for _, o := range s.o.CORSOrigins {
		if o == "*" || strings.EqualFold(o, origin) {
			return true
		}
	}
	return false
}

// sameOrigin reports an Origin (scheme://host[:port]) naming host itself.
func sameOrigin(origin, host string) bool {
	_, rest, ok := strings.Cut(origin, "://")
	return ok && host != "" && strings.EqualFold(rest, host)
}

// hostAllowed reports whether a Host header names this server: an IP
// literal, localhost, or a name in AllowedHosts (a leading dot allows
// subdomains). A rebound DNS name is none of these.
func (s *Server) hostAllowed(hostport string) bool {
	if hostport == "" {
		return true // HTTP/1.0 without Host: not a browser
	}
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.ToLower(strings.TrimSuffix(strings.Trim(host, "[]"), "."))
	if net.ParseIP(host) != nil || host == "localhost" {
		return true
	}
	for _, a := range s.o.AllowedHosts {
		a = strings.ToLower(a)
		if a == "*" || a == host || strings.HasPrefix(a, ".") && (strings.HasSuffix(host, a) || host == a[1:]) {
			return true
		}
	}
	return false
}

// authorized checks "Authorization: Bearer KEY" (scheme in any case).
func (s *Server) authorized(r *http.Request) bool {
	if s.o.APIKey == "" {
		return true
	}
	scheme, key, ok := strings.Cut(strings.TrimSpace(r.Header.Get("Authorization")), " ")
	return ok && strings.EqualFold(scheme, "Bearer") &&
		subtle.ConstantTimeCompare([]byte(strings.TrimSpace(key)), []byte(s.o.APIKey)) == 1
}

// apiError is OpenAI's error object.
type apiError struct {
	Message    string  `json:"message"`
	Type       string  `json:"type"`
	Param      *string `json:"param"`
	Code       any     `json:"code"`
	status     int
	retryAfter string // seconds, for a 429
}

func (e *apiError) Error() string { return e.Message }

// badRequest is a 400 invalid_request_error about param ("" for none).
func badRequest(param, code, format string, args ...any) *apiError {
	e := &apiError{Message: fmt.Sprintf(format, args...), Type: "invalid_request_error", status: http.StatusBadRequest}
	if param != "" {
		e.Param = &param
	}
	if code != "" {
		e.Code = code
	}
	return e
}

func writeError(w http.ResponseWriter, status int, e *apiError) {
	w.Header().Set("Content-Type", "application/json")
	if e.retryAfter != "" {
		w.Header().Set("Retry-After", e.retryAfter)
	}
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(struct {
		Error *apiError `json:"error"`
	}{e})
}

func writeAPIError(w http.ResponseWriter, err error) {
	var ae *apiError
	if errors.As(err, &ae) {
		st := ae.status
		if st == 0 {
			st = http.StatusBadRequest
		}
		writeError(w, st, ae)
		return
	}
	writeError(w, http.StatusInternalServerError, &apiError{Message: err.Error(), Type: "server_error"})
}

// engineError maps an engine submit error to an API error.
func (s *Server) engineError(err error, param string) *apiError {
	if errors.Is(err, engine.ErrNoAdapter) { // unloaded since the request was checked
		p := "model"
		return &apiError{Message: err.Error(), Type: "invalid_request_error", Param: &p, Code: "model_not_found", status: http.StatusNotFound}
	}
	if errors.Is(err, engine.ErrQueueFull) {
		return s.busy("the server's request queue is full; retry later")
	}
	return engineError(err, param)
}

// engineError maps the engine's errors that need no server state.
func engineError(err error, param string) *apiError {
	var tl *engine.TooLongError
	switch {
	case errors.As(err, &tl):
		return badRequest(param, "context_length_exceeded", "%s", err.Error())
	case errors.Is(err, engine.ErrClosed):
		return &apiError{Message: "the server is shutting down", Type: "server_error", status: http.StatusServiceUnavailable}
	}
	return &apiError{Message: err.Error(), Type: "server_error", status: http.StatusInternalServerError}
}

// modelObject is OpenAI's model, with vLLM's root and parent (an adapter's
// directory and base model).
type modelObject struct {
	ID      string  `json:"id"`
	Object  string  `json:"object"`
	Created int64   `json:"created"`
	OwnedBy string  `json:"owned_by"`
	Root    string  `json:"root,omitempty"`
	Parent  *string `json:"parent"`
}

// modelObjects are the served model and its loaded adapters.
func (s *Server) modelObjects() []modelObject {
	out := []modelObject{{ID: s.o.ModelName, Object: "model", Created: s.created, OwnedBy: "align"}}
	for _, a := range s.e.Adapters() {
		root, _ := s.adapterPaths.Load(a)
		dir, _ := root.(string)
		out = append(out, modelObject{ID: a, Object: "model", Created: s.created, OwnedBy: "align", Root: dir, Parent: &s.o.ModelName})
	}
	return out
}

func (s *Server) models(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, struct {
		Object string        `json:"object"`
		Data   []modelObject `json:"data"`
	}{"list", s.modelObjects()})
}

func (s *Server) model(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	for _, m := range s.modelObjects() {
		if m.ID == id {
			writeJSON(w, m)
			return
		}
	}
	writeError(w, http.StatusNotFound, s.unknownModel(id))
}

func (s *Server) unknownModel(id string) *apiError {
	p := "model"
	return &apiError{Message: fmt.Sprintf("the model %q does not exist; this server serves %q and its adapters (GET /v1/models)", id, s.o.ModelName),
		Type: "invalid_request_error", Param: &p, Code: "model_not_found", status: http.StatusNotFound}
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
}

func newID(prefix string) string {
	var b [12]byte
	rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}
