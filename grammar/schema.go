package grammar

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// SchemaError is a JSON Schema the compiler does not take, with the JSON
// Pointer of the offending subschema (#/properties/age).
type SchemaError struct {
	Path string
	Msg  string
}

func (e *SchemaError) Error() string { return e.Path + ": " + e.Msg }

// Limits of a compiled schema: every repetition bound becomes grammar rules,
// so they are capped, as is nesting.
const (
	maxSchemaDepth = 64
	maxRepeat      = 10000  // minItems, maxItems, minLength, maxLength
	maxSchemaCost  = 100000 // the sum of repetition bounds over the schema
	maxSchemaNodes = 10000  // subschemas, properties and enum values
	maxLiteral     = 100000 // bytes of property names and enum/const values
)

// Schema compiles a JSON Schema (draft 2020-12 and OpenAI's strict subset)
// to the grammar of the JSON documents it accepts. Supported: type (a name
// or a list), properties in their schema order with required (absent
// optional properties are left out; properties the schema does not name are
// never generated, whatever additionalProperties says), additionalProperties
// as the value schema of an object without properties, string minLength and
// maxLength, number, integer, boolean, null, enum, const, array items,
// minItems and maxItems, anyOf, $ref to "#", "#/$defs/..." or
// "#/definitions/..." (recursion included), and the annotations (title,
// description, default, examples, ...). Keywords that constrain values in
// ways the grammar does not follow (pattern, format, minimum, oneOf, ...)
// are refused with a SchemaError naming them, rather than ignored.
func Schema(schema []byte) (*Grammar, error) {
	root, err := parseOrdered(schema)
	if err != nil {
		return nil, &SchemaError{Path: "#", Msg: "not valid JSON: " + err.Error()}
	}
	c := &schemaCompiler{b: NewBuilder(), root: root, refRule: map[string]string{}}
	defineJSON(c.b)
	e, err := c.compile(root, "#", 0)
	if err != nil {
		return nil, err
	}
	c.b.Define("root", e)
	g, err := c.b.Build("root")
	if err != nil {
		return nil, &SchemaError{Path: "#", Msg: err.Error()}
	}
	return g, nil
}

type schemaCompiler struct {
	b       *Builder
	root    *jv
	refRule map[string]string // $ref target -> its rule
	n       int
	cost    int
	nodes   int // subschemas, properties, enum values compiled
	litLen  int // literal bytes
}

// count charges a compiled subschema, property or enum value and its literal
// bytes against the limits: a 4 MB request body could otherwise hold a
// schema whose grammar takes far more memory than the body.
func (c *schemaCompiler) count(path string, lit int) error {
	c.nodes++
	c.litLen += lit
	if c.nodes > maxSchemaNodes {
		return &SchemaError{path, fmt.Sprintf("the schema has more than %d subschemas, properties and enum values", maxSchemaNodes)}
	}
	if c.litLen > maxLiteral {
		return &SchemaError{path, fmt.Sprintf("the schema's property names and enum values add up to more than %d bytes", maxLiteral)}
	}
	return nil
}

func (c *schemaCompiler) rule(e Expr) Expr {
	c.n++
	name := "s" + strconv.Itoa(c.n)
	c.b.Define(name, e)
	return Ref(name)
}

// Keywords that assert something this compiler does not enforce.
var unsupported = []string{"pattern", "format", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum",
	"multipleOf", "minProperties", "maxProperties", "uniqueItems", "contains", "minContains", "maxContains",
	"not", "if", "then", "else", "allOf", "oneOf", "patternProperties", "propertyNames", "dependentRequired",
	"dependentSchemas", "dependencies", "unevaluatedProperties", "unevaluatedItems", "prefixItems",
	"additionalItems", "contentEncoding", "contentMediaType", "contentSchema", "$dynamicRef", "$recursiveRef"}

var typeNames = []string{"object", "array", "string", "number", "integer", "boolean", "null"}

