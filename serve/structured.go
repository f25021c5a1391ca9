package serve

import (
	"errors"
	"reflect"
	"sync"

	"github.com/align-go/align/grammar"
)

// Structured output: response_format json_object and json_schema are
// enforced while sampling by a grammar over the tokenizer's vocabulary
// (package grammar), so the output always parses (unless cut by
// max_tokens: finish_reason "length"). The same schema sent again reuses
// its compiled grammar and the token masks already computed for it.

// responseFormat is OpenAI's response_format.
type responseFormat struct {
	Type       string `json:"type"`
	JSONSchema *struct {
		Name        string  `json:"name"`
		Description *string `json:"description"`
		Schema      rawJSON `json:"schema"`
		// Strict is accepted either way: the schema is always enforced
		// (what it cannot enforce is refused, strict or not).
		Strict *bool `json:"strict"`
	} `json:"json_schema"`
}

// rawJSON is a JSON value kept as its bytes (a schema's property order is
// the order it is generated in, which a map would lose).
type rawJSON []byte

func (r *rawJSON) UnmarshalJSON(b []byte) error {
	*r = append(rawJSON(nil), b...)
	return nil
}

func init() {
	checkers[reflect.TypeFor[rawJSON]()] = func(w *walker, tok token, path string) *apiError {
		if tok.kind != '{' && tok.kind != 't' && tok.kind != 'n' {
			return mismatch(path, "a JSON Schema (an object or a boolean)", tok)
		}
		w.skipValue(tok)
		return nil
	}
}

// A compiled response format is kept for reuse (at most maxGrammars of
// them) until it has computed maxGrammarStates states; then the next request
// gets a fresh one (the old one serves its requests to the end). One costs
// about 1 KB per state plus 64 cached masks of vocabulary/8 bytes: at most
// ~5.5 MB each with Qwen3's 151,936 tokens, ~90 MB for the cache, besides
// what one request's own states take (a deeply nested json_object document
// adds some tens of states per level).
const (
	maxGrammars      = 16
	maxGrammarStates = 4096
)

// grammars caches the vocabulary (built at the first structured request)
// and the compiled response formats.
type grammars struct {
	vocabOnce sync.Once
	vocab     *grammar.Vocab
	mu        sync.Mutex
	byKey     map[string]*grammar.Matcher
	order     []string // oldest first
}

// constraint returns the grammar that enforces rf (nil: plain text).
func (s *Server) constraint(rf *responseFormat) (*grammar.Matcher, *apiError) {
	if rf == nil {
		return nil, nil
	}
	var key string
	switch rf.Type {
	case "text":
		if rf.JSONSchema != nil {
			return nil, badRequest("response_format.json_schema", "invalid_value", "response_format.json_schema is only allowed with type json_schema")
		}
		return nil, nil
	case "json_object":
		if rf.JSONSchema != nil {
			return nil, badRequest("response_format.json_schema", "invalid_value", "response_format.json_schema is only allowed with type json_schema")
		}
		key = "json_object"
	case "json_schema":
		js := rf.JSONSchema
		if js == nil {
			return nil, badRequest("response_format.json_schema", "missing_required_parameter", "response_format.json_schema is required with type json_schema")
		}
		if ae := checkSchemaName(js.Name); ae != nil {
			return nil, ae
		}
		key = "json_schema\x00" + string(js.Schema)
		if js.Schema == nil || string(js.Schema) == "null" {
			key = "json_object" // no schema: any JSON object
		}
	case "":
		return nil, badRequest("response_format.type", "missing_required_parameter", "response_format.type is required: text, json_object or json_schema")
	default:
		return nil, badRequest("response_format.type", "invalid_value", "response_format.type %q: want text, json_object or json_schema", rf.Type)
	}
	gs := &s.grammars
	gs.mu.Lock()
	m, ok := gs.byKey[key]
	gs.mu.Unlock()
	if ok && m.States() <= maxGrammarStates {
		return m, nil
	}
	var g *grammar.Grammar
	if key == "json_object" {
		g = grammar.JSONObject()
	} else {
		var err error
		if g, err = grammar.Schema(rf.JSONSchema.Schema); err != nil {
			var se *grammar.SchemaError
			if errors.As(err, &se) {
				return nil, badRequest("response_format.json_schema.schema", "invalid_value",
					"response_format.json_schema.schema: %s (at %s)", se.Msg, se.Path)
			}
			return nil, badRequest("response_format.json_schema.schema", "invalid_value", "response_format.json_schema.schema: %v", err)
		}
	}
	gs.vocabOnce.Do(func() {
		gs.vocab = grammar.TokenizerVocab(s.e.Tok, s.e.EOS, s.e.Model.Cfg.Vocab)
	})
	m = grammar.NewMatcher(g, gs.vocab)
	gs.mu.Lock()
	defer gs.mu.Unlock()
	if gs.byKey == nil {
		gs.byKey = map[string]*grammar.Matcher{}
	}
	if _, ok := gs.byKey[key]; ok { // too large: replaced
		gs.byKey[key] = m
		return m, nil
	}
	if len(gs.order) >= maxGrammars {
		delete(gs.byKey, gs.order[0])
		gs.order = gs.order[1:]
	}
	gs.byKey[key] = m
	gs.order = append(gs.order, key)
	return m, nil
}

// checkSchemaName applies OpenAI's rule: 1 to 64 of a-z, A-Z, 0-9, _ and -.
func checkSchemaName(name string) *apiError {
	if name == "" {
		return badRequest("response_format.json_schema.name", "missing_required_parameter", "response_format.json_schema.name is required")
	}
	if len(name) > 64 {
		return badRequest("response_format.json_schema.name", "invalid_value", "response_format.json_schema.name is longer than 64 characters")
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return badRequest("response_format.json_schema.name", "invalid_value",
				"response_format.json_schema.name %q: only letters, digits, _ and - are allowed", name)
		}
	}
	return nil
}
