package grammar

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

var schemaCases = []struct {
	name, schema string
	yes, no      []string
}{
	{"person", `{"type":"object","properties":{"name":{"type":"string"},"age":{"type":"integer"},"email":{"type":"string"}},
		"required":["name","age"],"additionalProperties":false}`,
		[]string{`{"name":"Ann","age":3}`, `{"name":"Ann","age":-3,"email":"a@b"}`, `{ "name": "x", "age": 0 }`},
		[]string{`{"age":3,"name":"Ann"}`, `{"name":"Ann"}`, `{"name":"Ann","age":3.5}`, `{"name":"Ann","age":3,"x":1}`, `{}`}},
	{"all-optional", `{"type":"object","properties":{"a":{"type":"boolean"},"b":{"type":"null"},"c":{"type":"number"}}}`,
		[]string{`{}`, `{"a":true}`, `{"b":null}`, `{"c":1.5e3}`, `{"a":false,"c":0}`, `{"a":true,"b":null,"c":-1}`},
		[]string{`{,"a":true}`, `{"b":null,"a":true}`, `{"a":true,}`, `{"a":1}`}},
	{"optional-then-required", `{"type":"object","properties":{"a":{"type":"integer"},"b":{"type":"integer"}},"required":["b"]}`,
		[]string{`{"b":1}`, `{"a":1,"b":2}`}, []string{`{"a":1}`, `{}`, `{"b":1,"a":2}`}},
	{"enum-const", `{"type":"object","properties":{"c":{"enum":["red","green",1,null,{"x":[1]}]},"k":{"const":"v"}},"required":["c","k"]}`,
		[]string{`{"c":"red","k":"v"}`, `{"c":1,"k":"v"}`, `{"c":null,"k":"v"}`, `{"c":{"x":[1]},"k":"v"}`},
		[]string{`{"c":"blue","k":"v"}`, `{"c":"red","k":"w"}`, `{"c":2,"k":"v"}`}},
	{"typed-enum", `{"type":"string","enum":["a",1,"b"]}`, []string{`"a"`, `"b"`}, []string{`1`, `"c"`}},
	{"array", `{"type":"array","items":{"type":"integer"},"minItems":2,"maxItems":3}`,
		[]string{`[1,2]`, `[1, 2, 3]`, "[\n  1,\n  2\n]"}, []string{`[]`, `[1]`, `[1,2,3,4]`, `[1,"a"]`, `[1,2,]`}},
	{"array-empty-ok", `{"type":"array","items":{"type":"string"}}`,
		[]string{`[]`, `["a"]`, `["a","b","c","d"]`}, []string{`[,]`, `["a",]`, `[1]`}},
	{"string-length", `{"type":"string","minLength":2,"maxLength":3}`,
		[]string{`"ab"`, `"abc"`, `"é✓"`, `"\n\u00e9"`}, []string{`"a"`, `"abcd"`, `""`}},
	{"nullable", `{"type":["string","null"]}`, []string{`"x"`, `null`}, []string{`1`, `true`}},
	{"anyOf", `{"anyOf":[{"type":"integer"},{"type":"object","properties":{"k":{"type":"string"}},"required":["k"]}]}`,
		[]string{`5`, `{"k":"x"}`}, []string{`"x"`, `{}`, `5.5`}},
	{"nested", `{"type":"object","properties":{"items":{"type":"array","items":{"type":"object","properties":{"id":{"type":"integer"},
		"tags":{"type":"array","items":{"type":"string"},"maxItems":2}},"required":["id","tags"],"additionalProperties":false}}},"required":["items"]}`,
		[]string{`{"items":[]}`, `{"items":[{"id":1,"tags":[]},{"id":2,"tags":["a","b"]}]}`},
		[]string{`{"items":[{"id":1}]}`, `{"items":[{"id":1,"tags":["a","b","c"]}]}`}},
	{"defs-recursive", `{"$defs":{"node":{"type":"object","properties":{"v":{"type":"integer"},"kids":{"type":"array","items":{"$ref":"#/$defs/node"}}},
		"required":["v","kids"]}},"$ref":"#/$defs/node"}`,
		[]string{`{"v":1,"kids":[]}`, `{"v":1,"kids":[{"v":2,"kids":[{"v":3,"kids":[]}]}]}`}, []string{`{"v":1}`, `{"v":1,"kids":[{}]}`}},
	{"map", `{"type":"object","additionalProperties":{"type":"integer"}}`,
		[]string{`{}`, `{"a":1,"b":2}`}, []string{`{"a":"x"}`}},
	{"closed-empty", `{"type":"object","additionalProperties":false}`, []string{`{}`}, []string{`{"a":1}`}},
	{"any", `{}`, []string{`1`, `"x"`, `[{"a":null}]`}, []string{`nul`}},
	{"true", `true`, []string{`1`, `{}`}, []string{``}},
	{"key-escapes", `{"type":"object","properties":{"a\"b/c~d":{"type":"integer"}},"required":["a\"b/c~d"]}`,
		[]string{`{"a\"b/c~d":1}`}, []string{`{"a"b/c~d":1}`}},
	{"number-or-integer", `{"type":["number","integer"]}`, []string{`1`, `1.5`}, []string{`"1"`}},
}

