// Package serve is an OpenAI-compatible HTTP API over a local engine:
// /v1/chat/completions (chat template applied), /v1/completions and
// /v1/models, plain JSON or SSE streaming, with logprobs, usage counts,
// OpenAI-style errors, an API key and request size limits. Requests from all
// clients share the engine's continuous batch; a full queue answers 429.
package serve

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/align-go/align/engine"
)

// Options configures a Server.
type Options struct {
	// ModelName is the id clients name in "model" and /v1/models lists.
	ModelName string
	// APIKey, when set, must come as "Authorization: Bearer KEY".
	APIKey string
	// MaxBodyBytes caps a request body (default 4 MiB); larger ones get 413.
	MaxBodyBytes int64
	// MaxN caps "n" (default 16).
	MaxN int
}

// Server answers the OpenAI-compatible API from one engine.
type Server struct {
	e       *engine.Engine
	o       Options
	created int64
	mux     *http.ServeMux
}

// New builds a server; Handler serves it.
func New(e *engine.Engine, o Options) *Server {
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = 4 << 20
	}
	if o.MaxN <= 0 {
		o.MaxN = 16
	}
	if o.ModelName == "" {
		o.ModelName = "align"
	}
	s := &Server{e: e, o: o, created: time.Now().Unix(), mux: http.NewServeMux()}
	s.mux.HandleFunc("POST /v1/chat/completions", s.auth(s.chat))
	s.mux.HandleFunc("POST /v1/completions", s.auth(s.completions))
	s.mux.HandleFunc("GET /v1/models", s.auth(s.models))
	s.mux.HandleFunc("GET /v1/models/{id}", s.auth(s.model))
	s.mux.HandleFunc("GET /health", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) })
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, &apiError{Message: fmt.Sprintf("no route %s %s", r.Method, r.URL.Path),
			Type: "invalid_request_error", Code: "not_found"})
	})
	return s
}

// Handler is the server's HTTP handler.
func (s *Server) Handler() http.Handler { return s.mux }

// apiError is OpenAI's error object.
type apiError struct {
	Message string  `json:"message"`
	Type    string  `json:"type"`
	Param   *string `json:"param"`
	Code    any     `json:"code"`
	status  int
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
func engineError(err error, param string) *apiError {
	var tl *engine.TooLongError
	switch {
	case errors.As(err, &tl):
		return badRequest(param, "context_length_exceeded", "%s", err.Error())
	case errors.Is(err, engine.ErrQueueFull):
		return &apiError{Message: "the server's request queue is full; retry later", Type: "rate_limit_error",
			Code: "rate_limit_exceeded", status: http.StatusTooManyRequests}
	case errors.Is(err, engine.ErrClosed):
		return &apiError{Message: "the server is shutting down", Type: "server_error", status: http.StatusServiceUnavailable}
	}
	return &apiError{Message: err.Error(), Type: "server_error", status: http.StatusInternalServerError}
}

func (s *Server) auth(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.o.APIKey != "" {
			key, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
			if !ok || subtle.ConstantTimeCompare([]byte(strings.TrimSpace(key)), []byte(s.o.APIKey)) != 1 {
				writeError(w, http.StatusUnauthorized, &apiError{Message: "missing or incorrect API key (Authorization: Bearer KEY)",
					Type: "invalid_request_error", Code: "invalid_api_key"})
				return
			}
		}
		h(w, r)
	}
}

type modelObject struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Created int64  `json:"created"`
	OwnedBy string `json:"owned_by"`
}

func (s *Server) modelObject() modelObject {
	return modelObject{ID: s.o.ModelName, Object: "model", Created: s.created, OwnedBy: "align"}
}

func (s *Server) models(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, struct {
		Object string        `json:"object"`
		Data   []modelObject `json:"data"`
	}{"list", []modelObject{s.modelObject()}})
}

func (s *Server) model(w http.ResponseWriter, r *http.Request) {
	if id := r.PathValue("id"); id != s.o.ModelName {
		writeError(w, http.StatusNotFound, s.unknownModel(id))
		return
	}
	writeJSON(w, s.modelObject())
}

func (s *Server) unknownModel(id string) *apiError {
	p := "model"
	return &apiError{Message: fmt.Sprintf("the model %q does not exist; this server serves %q", id, s.o.ModelName),
		Type: "invalid_request_error", Param: &p, Code: "model_not_found", status: http.StatusNotFound}
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
}

// decodeBody reads a JSON request body into v under the size limit.
func (s *Server) decodeBody(w http.ResponseWriter, r *http.Request, v any) *apiError {
	r.Body = http.MaxBytesReader(w, r.Body, s.o.MaxBodyBytes)
	dec := json.NewDecoder(r.Body)
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return &apiError{Message: fmt.Sprintf("request body exceeds %d bytes", mbe.Limit),
				Type: "invalid_request_error", Code: "request_too_large", status: http.StatusRequestEntityTooLarge}
		}
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return badRequest(te.Field, "invalid_type", "field %q: expected %s, got JSON %s", te.Field, te.Type, te.Value)
		}
		return badRequest("", "invalid_json", "request body is not valid JSON: %v", err)
	}
	if dec.More() {
		return badRequest("", "invalid_json", "request body holds more than one JSON value")
	}
	return nil
}

func newID(prefix string) string {
	var b [12]byte
	rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}
