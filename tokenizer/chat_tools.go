package tokenizer

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"

	"github.com/ardanlabs/jinja"

	"github.com/align-go/align/chat"
)

// Chat templates see messages and tools as transformers passes them to
// apply_chat_template: Python dicts in the order their keys were written,
// a message's "tool_calls" present only when it has some (Llama 3.1's
// template tests `'tool_calls' in message`), and a tool call's arguments
// as a dict, not the JSON string OpenAI sends (vLLM parses them the same
// way before rendering, and templates print them with tojson).
//
// Templates print tools with tojson, so its output is part of the prompt:
// it must be Python's json.dumps to the byte. The template engine's own
// filter sorts keys and escapes HTML when given an indent (Llama 3.1's
// tools block) and prints floats as Go does, so compileTemplate routes
// every "| tojson" to pyToJSON below.

// chatData is the template's variables.
func (t *Tokenizer) chatData(messages []chat.Message, opt ChatOptions) map[string]jinja.Value {
	msgs := make([]jinja.Value, len(messages))
	for i, m := range messages {
		d := jinja.NewDict()
		dd := d.AsDict()
		dd.Set("role", jinja.NewString(m.Role))
		dd.Set("content", jinja.NewString(m.Content))
		if len(m.ToolCalls) > 0 {
			calls := make([]jinja.Value, len(m.ToolCalls))
			for k, c := range m.ToolCalls {
				fn := jinja.NewDict()
				fn.AsDict().Set("name", jinja.NewString(c.Function.Name))
				fn.AsDict().Set("arguments", argumentsValue(c.Function.Arguments))
				call := jinja.NewDict()
				if c.ID != "" {
					call.AsDict().Set("id", jinja.NewString(c.ID))
				}
				call.AsDict().Set("type", jinja.NewString(orFunction(c.Type)))
				call.AsDict().Set("function", fn)
				calls[k] = call
			}
			dd.Set("tool_calls", jinja.NewList(calls))
		}
		if m.ToolCallID != "" {
			dd.Set("tool_call_id", jinja.NewString(m.ToolCallID))
		}
		msgs[i] = d
	}
	tools := jinja.None()
	if opt.Tools != nil {
		list := make([]jinja.Value, len(opt.Tools))
		for i, tl := range opt.Tools {
			fn := jinja.NewDict()
			fn.AsDict().Set("name", jinja.NewString(tl.Function.Name))
			if tl.Function.Description != "" {
				fn.AsDict().Set("description", jinja.NewString(tl.Function.Description))
			}
			if len(tl.Function.Parameters) > 0 {
				v, err := jsonValue(tl.Function.Parameters)
				if err != nil {
					v = jinja.NewString(string(tl.Function.Parameters))
				}
				fn.AsDict().Set("parameters", v)
			}
			d := jinja.NewDict()
			d.AsDict().Set("type", jinja.NewString(orFunction(tl.Type)))
			d.AsDict().Set("function", fn)
			list[i] = d
		}
		tools = jinja.NewList(list)
	}
	data := map[string]jinja.Value{
		"messages":              jinja.NewList(msgs),
		"add_generation_prompt": jinja.NewBool(opt.AddGenerationPrompt),
		"tools":                 tools,
		"documents":             jinja.None(),
		pyToJSONName:            jinja.NewCallable("tojson", pyToJSON),
	}
	for k, v := range map[string]string{"bos_token": t.cfg.BOSToken, "eos_token": t.cfg.EOSToken,
		"pad_token": t.cfg.PADToken, "unk_token": t.cfg.UNKToken} {
		if v != "" {
			data[k] = jinja.NewString(v)
		}
	}
	for k, v := range opt.Vars {
		data[k] = jinja.FromGoValue(v)
	}
	return data
}

func orFunction(typ string) string {
	if typ == "" {
		return "function"
	}
	return typ
}

// argumentsValue is a tool call's arguments as a template sees them: the
// parsed JSON when the string holds JSON, else the string itself.
func argumentsValue(s string) jinja.Value {
	if v, err := jsonValue([]byte(s)); err == nil {
		return v
	}
	return jinja.NewString(s)
}

