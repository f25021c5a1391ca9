package data

import (
	"fmt"
	"regexp"
)

// RowError is the error for one bad row. Its text is Loc + ": " + Msg.
type RowError struct {
	Loc string // "data.jsonl:12" or "train.parquet: row 3"
	Msg string // `missing field "completion"`, `field "messages[2].role": want string, got number`
	// Reason is Msg with list indices replaced by "*" (or a fixed category
	// for messages that embed offsets); it keys Report.Reasons.
	Reason string
}

func (e *RowError) Error() string { return e.Loc + ": " + e.Msg }

// fieldError is a row-level problem before the location is known.
type fieldError struct {
	field   string // dotted path, "" for the row as a whole
	msg     string
	missing bool   // render as `missing field "x"`
	reason  string // fixed reason; "" derives it from the message
}

func (e *fieldError) text() string {
	switch {
	case e.missing:
		return fmt.Sprintf("missing field %q", e.field)
	case e.field == "":
		return e.msg
	default:
		return fmt.Sprintf("field %q: %s", e.field, e.msg)
	}
}

func (e *fieldError) at(loc string) *RowError {
	msg := e.text()
	reason := e.reason
	if reason == "" {
		reason = indexRE.ReplaceAllString(msg, "[*]")
	}
	return &RowError{Loc: loc, Msg: msg, Reason: reason}
}

var indexRE = regexp.MustCompile(`\[\d+\]`)

func missing(field string) *fieldError { return &fieldError{field: field, missing: true} }

func errf(field, format string, args ...any) *fieldError {
	return &fieldError{field: field, msg: fmt.Sprintf(format, args...)}
}

func wantType(field, want string, got any) *fieldError {
	return errf(field, "want %s, got %s", want, typeName(got))
}

// typeName names a decoded value's type in JSON terms.
func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "string"
	case float64, float32, int64, int32, int:
		return "number"
	case bool:
		return "bool"
	case []any:
		return "list"
	case map[string]any:
		return "object"
	case []byte:
		return "binary"
	}
	return fmt.Sprintf("%T", v)
}