func (c *schemaCompiler) compile(s *jv, path string, depth int) (Expr, error) {
	if depth > maxSchemaDepth {
		return Expr{}, &SchemaError{path, fmt.Sprintf("nested deeper than %d levels", maxSchemaDepth)}
	}
	if err := c.count(path, 0); err != nil {
		return Expr{}, err
	}
	switch s.kind {
	case 't':
		if s.b {
			return Ref(ruleValue), nil
		}
		return Expr{}, &SchemaError{path, "the schema false accepts nothing"}
	case '{':
	default:
		return Expr{}, &SchemaError{path, "a schema must be an object or a boolean"}
	}
	for _, k := range unsupported {
		if s.get(k) != nil {
			return Expr{}, &SchemaError{path + "/" + k, k + " is not supported"}
		}
	}
	if r := s.get("$ref"); r != nil {
		if len(s.obj) > 1 {
			for _, kv := range s.obj {
				if kv.key != "$ref" && isAssertion(kv.key) {
					return Expr{}, &SchemaError{path + "/" + kv.key, kv.key + " beside $ref is not supported"}
				}
			}
		}
		return c.ref(r, path+"/$ref", depth)
	}
	var types []string
	if t := s.get("type"); t != nil {
		switch t.kind {
		case '"':
			types = []string{t.str}
		case '[':
			for i, x := range t.arr {
				if x.kind != '"' {
					return Expr{}, &SchemaError{fmt.Sprintf("%s/type/%d", path, i), "want a type name"}
				}
				types = append(types, x.str)
			}
			if len(types) == 0 {
				return Expr{}, &SchemaError{path + "/type", "an empty list of types accepts nothing"}
			}
		default:
			return Expr{}, &SchemaError{path + "/type", "want a type name or a list of them"}
		}
		for _, ty := range types {
			if !contains(typeNames, ty) {
				return Expr{}, &SchemaError{path + "/type", fmt.Sprintf("unknown type %q", ty)}
			}
		}
	}
	if e := s.get("const"); e != nil {
		return c.literals(path+"/const", []*jv{e}, types)
	}
	if e := s.get("enum"); e != nil {
		if e.kind != '[' || len(e.arr) == 0 {
			return Expr{}, &SchemaError{path + "/enum", "want a non-empty array"}
		}
		vals := make([]*jv, len(e.arr))
		for i := range e.arr {
			vals[i] = &e.arr[i]
		}
		return c.literals(path+"/enum", vals, types)
	}
	if a := s.get("anyOf"); a != nil {
		if a.kind != '[' || len(a.arr) == 0 {
			return Expr{}, &SchemaError{path + "/anyOf", "want a non-empty array of schemas"}
		}
		for _, kv := range s.obj {
			if kv.key != "anyOf" && isAssertion(kv.key) {
				return Expr{}, &SchemaError{path + "/" + kv.key, kv.key + " beside anyOf is not supported"}
			}
		}
		var alts []Expr
		for i := range a.arr {
			e, err := c.compile(&a.arr[i], fmt.Sprintf("%s/anyOf/%d", path, i), depth+1)
			if err != nil {
				return Expr{}, err
			}
			alts = append(alts, e)
		}
		return c.rule(Alt(alts...)), nil
	}
	if types == nil {
		// No type: what the other keywords imply, else any value.
		switch {
		case s.get("properties") != nil || s.get("required") != nil || s.get("additionalProperties") != nil:
			types = []string{"object"}
		case s.get("items") != nil || s.get("minItems") != nil || s.get("maxItems") != nil:
			types = []string{"array"}
		case s.get("minLength") != nil || s.get("maxLength") != nil:
			types = []string{"string"}
		default:
			return Ref(ruleValue), nil
		}
	}
	var alts []Expr
	for _, ty := range types {
		e, err := c.typed(s, ty, path, depth)
		if err != nil {
			return Expr{}, err
		}
		alts = append(alts, e)
	}
	if len(alts) == 1 {
		return alts[0], nil
	}
	// "integer" and "number" both: an integer is a number.
	return c.rule(Alt(alts...)), nil
}

// isAssertion reports keywords that change what a schema accepts (the
// annotations and $defs do not).
func isAssertion(k string) bool {
	switch k {
	case "title", "description", "default", "examples", "$comment", "$defs", "definitions", "$schema", "$id",
		"$anchor", "deprecated", "readOnly", "writeOnly", "strict", "name":
		return false
	}
	return true
}

