package grammar

import (
	"fmt"
	"os"
)

// The JSON grammar (RFC 8259), with limits that keep a sampled document
// finite and parseable everywhere: at most 20 spaces or tabs of indentation
// after a newline (a model cannot pad forever), numbers of at most 16
// significant digits before and after the point and a two-digit exponent (so
// every number fits a float64: 1e400 fails Go's and JavaScript's parsers),
// and \u escapes that are never surrogates (each escape is one character,
// as minLength and maxLength count them). Nothing may follow the top-level
// value, so a sampler stops at its last byte.
const (
	ruleWS      = "json-ws"
	ruleString  = "json-string"
	ruleChar    = "json-char"
	ruleNumber  = "json-number"
	ruleInteger = "json-integer"
	ruleValue   = "json-value"
	ruleObject  = "json-object"
	ruleArray   = "json-array"
	ruleBool    = "json-boolean"
	ruleNull    = "json-null"
)

func hexDigit() Expr { return Chars('0', '9', 'a', 'f', 'A', 'F') }

// defineJSON adds the JSON rules to b (once).
func defineJSON(b *Builder) {
	if b.Has(ruleValue) {
		return
	}
	b.Define(ruleWS, Alt(Empty(), Lit(" "), Seq(Lit("\n"), Rep(Chars(' ', ' ', '\t', '\t'), 0, 20))))
	// A character of a string: anything but '"', '\' and control
	// characters, or an escape.
	b.Define(ruleChar, Alt(
		NotChars('"', '"', '\\', '\\', 0, 0x1F),
		Seq(Lit(`\`), Alt(
			Chars('"', '"', '\\', '\\', '/', '/', 'b', 'b', 'f', 'f', 'n', 'n', 'r', 'r', 't', 't'),
			Seq(Lit("u"), Alt(
				Seq(Chars('0', '9', 'a', 'c', 'A', 'C', 'e', 'f', 'E', 'F'), hexDigit(), hexDigit(), hexDigit()),
				Seq(Chars('d', 'd', 'D', 'D'), Chars('0', '7'), hexDigit(), hexDigit()),
			)),
		)),
	))
	b.Define(ruleString, Seq(Lit(`"`), Star(Ref(ruleChar)), Lit(`"`)))
	intPart := Alt(Lit("0"), Seq(Chars('1', '9'), Rep(Chars('0', '9'), 0, 15)))
	b.Define(ruleInteger, Seq(Opt(Lit("-")), intPart))
	b.Define(ruleNumber, Seq(Opt(Lit("-")), intPart,
		Opt(Seq(Lit("."), Rep(Chars('0', '9'), 1, 16))),
		Opt(Seq(Chars('e', 'e', 'E', 'E'), Opt(Chars('+', '+', '-', '-')), Rep(Chars('0', '9'), 1, 2)))))
	b.Define(ruleBool, Alt(Lit("true"), Lit("false")))
	b.Define(ruleNull, Lit("null"))
	ws := Ref(ruleWS)
	member := Seq(Ref(ruleString), ws, Lit(":"), ws, Ref(ruleValue), ws)
	b.Define(ruleObject, Seq(Lit("{"), ws, Opt(Seq(member, Star(Seq(Lit(","), ws, member)))), Lit("}")))
	item := Seq(Ref(ruleValue), ws)
	b.Define(ruleArray, Seq(Lit("["), ws, Opt(Seq(item, Star(Seq(Lit(","), ws, item)))), Lit("]")))
	b.Define(ruleValue, Alt(Ref(ruleObject), Ref(ruleArray), Ref(ruleString), Ref(ruleNumber),
		Ref(ruleBool), Ref(ruleNull)))
}

// JSONObject is the grammar of a JSON object (OpenAI's response_format
// json_object: the top-level value is an object).
func JSONObject() *Grammar {
	b := NewBuilder()
	defineJSON(b)
	g, err := b.Build(ruleObject)
	if err != nil {
		panic(err) // the rules above are fixed
	}
	return g
}

// JSONValue is the grammar of any JSON value.
func JSONValue() *Grammar {
	b := NewBuilder()
	defineJSON(b)
	g, err := b.Build(ruleValue)
	if err != nil {
		panic(err)
	}
	return g
}

// ResponseFormat is the grammar a command line's --response-format names:
// "json" for any JSON object (json_object), else the path of a JSON Schema
// file (json_schema); errors name the file and the schema path.
func ResponseFormat(spec string) (*Grammar, error) {
	if spec == "json" || spec == "json_object" {
		return JSONObject(), nil
	}
	b, err := os.ReadFile(spec)
	if err != nil {
		return nil, fmt.Errorf("response format: %w (want \"json\" or a JSON Schema file)", err)
	}
	g, err := Schema(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", spec, err)
	}
	return g, nil
}
