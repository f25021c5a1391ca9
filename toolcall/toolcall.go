// Package toolcall reads the tool calls in a model's output and writes the
// text that opens one. It knows the formats chat templates teach: Hermes
// style, which Qwen2.5 and Qwen3 use (<tool_call>{"name": ..., "arguments":
// {...}}</tool_call>, any number, with text around them), and Llama 3.1's
// JSON form ({"name": ..., "parameters": {...}}, several separated by ";",
// optionally after <|python_tag|>, and nothing else in the output).
//
// Parse splits a finished output; Stream does the same text by text, with
// the same result. Opening and CallSchema describe a call to force one. Output that does not parse as a call is kept as content,
// every byte of it: a model's malformed call is shown, never dropped.
package toolcall

import (
	"bytes"
	"encoding/json"
	"strings"
)

// Format is a tool-call syntax.
type Format int

const (
	// Hermes is <tool_call>\n{"name": ..., "arguments": ...}\n</tool_call>.
	Hermes Format = iota + 1
	// Llama3JSON is {"name": ..., "parameters": ...}.
	Llama3JSON
)

func (f Format) String() string {
	switch f {
	case Hermes:
		return "hermes"
	case Llama3JSON:
		return "llama3_json"
	}
	return "none"
}

const (
	hermesOpen  = "<tool_call>"
	hermesClose = "</tool_call>"
	pythonTag   = "<|python_tag|>"
)

// Detect tells the tool-call format a chat template teaches its model, by
// the markers its tool section prints; ok is false when the template
// renders no tools or teaches a format this package does not read.
func Detect(template string) (f Format, ok bool) {
	switch {
	case !strings.Contains(template, "tools"):
		return 0, false
	case strings.Contains(template, hermesOpen):
		return Hermes, true
	case strings.Contains(template, `"parameters"`) && (strings.Contains(template, "ipython") || strings.Contains(template, pythonTag)):
		return Llama3JSON, true
	}
	return 0, false
}

// Call is one parsed call: the function's name and its arguments as JSON
// text, as the model wrote them.
type Call struct {
	Name      string
	Arguments string
}

// Parser reads one format. Names, when set, are the functions that exist:
// a call naming another is not a call (it stays content).
type Parser struct {
	Format Format
	Names  map[string]bool
}

const space = " \t\r\n"

// Parse splits a whole output into content and calls. With no calls the
// content is text unchanged; with calls, Hermes content is the text around
// them with the white space next to each call trimmed, and Llama 3 content
// is empty.
func (p *Parser) Parse(text string) (content string, calls []Call) {
	if p.Format == Llama3JSON {
		return p.parseLlama(text)
	}
	var out strings.Builder
	afterCall := false
	add := func(seg string, beforeCall bool) {
		if afterCall {
			seg = strings.TrimLeft(seg, space)
		}
		if beforeCall {
			seg = strings.TrimRight(seg, space)
		}
		out.WriteString(seg)
	}
	i := 0
	for {
		j := strings.Index(text[i:], hermesOpen)
		if j < 0 {
			add(text[i:], false)
			break
		}
		start := i + j + len(hermesOpen)
		body, end := text[start:], len(text)
		if k := strings.Index(text[start:], hermesClose); k >= 0 {
			body, end = text[start:start+k], start+k+len(hermesClose)
		}
		if c, _, ok := p.call(body); ok {
			add(text[i:i+j], true)
			calls = append(calls, c)
			afterCall = true
		} else {
			add(text[i:end], false)
			afterCall = false
		}
		i = end
	}
	if len(calls) == 0 {
		return text, nil
	}
	return out.String(), calls
}

func (p *Parser) parseLlama(text string) (string, []Call) {
	t := strings.TrimLeft(text, space)
	t = strings.TrimLeft(strings.TrimPrefix(t, pythonTag), space)
	if !strings.HasPrefix(t, "{") {
		return text, nil
	}
	var calls []Call
	for t != "" {
		n := objectEnd(t)
		if n < 0 {
			return text, nil
		}
		c, _, ok := p.call(t[:n])
		if !ok {
			return text, nil
		}
		calls = append(calls, c)
		t = strings.TrimLeft(t[n:], space)
		if t == "" {
			break
		}
		if t[0] != ';' {
			return text, nil
		}
		t = strings.TrimLeft(t[1:], space)
	}
	return "", calls
}

// objectEnd is the length of the JSON object that starts s, or -1.
func objectEnd(s string) int {
	dec := json.NewDecoder(strings.NewReader(s))
	var raw json.RawMessage
	if err := dec.Decode(&raw); err != nil || len(raw) == 0 || raw[0] != '{' {
		return -1
	}
	return int(dec.InputOffset())
}

// call reads one call object: {"name": string, "arguments": object or
// string} ("parameters" is taken for "arguments"; absent arguments are {}).
// argsAt is where the arguments' JSON starts in body, -1 when they were a
// JSON string (decoded, so not a substring of body).
func (p *Parser) call(body string) (c Call, argsAt int, ok bool) {
	b := []byte(strings.TrimSpace(body))
	if len(b) == 0 || b[0] != '{' || !json.Valid(b) {
		return Call{}, 0, false
	}
	lead := strings.Index(body, string(b[:1]))
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.Token() // {
	argsAt = -1
	haveArgs, haveName := false, false
	for dec.More() {
		kt, _ := dec.Token()
		key, _ := kt.(string)
		keyEnd := int(dec.InputOffset())
		var raw json.RawMessage
		if dec.Decode(&raw) != nil {
			return Call{}, 0, false
		}
		switch {
		case key == "name":
			if json.Unmarshal(raw, &c.Name) != nil || c.Name == "" {
				return Call{}, 0, false
			}
			haveName = true
		case (key == "arguments" || key == "parameters") && !haveArgs:
			haveArgs = true
			switch raw[0] {
			case '{':
				at := bytes.Index(b[keyEnd:], raw)
				c.Arguments, argsAt = string(raw), lead+keyEnd+at
			case '"':
				json.Unmarshal(raw, &c.Arguments)
			default:
				return Call{}, 0, false
			}
		}
	}
	if !haveName || (p.Names != nil && !p.Names[c.Name]) {
		return Call{}, 0, false
	}
	if !haveArgs {
		c.Arguments = "{}"
	}
	return c, argsAt, true
}