// jsonValue decodes JSON into template values, keeping object keys in
// their order and integers as integers (Python's json.loads does both).
func jsonValue(b []byte) (jinja.Value, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	v, err := decodeValue(dec)
	if err != nil {
		return jinja.Value{}, err
	}
	if _, err := dec.Token(); err == nil {
		return jinja.Value{}, fmt.Errorf("JSON: data after the value")
	}
	return v, nil
}

func decodeValue(dec *json.Decoder) (jinja.Value, error) {
	tok, err := dec.Token()
	if err != nil {
		return jinja.Value{}, err
	}
	switch x := tok.(type) {
	case json.Delim:
		switch x {
		case '{':
			d := jinja.NewDict()
			for dec.More() {
				k, err := dec.Token()
				if err != nil {
					return jinja.Value{}, err
				}
				v, err := decodeValue(dec)
				if err != nil {
					return jinja.Value{}, err
				}
				d.AsDict().Set(k.(string), v)
			}
			_, err := dec.Token()
			return d, err
		case '[':
			var items []jinja.Value
			for dec.More() {
				v, err := decodeValue(dec)
				if err != nil {
					return jinja.Value{}, err
				}
				items = append(items, v)
			}
			_, err := dec.Token()
			return jinja.NewList(items), err
		}
	case json.Number:
		return jinja.FromGoValue(x), nil
	case string:
		return jinja.NewString(x), nil
	case bool:
		return jinja.NewBool(x), nil
	case nil:
		return jinja.None(), nil
	}
	return jinja.Value{}, fmt.Errorf("JSON: unexpected %v", tok)
}

// pyToJSONName is the variable a template's "| tojson" is routed to.
const pyToJSONName = "align_tojson"

var tojsonFilter = regexp.MustCompile(`\|(\s*)tojson\b`)

// routeToJSON points every "| tojson" of a template at pyToJSON (the
// engine looks filters it does not know up among the variables).
func routeToJSON(src string) string {
	return tojsonFilter.ReplaceAllString(src, "|${1}"+pyToJSONName)
}

// pyToJSON is transformers' tojson filter: json.dumps(x,
// ensure_ascii=False, indent=indent, separators=separators,
// sort_keys=sort_keys).
func pyToJSON(args []jinja.Value, kwargs map[string]jinja.Value) (jinja.Value, error) {
	if len(args) == 0 {
		return jinja.Undefined(), fmt.Errorf("tojson: no value")
	}
	e := pyEncoder{item: ", ", key: ": "}
	if v, ok := kwargs["indent"]; ok && !v.IsNone() && !v.IsUndefined() {
		switch {
		case v.IsInt():
			e.indent = strings.Repeat(" ", int(max(v.AsInt(), 0)))
		case v.IsString():
			e.indent = v.AsString()
		default:
			return jinja.Undefined(), fmt.Errorf("tojson: indent must be an integer or a string")
		}
		e.indented, e.item = true, ","
	}
	if v, ok := kwargs["separators"]; ok && !v.IsNone() && !v.IsUndefined() {
		if !v.IsList() || v.AsList().Len() != 2 || !v.AsList().Get(0).IsString() || !v.AsList().Get(1).IsString() {
			return jinja.Undefined(), fmt.Errorf("tojson: separators must be two strings")
		}
		e.item, e.key = v.AsList().Get(0).AsString(), v.AsList().Get(1).AsString()
	}
	if v, ok := kwargs["sort_keys"]; ok {
		e.sortKeys = v.IsTruthy()
	}
	if v, ok := kwargs["ensure_ascii"]; ok {
		e.ascii = v.IsTruthy()
	}
	var sb strings.Builder
	if err := e.encode(&sb, args[0], 0); err != nil {
		return jinja.Undefined(), err
	}
	return jinja.NewString(sb.String()), nil
}

type pyEncoder struct {
	item, key, indent  string
	indented, sortKeys bool
	ascii              bool
}

func (e *pyEncoder) newline(sb *strings.Builder, level int) {
	if e.indented {
		sb.WriteByte('\n')
		for range level {
			sb.WriteString(e.indent)
		}
	}
}