func (c *schemaCompiler) typed(s *jv, ty, path string, depth int) (Expr, error) {
	switch ty {
	case "null":
		return Ref(ruleNull), nil
	case "boolean":
		return Ref(ruleBool), nil
	case "number":
		return Ref(ruleNumber), nil
	case "integer":
		return Ref(ruleInteger), nil
	case "string":
		lo, hi, err := c.bounds(s, path, "minLength", "maxLength")
		if err != nil {
			return Expr{}, err
		}
		if lo == 0 && hi < 0 {
			return Ref(ruleString), nil
		}
		return c.rule(Seq(Lit(`"`), Rep(Ref(ruleChar), lo, hi), Lit(`"`))), nil
	case "array":
		return c.array(s, path, depth)
	}
	return c.object(s, path, depth)
}

// bounds reads a pair of non-negative integer keywords (hi -1: absent).
func (c *schemaCompiler) bounds(s *jv, path, minKey, maxKey string) (lo, hi int, err error) {
	read := func(k string, def int) (int, error) {
		v := s.get(k)
		if v == nil {
			return def, nil
		}
		f, err := strconv.ParseFloat(v.str, 64)
		if v.kind != '0' || err != nil || f < 0 || f != math.Trunc(f) {
			return 0, &SchemaError{path + "/" + k, "want a non-negative integer"}
		}
		if f > maxRepeat {
			return 0, &SchemaError{path + "/" + k, fmt.Sprintf("%v is more than the %d supported", f, maxRepeat)}
		}
		return int(f), nil
	}
	if lo, err = read(minKey, 0); err != nil {
		return
	}
	if hi, err = read(maxKey, -1); err != nil {
		return
	}
	if hi >= 0 && hi < lo {
		return 0, 0, &SchemaError{path, fmt.Sprintf("%s %d is above %s %d: nothing fits", minKey, lo, maxKey, hi)}
	}
	c.cost += max(lo, hi)
	if c.cost > maxSchemaCost {
		return 0, 0, &SchemaError{path, fmt.Sprintf("the schema's length and item bounds add up to more than %d", maxSchemaCost)}
	}
	return lo, hi, nil
}

func (c *schemaCompiler) array(s *jv, path string, depth int) (Expr, error) {
	lo, hi, err := c.bounds(s, path, "minItems", "maxItems")
	if err != nil {
		return Expr{}, err
	}
	item := Ref(ruleValue)
	if it := s.get("items"); it != nil {
		if it.kind == 't' && !it.b {
			hi = 0
			if lo > 0 {
				return Expr{}, &SchemaError{path + "/items", "items false with minItems > 0 accepts nothing"}
			}
		} else if item, err = c.compile(it, path+"/items", depth+1); err != nil {
			return Expr{}, err
		}
	}
	ws := Ref(ruleWS)
	if hi == 0 {
		return Seq(Lit("["), ws, Lit("]")), nil
	}
	one := Seq(item, ws)
	more := c.rule(Seq(Lit(","), ws, item, ws))
	var rest Expr
	if hi < 0 {
		rest = Rep(more, max(lo-1, 0), -1)
	} else {
		rest = Rep(more, max(lo-1, 0), hi-1)
	}
	body := Seq(one, rest)
	if lo == 0 {
		body = Opt(body)
	}
	return c.rule(Seq(Lit("["), ws, body, Lit("]"))), nil
}

