package report

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
)

// Point is one logged value: the step it was logged at and the value
// (NaN where the row held null, NaN or Infinity).
type Point struct {
	Step, Value float64
}

// Series is one metric of one run, ordered by step.
type Series []Point

// Metrics is a parsed metrics.jsonl.
type Metrics struct {
	Keys   []string          // metric keys in the order they first appear
	Series map[string]Series // by key; "step" and "epoch" are not metrics
	Rows   int               // rows read
	// Warnings are problems that did not stop the parse (a cut-off last line).
	Warnings []string
}

// ParseMetrics reads a metrics.jsonl: one JSON object per line with a
// numeric "step" and any number of numeric metrics. Errors name the file
// and line as name:LINE. Non-numeric values (strings, lists) are ignored,
// so rows from other trainers with extra fields still load.
func ParseMetrics(r io.Reader, name string) (*Metrics, error) {
	m := &Metrics{Series: map[string]Series{}}
	br := bufio.NewReader(r)
	for line := 1; ; line++ {
		b, err := br.ReadBytes('\n')
		if err != nil && err != io.EOF {
			return nil, fmt.Errorf("%s:%d: %w", name, line, err)
		}
		atEOF := err == io.EOF
		if t := bytes.TrimSpace(b); len(t) > 0 {
			if perr := m.addRow(t); perr != nil {
				// A run that is still writing (or was killed mid-write) can
				// leave an unterminated last line; the rows before it are
				// still worth a report.
				if atEOF && m.Rows > 0 {
					m.Warnings = append(m.Warnings, fmt.Sprintf("%s:%d: skipped the unterminated last line: %v", name, line, perr))
					break
				}
				return nil, fmt.Errorf("%s:%d: %w", name, line, perr)
			}
		}
		if atEOF {
			break
		}
	}
	for k, s := range m.Series {
		m.Series[k] = sortSeries(s)
	}
	return m, nil
}

// addRow parses one JSON object and appends its metrics. The object is
// read token by token so the keys keep their order in the file.
func (m *Metrics) addRow(line []byte) error {
	line = nonFiniteToNull(line)
	dec := json.NewDecoder(bytes.NewReader(line))
	tok, err := dec.Token()
	if err != nil {
		return jsonErr(err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return errors.New("not a JSON object")
	}
	type kv struct {
		k string
		v float64
	}
	var vals []kv
	step, hasStep := 0.0, false
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return jsonErr(err)
		}
		key := tok.(string) // object keys are always strings
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return jsonErr(err)
		}
		v, ok := number(raw)
		switch {
		case key == "step":
			if !ok || math.IsNaN(v) || math.IsInf(v, 0) {
				return fmt.Errorf(`"step" is %s, want a number`, raw)
			}
			step, hasStep = v, true
		case key == "epoch" || !ok:
		default:
			vals = append(vals, kv{key, v})
		}
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return jsonErr(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("more than one JSON value on the line")
	}
	if !hasStep {
		return errors.New(`no "step" in the row`)
	}
	for _, e := range vals {
		if _, seen := m.Series[e.k]; !seen {
			m.Keys = append(m.Keys, e.k)
		}
		m.Series[e.k] = append(m.Series[e.k], Point{step, e.v})
	}
	m.Rows++
	return nil
}

// number reads a JSON number or null (NaN); ok is false for other values.
func number(raw json.RawMessage) (float64, bool) {
	if string(raw) == "null" {
		return math.NaN(), true
	}
	if len(raw) == 0 || (raw[0] != '-' && (raw[0] < '0' || raw[0] > '9')) {
		return 0, false
	}
	v, err := strconv.ParseFloat(string(raw), 64)
	// Out-of-range numbers parse to ±Inf with ErrRange: keep that.
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return 0, false
	}
	return v, true
}

// jsonErr drops encoding/json's package prefix; the caller adds file:line.
func jsonErr(err error) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return errors.New("unexpected end of JSON")
	}
	return err
}

// nonFiniteToNull turns the bare NaN, Infinity and -Infinity tokens that
// Python's json module writes (and JSON forbids) into null, leaving string
// contents alone.
func nonFiniteToNull(b []byte) []byte {
	if !bytes.Contains(b, []byte("NaN")) && !bytes.Contains(b, []byte("Infinity")) {
		return b
	}
	out := make([]byte, 0, len(b))
	inStr, esc := false, false
	for i := 0; i < len(b); i++ {
		c := b[i]
		if inStr {
			switch {
			case esc:
				esc = false
			case c == '\\':
				esc = true
			case c == '"':
				inStr = false
			}
			out = append(out, c)
			continue
		}
		if c == '"' {
			inStr = true
		}
		matched := false
		for _, tok := range []string{"NaN", "Infinity", "-Infinity"} {
			if bytes.HasPrefix(b[i:], []byte(tok)) {
				out = append(out, "null"...)
				i += len(tok) - 1
				matched = true
				break
			}
		}
		if !matched {
			out = append(out, c)
		}
	}
	return out
}

// sortSeries orders points by step. Where a step repeats, the row written
// last wins: it comes from the run that carried on (a resume).
func sortSeries(s Series) Series {
	sort.SliceStable(s, func(i, j int) bool { return s[i].Step < s[j].Step })
	out := s[:0]
	for i, p := range s {
		if i+1 < len(s) && s[i+1].Step == p.Step {
			continue
		}
		out = append(out, p)
	}
	return out
}

// finite reports whether v can be drawn.
func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
