package cai

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDefaultConstitution(t *testing.T) {
	c := Default()
	if len(c.Principles) < 6 || len(c.Examples) == 0 {
		t.Fatalf("%d principles, %d examples", len(c.Principles), len(c.Examples))
	}
	for _, name := range []string{"harm", "honesty"} {
		if _, ok := c.Principle(name); !ok {
			t.Errorf("no %q principle", name)
		}
	}
	for _, p := range c.Principles {
		if p.Comparison == "" {
			t.Errorf("%s: no comparison", p.Name)
		}
	}
	d, err := Load("default")
	if err != nil || len(d.Principles) != len(c.Principles) {
		t.Fatal(d, err)
	}
}

func TestParseJSONAndYAML(t *testing.T) {
	js := `{"principles": [{"name": "a", "critique_request": "Crit?", "revision_request": "Rev."}]}`
	c, err := Parse([]byte(js), "c.json")
	if err != nil {
		t.Fatal(err)
	}
	if p := c.Principles[0]; p.Name != "a" || p.CritiqueRequest != "Crit?" || p.RevisionRequest != "Rev." || p.Criterion() != "Crit?" {
		t.Fatalf("%+v", p)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "c.yaml")
	os.WriteFile(path, []byte("principles:\n  - name: b\n    critique_request: C\n    revision_request: R\n    comparison: Which?\n"), 0o644)
	c, err = Load(path)
	if err != nil || c.Principles[0].Criterion() != "Which?" {
		t.Fatal(c, err)
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct{ src, want string }{
		{"", "c.yaml: empty file"},
		{"principles: []", "c.yaml: principles: none given"},
		{"principles:\n  - name: a\n    critique_request: x\n", "c.yaml: principles[0].revision_request: empty"},
		{"principles:\n  - name: a\n    critique_request: x\n    revision_request: y\n  - name: ' '\n    critique_request: x\n    revision_request: y\n", "principles[1].name: empty"},
		{"principles:\n  - {name: a, critique_request: x, revision_request: y}\n  - {name: a, critique_request: x, revision_request: y}\n", `principles[1].name: "a" already names principles[0]`},
		{"principles:\n  - {name: a, critique_requst: x, revision_request: y}\n", "line 2: field critique_requst not found"},
		{"principles:\n  - {name: a, critique_request: [x], revision_request: y}\n", "line 2: cannot unmarshal"},
		{"principles:\n  - {name: a, critique_request: x, revision_request: y}\nexamples:\n  - {prompt: p, response: r, critique: c}\n", "examples[0].revision: empty"},
		{"principles:\n  - {name: a, critique_request: x, revision_request: y}\n---\nprinciples: []\n", "more than one YAML document"},
		{"{", "c.yaml: "},
	} {
		_, err := Parse([]byte(tc.src), "c.yaml")
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "c.yaml: ") {
			t.Errorf("%q: got %v, want %q", tc.src, err, tc.want)
		}
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing.yaml")); err == nil || !strings.Contains(err.Error(), "missing.yaml") {
		t.Errorf("missing file: %v", err)
	}
}

// FuzzParse: Parse never panics, and what it accepts is valid.
func FuzzParse(f *testing.F) {
	f.Add(DefaultYAML())
	f.Add([]byte(`{"principles": [{"name": "a", "critique_request": "c", "revision_request": "r"}]}`))
	f.Add([]byte("principles:\n  - name: a\n    critique_request: [x]\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := Parse(b, "fuzz")
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz: ") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		if err := c.Validate(); err != nil || len(c.Principles) == 0 {
			t.Fatalf("accepted an invalid constitution: %v", err)
		}
	})
}