func (c *schemaCompiler) object(s *jv, path string, depth int) (Expr, error) {
	ws := Ref(ruleWS)
	props := s.get("properties")
	if props != nil && props.kind != '{' {
		return Expr{}, &SchemaError{path + "/properties", "want an object"}
	}
	req := map[string]bool{}
	if r := s.get("required"); r != nil {
		if r.kind != '[' {
			return Expr{}, &SchemaError{path + "/required", "want an array of names"}
		}
		for i, x := range r.arr {
			if x.kind != '"' {
				return Expr{}, &SchemaError{fmt.Sprintf("%s/required/%d", path, i), "want a property name"}
			}
			if props == nil || props.get(x.str) == nil {
				return Expr{}, &SchemaError{fmt.Sprintf("%s/required/%d", path, i),
					fmt.Sprintf("required property %q is not among the properties", x.str)}
			}
			req[x.str] = true
		}
	}
	if props == nil || len(props.obj) == 0 {
		// A map: string keys, values of additionalProperties' schema.
		val := Ref(ruleValue)
		if ap := s.get("additionalProperties"); ap != nil {
			if ap.kind == 't' && !ap.b {
				return Seq(Lit("{"), ws, Lit("}")), nil
			}
			var err error
			if val, err = c.compile(ap, path+"/additionalProperties", depth+1); err != nil {
				return Expr{}, err
			}
		}
		member := Seq(Ref(ruleString), ws, Lit(":"), ws, val, ws)
		return c.rule(Seq(Lit("{"), ws, Opt(Seq(member, Star(Seq(Lit(","), ws, member)))), Lit("}"))), nil
	}
	if ap := s.get("additionalProperties"); ap != nil && ap.kind != 't' && ap.kind != '{' {
		return Expr{}, &SchemaError{path + "/additionalProperties", "want a boolean or a schema"}
	}
	// Properties in schema order. tail[i] is properties i.. after one has
	// been written (each optional one is ", key: value" or nothing); head[i]
	// the same before any has been (the first written has no comma).
	n := len(props.obj)
	kvs := make([]Expr, n)
	for i, kv := range props.obj {
		v, err := c.compile(&props.obj[i].val, path+"/properties/"+escapePointer(kv.key), depth+1)
		if err != nil {
			return Expr{}, err
		}
		key := jsonString(kv.key)
		if err := c.count(path+"/properties/"+escapePointer(kv.key), len(key)); err != nil {
			return Expr{}, err
		}
		kvs[i] = Seq(Lit(key), ws, Lit(":"), ws, v, ws)
	}
	tail := make([]Expr, n+1)
	tail[n] = Empty()
	for i := n - 1; i >= 0; i-- {
		item := Seq(Lit(","), ws, kvs[i])
		if req[props.obj[i].key] {
			tail[i] = c.rule(Seq(item, tail[i+1]))
		} else {
			tail[i] = c.rule(Seq(Opt(item), tail[i+1]))
		}
	}
	head := Empty()
	for i := n - 1; i >= 0; i-- {
		first := Seq(kvs[i], tail[i+1])
		if req[props.obj[i].key] {
			head = first
		} else {
			head = c.rule(Alt(first, head))
		}
	}
	return c.rule(Seq(Lit("{"), ws, head, Lit("}"))), nil
}

// ref compiles a $ref to the root or to a definition, once per target.
func (c *schemaCompiler) ref(r *jv, path string, depth int) (Expr, error) {
	if r.kind != '"' {
		return Expr{}, &SchemaError{path, "want a string"}
	}
	if name, ok := c.refRule[r.str]; ok {
		return Ref(name), nil
	}
	target := c.root
	if r.str != "#" {
		rest, ok := strings.CutPrefix(r.str, "#/")
		if !ok {
			return Expr{}, &SchemaError{path, fmt.Sprintf("$ref %q: only references within the schema (#/$defs/...) are supported", r.str)}
		}
		for _, seg := range strings.Split(rest, "/") {
			seg = strings.ReplaceAll(strings.ReplaceAll(seg, "~1", "/"), "~0", "~")
			if target = target.get(seg); target == nil {
				return Expr{}, &SchemaError{path, fmt.Sprintf("$ref %q: no such subschema", r.str)}
			}
		}
	}
	c.n++
	name := "ref" + strconv.Itoa(c.n)
	c.refRule[r.str] = name
	e, err := c.compile(target, r.str, depth+1)
	if err != nil {
		return Expr{}, err
	}
	c.b.Define(name, e)
	return Ref(name), nil
}

