package tokenizer

import (
	"encoding/json"
	"fmt"
	"strconv"
	"unicode/utf8"
)

// The vocabulary and merges are most of a tokenizer.json (151k entries each
// for Qwen3), and encoding/json decodes them by reflection, one map entry or
// one RawMessage at a time: a model load spent most of its time there. The
// scanners below read the common shapes directly. Anything they do not
// expect (a number that is not a plain integer, a malformed merge, invalid
// JSON) makes them give up, and the caller decodes with encoding/json as
// before, so errors and edge cases are exactly encoding/json's. Strings
// with escapes or invalid UTF-8 are handed to encoding/json one at a time.

// jsonVocab is model.vocab: token → id (the map the BPE model keeps).
type jsonVocab map[string]int32

func (v *jsonVocab) UnmarshalJSON(data []byte) error {
	if m, ok := scanVocab(data); ok {
		*v = m
		return nil
	}
	var m map[string]int
	if err := json.Unmarshal(data, &m); err != nil {
		return err
	}
	if m == nil {
		return nil
	}
	m32, err := vocab32(m)
	if err != nil {
		return err
	}
	*v = m32
	return nil
}

// vocab32 narrows a vocabulary's ids, refusing any newBPEModel would refuse.
func vocab32(m map[string]int) (map[string]int32, error) {
	out := make(map[string]int32, len(m))
	for tok, id := range m {
		if id < 0 || id > 1<<30 {
			return nil, fmt.Errorf("model.vocab: token %q has bad id %d", tok, id)
		}
		out[tok] = int32(id)
	}
	return out, nil
}

// jsonScanner walks one JSON value held in b.
type jsonScanner struct {
	b []byte
	p int
}

func (s *jsonScanner) ws() {
	for s.p < len(s.b) {
		switch s.b[s.p] {
		case ' ', '\t', '\n', '\r':
			s.p++
		default:
			return
		}
	}
}

// peek skips white space and returns the next byte (0 at the end).
func (s *jsonScanner) peek() byte {
	s.ws()
	if s.p < len(s.b) {
		return s.b[s.p]
	}
	return 0
}

// str reads a string; ok is false if there is none or it is malformed.
func (s *jsonScanner) str() (string, bool) {
	if s.peek() != '"' {
		return "", false
	}
	start := s.p
	s.p++
	plain := true
	for s.p < len(s.b) {
		c := s.b[s.p]
		switch {
		case c == '"':
			s.p++
			raw := s.b[start+1 : s.p-1]
			if plain && utf8.Valid(raw) {
				return string(raw), true
			}
			var out string
			if err := json.Unmarshal(s.b[start:s.p], &out); err != nil {
				return "", false
			}
			return out, true
		case c == '\\':
			plain = false
			s.p += 2
		case c < 0x20:
			return "", false
		default:
			s.p++
		}
	}
	return "", false
}

// integer reads a plain decimal integer that fits an int.
func (s *jsonScanner) integer() (int, bool) {
	s.ws()
	start := s.p
	if s.p < len(s.b) && s.b[s.p] == '-' {
		s.p++
	}
	d := s.p
	for s.p < len(s.b) && s.b[s.p] >= '0' && s.b[s.p] <= '9' {
		s.p++
	}
	n := s.p - d
	if n == 0 || n > 18 || (n > 1 && s.b[d] == '0') {
		return 0, false
	}
	if s.p < len(s.b) {
		switch s.b[s.p] {
		case '.', 'e', 'E':
			return 0, false
		}
	}
	v, err := strconv.Atoi(string(s.b[start:s.p]))
	return v, err == nil
}

// end reports whether only white space is left.
func (s *jsonScanner) end() bool {
	s.ws()
	return s.p == len(s.b)
}

// scanVocab reads an object of string → integer (ids in [0, 2³⁰]).
func scanVocab(b []byte) (map[string]int32, bool) {
	s := &jsonScanner{b: b}
	if s.peek() != '{' {
		return nil, false
	}
	s.p++
	m := make(map[string]int32, len(b)/16)
	if s.peek() == '}' {
		s.p++
		return m, s.end()
	}
	for {
		k, ok := s.str()
		if !ok || s.peek() != ':' {
			return nil, false
		}
		s.p++
		v, ok := s.integer()
		if !ok || v < 0 || v > 1<<30 {
			return nil, false
		}
		m[k] = int32(v)
		switch s.peek() {
		case ',':
			s.p++
		case '}':
			s.p++
			return m, s.end()
		default:
			return nil, false
		}
	}
}

// scanMerges reads an array of "a b" strings or ["a", "b"] pairs.
func scanMerges(b []byte) ([][2]string, bool) {
	s := &jsonScanner{b: b}
	if s.peek() != '[' {
		return nil, false
	}
	s.p++
	out := make([][2]string, 0, len(b)/12)
	if s.peek() == ']' {
		s.p++
		return out, s.end()
	}
	for {
		switch s.peek() {
		case '"':
			str, ok := s.str()
			if !ok {
				return nil, false
			}
			a, c, ok := splitMerge(str)
			if !ok {
				return nil, false
			}
			out = append(out, [2]string{a, c})
		case '[':
			s.p++
			a, ok := s.str()
			if !ok || s.peek() != ',' {
				return nil, false
			}
			s.p++
			c, ok := s.str()
			if !ok || s.peek() != ']' {
				return nil, false
			}
			s.p++
			out = append(out, [2]string{a, c})
		default:
			return nil, false
		}
		switch s.peek() {
		case ',':
			s.p++
		case ']':
			s.p++
			return out, s.end()
		default:
			return nil, false
		}
	}
}
