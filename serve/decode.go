package serve

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"sync"
)

// Request bodies are read in two passes. checkJSON walks the JSON beside
// the request's Go type and answers the first mismatch with its JSON path
// (messages[0].content), an unknown or wrongly cased key (encoding/json
// matches keys case-insensitively, OpenAI does not), a number that does not
// fit, or a list longer than can ever be served; only then does
// encoding/json fill the struct, which can no longer fail. Messages name
// JSON kinds, never Go types. The walk allocates nothing per value, so a
// refused body costs little more than its own bytes.

// jsonChecker is a type with a JSON shape of its own (a string or a list,
// say): tok is the value's first token, already read.
type jsonChecker func(w *walker, tok token, path string) *apiError

var checkers = map[reflect.Type]jsonChecker{}

// decodeBody reads a JSON request body into v under the size limit.
func (s *Server) decodeBody(w http.ResponseWriter, r *http.Request, v any) *apiError {
	var buf bytes.Buffer
	if n := r.ContentLength; n > 0 && n <= s.o.MaxBodyBytes {
		buf.Grow(int(n) + 1) // one read to EOF past the body, no regrowth
	}
	_, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, s.o.MaxBodyBytes))
	body := buf.Bytes()
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return &apiError{Message: fmt.Sprintf("request body exceeds %d bytes", mbe.Limit),
				Type: "invalid_request_error", Code: "request_too_large", status: http.StatusRequestEntityTooLarge}
		}
		return &apiError{Message: "reading the request body: " + err.Error(), Type: "invalid_request_error",
			status: http.StatusBadRequest}
	}
	// The body is in. net/http clears the read deadline (ReadTimeout) now,
	// before it watches the connection for the client leaving, so a long
	// generation is not cut by it (TestLongRequestOutlivesReadTimeout).
	// Parsing is CPU work: one per CPU at a time also bounds the memory
	// parses hold at once (bodyAlloc per body byte each).
	select {
	case s.parsing <- struct{}{}:
		defer func() { <-s.parsing }()
	case <-r.Context().Done():
		return &apiError{Message: "the client went away", Type: "invalid_request_error", status: 499}
	}
	ctx := s.e.ContextLen()
	return decodeJSON(body, v, limits{prompts: int(s.maxSequences()), ids: ctx - 1, messages: ctx, context: ctx})
}

// limits stop the walk at lists that can never fit, before they are
// decoded: more prompts than sequences the queue holds, a token-id prompt
// or a message list longer than the context (each message renders to a
// token at least).
type limits struct{ prompts, ids, messages, context int }

// decodeJSON checks body against v's type and decodes it.
func decodeJSON(body []byte, v any, lim limits) *apiError {
	if ae := checkJSON(body, reflect.TypeOf(v).Elem(), lim); ae != nil {
		return ae
	}
	if err := json.Unmarshal(body, v); err != nil {
		// checkJSON accepted it, so this is a case it does not know.
		return badRequest("", "invalid_json", "the request body does not have the shape this endpoint takes")
	}
	return nil
}

func checkJSON(body []byte, t reflect.Type, lim limits) *apiError {
	if !json.Valid(body) {
		// Unmarshal's first pass finds where, allocating nothing more.
		err := json.Unmarshal(body, new(struct{}))
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return badRequest("", "invalid_json", "request body is not valid JSON: %s (at byte %d)", se.Error(), se.Offset)
		}
		return badRequest("", "invalid_json", "request body is not valid JSON")
	}
	w := &walker{sc: scanner{b: body}, lim: lim}
	tok := w.next()
	if tok.kind != '{' {
		return badRequest("", "invalid_json", "the request body must be a JSON object")
	}
	return w.check(tok, t, "")
}

// token is one JSON token: kind is '{', '}', '[', ']', '"' (a string; raw
// is its quoted text), '0' (a number; raw its text), 't' (true or false),
// 'n' (null), or 0 at the end.
type token struct {
	kind byte
	raw  []byte
}

