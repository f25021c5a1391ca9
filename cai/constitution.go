// Package cai implements Constitutional AI (Bai et al. 2022): a constitution
// of principles, the critique → revision loop that turns a policy's answers
// into supervised and preference data, and RLAIF labelling, where a judge
// picks the better of two responses under a principle. It talks to models
// only through llm.Client and judge.Judge, so the feedback model can be a
// local directory or any OpenAI-compatible endpoint. How a local model's
// frozen weights are stored (bf16/f16, int8, NF4/FP4 instead of f32) is
// the opener's engine.Options.Load: llm.Open for the policy, judge.ParseWith
// for a local: judge, as align cai's load flags pass it.
package cai

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Principle is one rule of a constitution.
type Principle struct {
	Name string `yaml:"name" json:"name"`
	// CritiqueRequest asks the model to find where its answer breaks the
	// principle; RevisionRequest asks it to rewrite the answer accordingly.
	CritiqueRequest string `yaml:"critique_request" json:"critique_request"`
	RevisionRequest string `yaml:"revision_request" json:"revision_request"`
	// Comparison is the question a judge answers when labelling pairs under
	// this principle ("Which response is less harmful?"). Optional: without
	// it the critique request is used as the criterion.
	Comparison string `yaml:"comparison,omitempty" json:"comparison,omitempty"`
}

// Criterion is what a judge is asked under p.
func (p Principle) Criterion() string {
	if p.Comparison != "" {
		return p.Comparison
	}
	return p.CritiqueRequest
}

// Example is one worked critique and revision, shown to the model before the
// real prompt so that a small or base-like model sees what is wanted.
type Example struct {
	Prompt   string `yaml:"prompt" json:"prompt"`
	Response string `yaml:"response" json:"response"`
	// CritiqueRequest and RevisionRequest default to the first principle's.
	CritiqueRequest string `yaml:"critique_request,omitempty" json:"critique_request,omitempty"`
	Critique        string `yaml:"critique" json:"critique"`
	RevisionRequest string `yaml:"revision_request,omitempty" json:"revision_request,omitempty"`
	Revision        string `yaml:"revision" json:"revision"`
}

// Constitution is a set of principles and optional few-shot examples.
type Constitution struct {
	Principles []Principle `yaml:"principles" json:"principles"`
	Examples   []Example   `yaml:"examples,omitempty" json:"examples,omitempty"`
}

//go:embed default.yaml
var defaultYAML []byte

// Default is the constitution shipped with Align: harmlessness and honesty,
// written for this project.
func Default() *Constitution {
	c, err := Parse(defaultYAML, "default constitution")
	if err != nil {
		panic(err) // the embedded file is tested
	}
	return c
}

// DefaultYAML is the embedded default constitution's source, for users who
// want to start their own from it.
func DefaultYAML() []byte { return bytes.Clone(defaultYAML) }

// Load reads a constitution from a YAML or JSON file; "default" (or "")
// names the embedded one.
func Load(path string) (*Constitution, error) {
	if path == "" || path == "default" {
		return Default(), nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(b, path)
}

// Parse reads a constitution from YAML or JSON (JSON is YAML). name is used
// in errors, which name the field: "c.yaml: principles[1].revision_request:
// empty". Unknown fields are errors, so a misspelt key is not silently
// ignored.
func Parse(b []byte, name string) (*Constitution, error) {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	var c Constitution
	if err := dec.Decode(&c); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s: empty file", name)
		}
		return nil, fmt.Errorf("%s: %s", name, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%s: more than one YAML document", name)
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return &c, nil
}

// Validate checks that every principle has a name and both requests, that
// names are unique, and that examples are complete.
func (c *Constitution) Validate() error {
	if len(c.Principles) == 0 {
		return fmt.Errorf("principles: none given")
	}
	seen := map[string]int{}
	for i, p := range c.Principles {
		f := fmt.Sprintf("principles[%d]", i)
		for _, kv := range [][2]string{{"name", p.Name}, {"critique_request", p.CritiqueRequest}, {"revision_request", p.RevisionRequest}} {
			if strings.TrimSpace(kv[1]) == "" {
				return fmt.Errorf("%s.%s: empty", f, kv[0])
			}
		}
		if j, ok := seen[p.Name]; ok {
			return fmt.Errorf("%s.name: %q already names principles[%d]", f, p.Name, j)
		}
		seen[p.Name] = i
	}
	for i, e := range c.Examples {
		f := fmt.Sprintf("examples[%d]", i)
		for _, kv := range [][2]string{{"prompt", e.Prompt}, {"response", e.Response}, {"critique", e.Critique}, {"revision", e.Revision}} {
			if strings.TrimSpace(kv[1]) == "" {
				return fmt.Errorf("%s.%s: empty", f, kv[0])
			}
		}
	}
	return nil
}

// Principle returns the principle called name.
func (c *Constitution) Principle(name string) (Principle, bool) {
	for _, p := range c.Principles {
		if p.Name == name {
			return p, true
		}
	}
	return Principle{}, false
}