func TestSchemaTable(t *testing.T) {
	for _, tc := range schemaCases {
		g, err := Schema([]byte(tc.schema))
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		m := NewMatcher(g, byteVocab())
		val := validator(t, tc.schema)
		for _, s := range tc.yes {
			if !m.Match([]byte(s)) {
				t.Errorf("%s: %s rejected", tc.name, s)
			}
			if err := validates(val, []byte(s)); err != nil {
				t.Errorf("%s: %s is in the table as valid but the validator says %v", tc.name, s, err)
			}
		}
		for _, s := range tc.no {
			if m.Match([]byte(s)) {
				t.Errorf("%s: %s accepted", tc.name, s)
			}
		}
	}
}

// TestSchemaRandomSentences: random sentences of each compiled schema parse
// and pass an independent validator.
func TestSchemaRandomSentences(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tc := range schemaCases {
		g, err := Schema([]byte(tc.schema))
		if err != nil {
			t.Fatal(err)
		}
		m := NewMatcher(g, byteVocab())
		val := validator(t, tc.schema)
		for range 40 {
			s := randomSentence(t, m.m, rng, rng.IntN(200))
			if err := validates(val, s); err != nil {
				t.Errorf("%s: sampled %q does not validate: %v", tc.name, s, err)
			}
		}
	}
}