// scanner reads tokens from JSON already known to be valid, so it need not
// check: separators (',' ':') are skipped as white space.
type scanner struct {
	b []byte
	i int
}

func (s *scanner) skip() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r', ',', ':':
			s.i++
		default:
			return
		}
	}
}

func (s *scanner) next() token {
	s.skip()
	if s.i >= len(s.b) {
		return token{}
	}
	c, start := s.b[s.i], s.i
	switch c {
	case '{', '}', '[', ']':
		s.i++
		return token{kind: c}
	case '"':
		for s.i++; s.b[s.i] != '"'; s.i++ {
			if s.b[s.i] == '\\' {
				s.i++
			}
		}
		s.i++
		return token{kind: '"', raw: s.b[start:s.i]}
	case 't':
		s.i += 4
		return token{kind: 't'}
	case 'f':
		s.i += 5
		return token{kind: 't'}
	case 'n':
		s.i += 4
		return token{kind: 'n'}
	}
	for s.i < len(s.b) && strings.IndexByte("+-.0123456789eE", s.b[s.i]) >= 0 {
		s.i++
	}
	return token{kind: '0', raw: s.b[start:s.i]}
}

// more reports whether the array or object being read has another element.
func (s *scanner) more() bool {
	s.skip()
	return s.i < len(s.b) && s.b[s.i] != ']' && s.b[s.i] != '}'
}

// str is a string token's value.
func (t token) str() string {
	if bytes.IndexByte(t.raw, '\\') < 0 {
		return string(t.raw[1 : len(t.raw)-1])
	}
	var s string
	json.Unmarshal(t.raw, &s)
	return s
}

type walker struct {
	sc  scanner
	lim limits
}

func (w *walker) next() token { return w.sc.next() }
func (w *walker) more() bool  { return w.sc.more() }

// kind names a value's JSON kind for messages.
func kind(tok token) string {
	switch tok.kind {
	case 'n':
		return "null"
	case 't':
		return "a boolean"
	case '0':
		return "a number"
	case '"':
		return "a string"
	case '[':
		return "an array"
	}
	return "an object"
}

func mismatch(path, want string, tok token) *apiError {
	return badRequest(path, "invalid_type", "%s: expected %s, got %s", paramName(path), want, kind(tok))
}

