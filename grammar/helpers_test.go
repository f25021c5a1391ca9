package grammar

import (
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// complete returns the shortest bytes that take state st to a whole
// sentence (breadth first over the DFA), or false.
func (m *machine) complete(st int32) ([]byte, bool) {
	type edge struct {
		from int32
		b    byte
	}
	prev := map[int32]edge{st: {-1, 0}}
	q := []int32{st}
	for len(q) > 0 && len(prev) < 200000 {
		s := q[0]
		q = q[1:]
		if m.states[s].accept {
			var out []byte
			for s != st {
				e := prev[s]
				out = append(out, e.b)
				s = e.from
			}
			for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
				out[i], out[j] = out[j], out[i]
			}
			return out, true
		}
		for b := range 256 {
			if n := m.step(s, byte(b)); n >= 0 {
				if _, seen := prev[n]; !seen {
					prev[n] = edge{s, byte(b)}
					q = append(q, n)
				}
			}
		}
	}
	return nil, false
}

// randomSentence draws random allowed bytes (stopping early at times where
// the text is whole), then completes the text by the shortest way.
func randomSentence(t *testing.T, m *machine, rng *rand.Rand, budget int) []byte {
	t.Helper()
	st := int32(0)
	var out []byte
	var allowed []byte
	for len(out) < budget {
		if m.states[st].accept && rng.IntN(8) == 0 {
			return out
		}
		allowed = allowed[:0]
		for b := range 256 {
			if m.step(st, byte(b)) >= 0 {
				allowed = append(allowed, byte(b))
			}
		}
		if len(allowed) == 0 {
			break
		}
		// Favour ASCII so structure, not only string bytes, gets explored.
		b := allowed[rng.IntN(len(allowed))]
		if rng.IntN(2) == 0 {
			for _, x := range allowed {
				if x < 0x80 && rng.IntN(3) == 0 {
					b = x
					break
				}
			}
		}
		st = m.step(st, b)
		out = append(out, b)
	}
	rest, ok := m.complete(st)
	if !ok {
		t.Fatalf("no completion of %q", out)
	}
	return append(out, rest...)
}

// validator compiles schema with an independent JSON Schema implementation.
func validator(t testing.TB, schema string) *jsonschema.Schema {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(strings.NewReader(schema))
	if err != nil {
		t.Fatalf("schema %s: %v", schema, err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("schema.json", doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile("schema.json")
	if err != nil {
		t.Fatalf("schema %s: %v", schema, err)
	}
	return s
}

// validates reports whether text parses as JSON (encoding/json) and the
// independent validator accepts it.
func validates(s *jsonschema.Schema, text []byte) error {
	var v any
	if err := json.Unmarshal(text, &v); err != nil {
		return err
	}
	inst, err := jsonschema.UnmarshalJSON(strings.NewReader(string(text)))
	if err != nil {
		return err
	}
	return s.Validate(inst)
}

// fuzzValidator is validator for schemas the validator itself may refuse
// (nil then).
func fuzzValidator(schema string) *jsonschema.Schema {
	doc, err := jsonschema.UnmarshalJSON(strings.NewReader(schema))
	if err != nil {
		return nil
	}
	c := jsonschema.NewCompiler()
	if c.AddResource("schema.json", doc) != nil {
		return nil
	}
	s, err := c.Compile("schema.json")
	if err != nil {
		return nil
	}
	return s
}
