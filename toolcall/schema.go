package toolcall

import (
	"encoding/json"
	"strings"

	"github.com/align-go/align/chat"
)

// Opening is the text before a call's JSON object in f: what a prompt ends
// with when the call's object is then generated under CallSchema.
func Opening(f Format) string {
	if f == Hermes {
		return hermesOpen + "\n"
	}
	return ""
}

// CallSchema is the JSON Schema of one call's object in f to any of fns:
// {"name": <one of the names>, "arguments" (Llama 3: "parameters"): <that
// function's parameters>}. A function's parameters schema is used when
// usable accepts it (a grammar compiler may not take every keyword), else
// any JSON object stands for it.
func CallSchema(f Format, fns []chat.Function, usable func(schema []byte) bool) []byte {
	key := "arguments"
	if f == Llama3JSON {
		key = "parameters"
	}
	alts := make([]string, len(fns))
	for i, fn := range fns {
		params := `{"type": "object"}`
		if p := strings.TrimSpace(string(fn.Parameters)); p != "" && p != "null" && usable([]byte(p)) {
			params = p
		}
		name, _ := json.Marshal(fn.Name)
		alts[i] = `{"type": "object", "properties": {"name": {"const": ` + string(name) + `}, "` + key + `": ` + params +
			`}, "required": ["name", "` + key + `"]}`
	}
	if len(alts) == 1 {
		return []byte(alts[0])
	}
	return []byte(`{"anyOf": [` + strings.Join(alts, ", ") + `]}`)
}