func paramName(path string) string {
	if path == "" {
		return "request body"
	}
	return path
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func index(path string, i int) string { return path + "[" + strconv.Itoa(i) + "]" }

// parseInt reads a JSON number as an integer of bits bits: ok false when it
// is not an integer (2.5, 1e3), range false when it does not fit.
func parseInt(raw []byte, bits int) (v int64, ok, inRange bool) {
	neg := len(raw) > 0 && raw[0] == '-'
	d := raw
	if neg {
		d = raw[1:]
	}
	if len(d) == 0 {
		return 0, false, false
	}
	limit := uint64(1)<<(bits-1) - 1
	if neg {
		limit++
	}
	var u uint64
	inRange = true
	for _, c := range d {
		if c < '0' || c > '9' {
			return 0, false, false
		}
		if inRange {
			if u > (limit-uint64(c-'0'))/10 {
				inRange = false
			}
			u = u*10 + uint64(c-'0')
		}
	}
	if !inRange {
		return 0, true, false
	}
	if neg {
		return -int64(u), true, true
	}
	return int64(u), true, true
}

// check checks the value that starts with tok against t. Null is accepted
// anywhere (an absent value, as OpenAI's API takes it).
func (w *walker) check(tok token, t reflect.Type, path string) *apiError {
	if c, ok := checkers[t]; ok {
		return c(w, tok, path)
	}
	if tok.kind == 'n' {
		return nil
	}
	switch t.Kind() {
	case reflect.Pointer:
		return w.check(tok, t.Elem(), path)
	case reflect.Interface:
		w.skipValue(tok)
	case reflect.Bool:
		if tok.kind != 't' {
			return mismatch(path, "a boolean", tok)
		}
	case reflect.String:
		if tok.kind != '"' {
			return mismatch(path, "a string", tok)
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if tok.kind != '0' {
			return mismatch(path, "an integer", tok)
		}
		if _, ok, inRange := parseInt(tok.raw, t.Bits()); !ok {
			return badRequest(path, "invalid_type", "%s: expected an integer, got %s", paramName(path), tok.raw)
		} else if !inRange {
			return badRequest(path, "invalid_value", "%s: %s is out of range", paramName(path), tok.raw)
		}
	case reflect.Float32, reflect.Float64:
		if tok.kind != '0' {
			return mismatch(path, "a number", tok)
		}
		if f, err := strconv.ParseFloat(string(tok.raw), t.Bits()); err != nil || math.IsInf(f, 0) {
			return badRequest(path, "invalid_value", "%s: %s is out of range", paramName(path), tok.raw)
		}
	case reflect.Slice:
		if tok.kind != '[' {
			return mismatch(path, "an array", tok)
		}
		for i := 0; w.more(); i++ {
			if path == "messages" && i == w.lim.messages && w.lim.messages > 0 {
				return badRequest(path, "context_length_exceeded", "messages holds more than %d messages: they cannot fit this model's context of %d tokens",
					w.lim.messages, w.lim.context)
			}
			if ae := w.check(w.next(), t.Elem(), index(path, i)); ae != nil {
				return ae
			}
		}
		w.next()
	case reflect.Map:
		if tok.kind != '{' {
			return mismatch(path, "an object", tok)
		}
		for i := 0; w.more(); i++ {
			if path == "logit_bias" && i == maxLogitBias {
				return badRequest(path, "invalid_value", "logit_bias holds more than %d tokens", maxLogitBias)
			}
			k := w.next()
			if ae := w.check(w.next(), t.Elem(), join(path, k.str())); ae != nil {
				return ae
			}
		}
		w.next()
	case reflect.Struct:
		if tok.kind != '{' {
			return mismatch(path, "an object", tok)
		}
		fields := fieldsOf(t)
		for w.more() {
			k := w.next()
			key := k.str()
			ft, ok := fields[key]
			if !ok {
				return unknownField(path, key, fields)
			}
			if ae := w.check(w.next(), ft, join(path, key)); ae != nil {
				return ae
			}
		}
		w.next()
	default:
		return badRequest(path, "invalid_type", "%s: not accepted", paramName(path))
	}
	return nil
}

// skipValue reads past the value that starts with tok.
func (w *walker) skipValue(tok token) {
	if tok.kind != '[' && tok.kind != '{' {
		return
	}
	for depth := 1; depth > 0; {
		switch w.next().kind {
		case '[', '{':
			depth++
		case ']', '}':
			depth--
		}
	}
}

// unknownField answers a key the object at parent does not have.
func unknownField(parent, key string, fields map[string]reflect.Type) *apiError {
	path := join(parent, key)
	for f := range fields {
		if strings.EqualFold(f, key) {
			return badRequest(path, "unknown_parameter",
				"unrecognized request argument supplied: %s (parameter names are case-sensitive: did you mean %s?)", path, join(parent, f))
		}
	}
	return badRequest(path, "unknown_parameter", "unrecognized request argument supplied: %s", path)
}

var fieldCache sync.Map // reflect.Type -> map[string]reflect.Type

// fieldsOf maps a struct's JSON keys (embedded structs' too) to their types.
func fieldsOf(t reflect.Type) map[string]reflect.Type {
	if m, ok := fieldCache.Load(t); ok {
		return m.(map[string]reflect.Type)
	}
	m := map[string]reflect.Type{}
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
			for k, v := range fieldsOf(f.Type) {
				m[k] = v
			}
			continue
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		m[name] = f.Type
	}
	fieldCache.Store(t, m)
	return m
}