func TestSchemaErrors(t *testing.T) {
	for _, tc := range []struct{ schema, path, msg string }{
		{`{"type":"string","pattern":"a+"}`, "#/pattern", "not supported"},
		{`{"type":"object","properties":{"d":{"type":"string","format":"date"}}}`, "#/properties/d/format", "not supported"},
		{`{"type":"integer","minimum":3}`, "#/minimum", "not supported"},
		{`{"oneOf":[{"type":"integer"}]}`, "#/oneOf", "not supported"},
		{`{"type":"object","properties":{"a":{"type":"integer"}},"required":["b"]}`, "#/required/0", `"b"`},
		{`{"type":"strin"}`, "#/type", "unknown type"},
		{`{"type":"array","items":{"type":"array","items":{"allOf":[]}}}`, "#/items/items/allOf", "not supported"},
		{`{"type":"array","minItems":3,"maxItems":2}`, "#", "nothing fits"},
		{`{"type":"array","maxItems":100000}`, "#/maxItems", "more than"},
		{`{"type":"string","minLength":-1}`, "#/minLength", "non-negative"},
		{`{"$ref":"http://x/y"}`, "#/$ref", "only references within"},
		{`{"$ref":"#/$defs/nope"}`, "#/$ref", "no such"},
		{`{"$defs":{"a":{"$ref":"#/$defs/a"}},"$ref":"#/$defs/a"}`, "#", "left-recursive"},
		{`false`, "#", "accepts nothing"},
		{`{"enum":[]}`, "#/enum", "non-empty"},
		{`{"type":"integer","enum":["a"]}`, "#/enum", "no value"},
		{`{"a":1,"a":2}`, "#", "duplicate"},
		{`{"type":`, "#", "not valid JSON"},
		{`{"a"}`, "#", "not valid JSON"},
		{`[]`, "#", "must be an object"},
		{`{"anyOf":[{"type":"integer"}],"type":"integer"}`, "#/type", "beside anyOf"},
		{`{"type":"object","properties":{` + manyProps(10001) + `}}`, "", "more than 10000 subschemas"},
		{`{"enum":["` + strings.Repeat("x", 100001) + `"]}`, "#/enum", "more than 100000 bytes"},
	} {
		_, err := Schema([]byte(tc.schema))
		se, ok := err.(*SchemaError)
		if !ok {
			t.Errorf("%s: err %v (%T), want a SchemaError", tc.schema, err, err)
			continue
		}
		if (tc.path != "" && se.Path != tc.path) || !strings.Contains(se.Msg, tc.msg) {
			t.Errorf("%s: %v, want path %s and %q", tc.schema, se, tc.path, tc.msg)
		}
	}
}

// FuzzSchema: the compiler never panics, and whatever schema it takes, its
// sentences pass the independent validator.
func FuzzSchema(f *testing.F) {
	for _, tc := range schemaCases {
		f.Add(tc.schema, uint64(1))
	}
	f.Fuzz(func(t *testing.T, schema string, seed uint64) {
		g, err := Schema([]byte(schema))
		if err != nil {
			return
		}
		var val = fuzzValidator(schema)
		if val == nil {
			return
		}
		m := NewMatcher(g, byteVocab())
		rng := rand.New(rand.NewPCG(seed, 0))
		for range 3 {
			st := int32(0)
			if _, ok := m.m.complete(st); !ok {
				return // a schema whose shortest sentence is beyond the search
			}
			s := randomSentence(t, m.m, rng, rng.IntN(64))
			if err := validates(val, s); err != nil {
				t.Fatalf("schema %s: sampled %q does not validate: %v", schema, s, err)
			}
		}
	})
}

func manyProps(n int) string {
	var sb strings.Builder
	for i := range n {
		if i > 0 {
			sb.WriteByte(',')
		}
		fmt.Fprintf(&sb, `"p%d":{}`, i)
	}
	return sb.String()
}

// TestMatcherConcurrent: sequences on several goroutines share one Matcher
// (as a server's rows do); run with -race.
func TestMatcherConcurrent(t *testing.T) {
	g, err := Schema([]byte(schemaCases[10].schema))
	if err != nil {
		t.Fatal(err)
	}
	toks := [][]byte{[]byte(`{"items":[`), []byte(`{"id":`), []byte("1"), []byte(`,"tags":["`), []byte("a"), []byte(`"]}`), []byte(`]}`), []byte(`"`), []byte(","), nil}
	m := NewMatcher(g, NewVocab(toks, []int32{9}, 10))
	doc := []int32{0, 1, 2, 3, 4, 5, 8, 1, 2, 3, 4, 7, 6, 6, 9}
	done := make(chan error)
	for range 4 {
		go func() {
			s := m.Start()
			for _, tok := range doc {
				if mk := s.Allowed(); mk[0]&(1<<tok) == 0 {
					done <- fmt.Errorf("token %d not allowed: mask %b", tok, mk[0])
					return
				}
				if err := s.Accept(tok); err != nil {
					done <- err
					return
				}
			}
			if !s.Finished() {
				done <- fmt.Errorf("not finished after EOS")
				return
			}
			done <- nil
		}()
	}
	for range 4 {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}