func (e *pyEncoder) encode(sb *strings.Builder, v jinja.Value, level int) error {
	switch {
	case v.IsNone() || v.IsUndefined():
		sb.WriteString("null")
	case v.IsBool():
		sb.WriteString(map[bool]string{true: "true", false: "false"}[v.AsBool()])
	case v.IsInt():
		sb.WriteString(strconv.FormatInt(v.AsInt(), 10))
	case v.IsFloat():
		sb.WriteString(pyFloat(v.AsFloat()))
	case v.IsString():
		pyString(sb, v.AsString(), e.ascii)
	case v.IsList():
		items := v.AsList().Items
		if len(items) == 0 {
			sb.WriteString("[]")
			return nil
		}
		sb.WriteByte('[')
		for i, it := range items {
			if i > 0 {
				sb.WriteString(e.item)
			}
			e.newline(sb, level+1)
			if err := e.encode(sb, it, level+1); err != nil {
				return err
			}
		}
		e.newline(sb, level)
		sb.WriteByte(']')
	case v.IsDict():
		d := v.AsDict()
		keys := d.OrderedKeys()
		if len(keys) == 0 {
			sb.WriteString("{}")
			return nil
		}
		if e.sortKeys {
			sortStrings(keys)
		}
		sb.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				sb.WriteString(e.item)
			}
			e.newline(sb, level+1)
			pyString(sb, k, e.ascii)
			sb.WriteString(e.key)
			val, _ := d.Get(k)
			if err := e.encode(sb, val, level+1); err != nil {
				return err
			}
		}
		e.newline(sb, level)
		sb.WriteByte('}')
	default:
		return fmt.Errorf("tojson: cannot encode %s", v.String())
	}
	return nil
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

// pyString writes s as Python's json.dumps does: only quote, backslash
// and control characters escaped (\uXXXX for those without a short
// form), and with ensure_ascii everything past ASCII as \uXXXX (UTF-16
// surrogate pairs past the BMP).
func pyString(sb *strings.Builder, s string, ascii bool) {
	const hex = "0123456789abcdef"
	sb.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			sb.WriteString(`\"`)
		case '\\':
			sb.WriteString(`\\`)
		case '\n':
			sb.WriteString(`\n`)
		case '\r':
			sb.WriteString(`\r`)
		case '\t':
			sb.WriteString(`\t`)
		case '\b':
			sb.WriteString(`\b`)
		case '\f':
			sb.WriteString(`\f`)
		default:
			u := func(c rune) {
				sb.WriteString(`\u`)
				sb.WriteByte(hex[c>>12&15])
				sb.WriteByte(hex[c>>8&15])
				sb.WriteByte(hex[c>>4&15])
				sb.WriteByte(hex[c&15])
			}
			switch {
			case r < 0x20:
				u(r)
			case ascii && r > 0xFFFF:
				r -= 0x10000
				u(0xD800 + r>>10)
				u(0xDC00 + r&0x3FF)
			case ascii && r > 0x7E:
				u(r)
			default:
				sb.WriteRune(r)
			}
		}
	}
	sb.WriteByte('"')
}

// pyFloat is Python's repr of a float: the shortest digits that read back,
// positional between 1e-4 and 1e16 (always with a fraction), else with an
// exponent of at least two digits.
func pyFloat(f float64) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	}
	s := strconv.FormatFloat(f, 'e', -1, 64) // -d.ddde±XX
	mant, expS, _ := strings.Cut(s, "e")
	exp, _ := strconv.Atoi(expS)
	neg := strings.HasPrefix(mant, "-")
	mant = strings.TrimPrefix(mant, "-")
	digits := strings.Replace(mant, ".", "", 1)
	sign := ""
	if neg {
		sign = "-"
	}
	if exp >= -4 && exp < 16 {
		if exp >= 0 {
			for len(digits) < exp+1 {
				digits += "0"
			}
			in, frac := digits[:exp+1], digits[exp+1:]
			if frac == "" {
				frac = "0"
			}
			return sign + in + "." + frac
		}
		return sign + "0." + strings.Repeat("0", -exp-1) + digits
	}
	m := digits[:1]
	if len(digits) > 1 {
		m += "." + digits[1:]
	}
	es := "+"
	if exp < 0 {
		es, exp = "-", -exp
	}
	return fmt.Sprintf("%s%se%s%02d", sign, m, es, exp)
}