// literals is the grammar of exactly these JSON values (enum, const), the
// ones of a kind types allows (all without types).
func (c *schemaCompiler) literals(path string, vals []*jv, types []string) (Expr, error) {
	var alts []Expr
	for _, v := range vals {
		if types != nil && !v.hasType(types) {
			continue
		}
		lit := v.compact()
		if err := c.count(path, len(lit)); err != nil {
			return Expr{}, err
		}
		alts = append(alts, Lit(lit))
	}
	if len(alts) == 0 {
		return Expr{}, &SchemaError{path, "no value is of the schema's type"}
	}
	return c.rule(Alt(alts...)), nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func escapePointer(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

func jsonString(s string) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.Encode(s)
	return strings.TrimSuffix(buf.String(), "\n")
}

// jv is a JSON value that keeps its object keys in order (property order is
// the order a schema's author wants the output in).
type jv struct {
	kind byte   // '{', '[', '"', '0' (number), 't' (boolean), 'n'
	str  string // string, or a number's text
	b    bool
	arr  []jv
	obj  []jkv
}

type jkv struct {
	key string
	val jv
}

func (v *jv) get(k string) *jv {
	if v.kind != '{' {
		return nil
	}
	for i := range v.obj {
		if v.obj[i].key == k {
			return &v.obj[i].val
		}
	}
	return nil
}

func (v *jv) hasType(types []string) bool {
	for _, t := range types {
		switch {
		case t == "object" && v.kind == '{', t == "array" && v.kind == '[', t == "string" && v.kind == '"',
			t == "number" && v.kind == '0', t == "boolean" && v.kind == 't', t == "null" && v.kind == 'n':
			return true
		case t == "integer" && v.kind == '0':
			if f, err := strconv.ParseFloat(v.str, 64); err == nil && f == math.Trunc(f) {
				return true
			}
		}
	}
	return false
}

// compact is v as compact JSON.
func (v *jv) compact() string {
	var sb strings.Builder
	v.write(&sb)
	return sb.String()
}

func (v *jv) write(sb *strings.Builder) {
	switch v.kind {
	case '{':
		sb.WriteByte('{')
		for i, kv := range v.obj {
			if i > 0 {
				sb.WriteByte(',')
			}
			sb.WriteString(jsonString(kv.key))
			sb.WriteByte(':')
			kv.val.write(sb)
		}
		sb.WriteByte('}')
	case '[':
		sb.WriteByte('[')
		for i := range v.arr {
			if i > 0 {
				sb.WriteByte(',')
			}
			v.arr[i].write(sb)
		}
		sb.WriteByte(']')
	case '"':
		sb.WriteString(jsonString(v.str))
	case '0':
		sb.WriteString(v.str)
	case 't':
		sb.WriteString(strconv.FormatBool(v.b))
	case 'n':
		sb.WriteString("null")
	}
}

// parseOrdered reads one JSON value, keeping object keys in order. Duplicate
// keys are refused (which one a validator uses is unspecified).
func parseOrdered(b []byte) (*jv, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	v, err := readValue(dec, 0)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("data after the schema")
	}
	return v, nil
}

func readValue(dec *json.Decoder, depth int) (*jv, error) {
	if depth > 2*maxSchemaDepth+8 {
		return nil, fmt.Errorf("nested deeper than %d levels", 2*maxSchemaDepth+8)
	}
	t, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := t.(type) {
	case json.Delim:
		switch t {
		case '{':
			v := &jv{kind: '{'}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				k := kt.(string)
				if v.get(k) != nil {
					return nil, fmt.Errorf("duplicate key %q", k)
				}
				x, err := readValue(dec, depth+1)
				if err != nil {
					return nil, err
				}
				v.obj = append(v.obj, jkv{k, *x})
			}
			_, err := dec.Token()
			return v, err
		case '[':
			v := &jv{kind: '['}
			for dec.More() {
				x, err := readValue(dec, depth+1)
				if err != nil {
					return nil, err
				}
				v.arr = append(v.arr, *x)
			}
			_, err := dec.Token()
			return v, err
		}
		return nil, fmt.Errorf("unexpected %v", t)
	case string:
		return &jv{kind: '"', str: t}, nil
	case json.Number:
		return &jv{kind: '0', str: t.String()}, nil
	case bool:
		return &jv{kind: 't', b: t}, nil
	case nil:
		return &jv{kind: 'n'}, nil
	}
	return nil, fmt.Errorf("unexpected token %v", t)
}
