package data

import (
	"fmt"
	"strings"

	"github.com/align-go/align/chat"
)

// Rows arrive from every file type as map[string]any holding JSON-like values
// (string, float64, int64, bool, nil, []any, map[string]any), so one set of
// parsers and one set of error messages serves JSONL and Parquet alike.

func has(m map[string]any, key string) bool {
	_, ok := m[key]
	return ok
}

// str returns the required string m[key]; field names it in errors.
func str(m map[string]any, key, field string) (string, *fieldError) {
	v, ok := m[key]
	if !ok {
		return "", missing(field)
	}
	s, ok := v.(string)
	if !ok {
		return "", wantType(field, "string", v)
	}
	return s, nil
}

// optStr returns m[key] when it is a string, "" when it is absent or null.
func optStr(m map[string]any, key, field string) (string, *fieldError) {
	v, ok := m[key]
	if !ok || v == nil {
		return "", nil
	}
	s, ok := v.(string)
	if !ok {
		return "", wantType(field, "string", v)
	}
	return s, nil
}

// nonEmpty requires s to have non-space content: an empty target would train
// on nothing (or only on an end-of-turn token), which is always a data bug.
func nonEmpty(s, field string) *fieldError {
	if strings.TrimSpace(s) == "" {
		return errf(field, "empty")
	}
	return nil
}

func number(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case float32:
		return float64(x), true
	case int64:
		return float64(x), true
	case int32:
		return float64(x), true
	case int:
		return float64(x), true
	}
	return 0, false
}

func index(field string, i int) string { return fmt.Sprintf("%s[%d]", field, i) }

// parseMessages parses an OpenAI-style list of {"role","content"} objects.
// Content may also be a list of {"type":"text","text":...} parts (the
// multimodal layout); text parts are concatenated, anything else is rejected
// because this package has nowhere to put an image.
func parseMessages(v any, field string) ([]chat.Message, *fieldError) {
	list, ok := v.([]any)
	if !ok {
		return nil, wantType(field, "list of messages", v)
	}
	msgs := make([]chat.Message, len(list))
	for i, e := range list {
		f := index(field, i)
		m, ok := e.(map[string]any)
		if !ok {
			return nil, wantType(f, "object", e)
		}
		role, err := str(m, "role", f+".role")
		if err != nil {
			return nil, err
		}
		if role != chat.RoleSystem && role != chat.RoleUser && role != chat.RoleAssistant {
			return nil, errf(f+".role", "unknown role %q (want system, user or assistant)", role)
		}
		cv, ok := m["content"]
		if !ok {
			return nil, missing(f + ".content")
		}
		content, err := contentText(cv, f+".content")
		if err != nil {
			return nil, err
		}
		msgs[i] = chat.Message{Role: role, Content: content}
	}
	return msgs, nil
}

func contentText(v any, field string) (string, *fieldError) {
	switch x := v.(type) {
	case string:
		return x, nil
	case []any:
		var b strings.Builder
		for i, p := range x {
			f := index(field, i)
			pm, ok := p.(map[string]any)
			if !ok {
				return "", wantType(f, "object", p)
			}
			typ, err := str(pm, "type", f+".type")
			if err != nil {
				return "", err
			}
			if typ != "text" {
				return "", errf(f+".type", "unsupported content part %q (only text)", typ)
			}
			t, err := str(pm, "text", f+".text")
			if err != nil {
				return "", err
			}
			b.WriteString(t)
		}
		return b.String(), nil
	}
	return "", wantType(field, "string", v)
}

// shareGPTRoles maps ShareGPT speaker names onto roles. "chatgpt" and "bing"
// occur in the original ShareGPT dumps; anything else (function calls,
// observations) has no place in a plain chat and is rejected.
var shareGPTRoles = map[string]string{
	"system":    chat.RoleSystem,
	"human":     chat.RoleUser,
	"user":      chat.RoleUser,
	"gpt":       chat.RoleAssistant,
	"assistant": chat.RoleAssistant,
	"chatgpt":   chat.RoleAssistant,
	"bing":      chat.RoleAssistant,
}

// parseShareGPT parses a list of {"from","value"} turns.
func parseShareGPT(v any, field string) ([]chat.Message, *fieldError) {
	list, ok := v.([]any)
	if !ok {
		return nil, wantType(field, "list of turns", v)
	}
	msgs := make([]chat.Message, len(list))
	for i, e := range list {
		f := index(field, i)
		m, ok := e.(map[string]any)
		if !ok {
			return nil, wantType(f, "object", e)
		}
		from, err := str(m, "from", f+".from")
		if err != nil {
			return nil, err
		}
		role, ok := shareGPTRoles[strings.ToLower(from)]
		if !ok {
			return nil, errf(f+".from", "unknown speaker %q (want human, gpt or system)", from)
		}
		value, err := str(m, "value", f+".value")
		if err != nil {
			return nil, err
		}
		msgs[i] = chat.Message{Role: role, Content: value}
	}
	return msgs, nil
}

// checkTurns validates a chat: an optional leading system message, then user
// and assistant turns strictly alternating from a user turn, no empty
// assistant turn, and a last turn with role last. Chat templates either reject
// or silently mangle anything else, so it is cheaper to stop here. name(i)
// gives the field of message i, so that a chat built from two columns (prompt
// + completion) still reports the column the bad message came from; whole
// names the chat as a whole.
func checkTurns(msgs []chat.Message, name func(int) string, whole, last string) *fieldError {
	prev := ""
	turns := 0
	for i, m := range msgs {
		switch {
		case m.Role == chat.RoleSystem:
			if i > 0 {
				return errf(name(i)+".role", "system message must be the first message")
			}
			continue
		case prev == "" && m.Role != chat.RoleUser:
			return errf(name(i)+".role", "conversation must start with a user turn, got %s", m.Role)
		case m.Role == prev:
			return errf(name(i)+".role", "two %s turns in a row; turns must alternate user/assistant", m.Role)
		}
		if m.Role == chat.RoleAssistant && strings.TrimSpace(m.Content) == "" {
			return errf(name(i)+".content", "empty assistant turn")
		}
		prev = m.Role
		turns++
	}
	if turns == 0 {
		return errf(whole, "no user or assistant turns")
	}
	if prev != last {
		return errf(name(len(msgs)-1)+".role", "conversation must end with a%s %s turn, got %s", article(last), last, prev)
	}
	return nil
}

func article(role string) string {
	if role == chat.RoleAssistant {
		return "n"
	}
	return ""
}

// names returns a namer for msgs drawn from one column.
func names(field string) func(int) string {
	return func(i int) string { return index(field, i) }
}

// names2 names a chat made of column a (n messages) followed by column b.
func names2(a string, n int, b string) func(int) string {
	return func(i int) string {
		if i < n {
			return index(a, i)
		}
		return index(b, i-n)
	}
}

func concat(a, b []chat.Message) []chat.Message {
	out := make([]chat.Message, 0, len(a)+len(b))
	return append(append(out, a...), b...)
}
