package generate

import (
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/align-go/align/engine/enginetest"
	"github.com/align-go/align/grammar"
	"github.com/align-go/align/model"
	"github.com/align-go/align/tokenizer"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

// A five-token vocabulary under the grammar "a" ("b" | "bb")* "c": token 4
// is EOS.
func tinyConstraint(t *testing.T) *grammar.Matcher {
	t.Helper()
	b := grammar.NewBuilder()
	b.Define("r", grammar.Seq(grammar.Lit("a"), grammar.Star(grammar.Lit("b")), grammar.Lit("c")))
	g, err := b.Build("r")
	if err != nil {
		t.Fatal(err)
	}
	toks := [][]byte{[]byte("a"), []byte("b"), []byte("bc"), []byte("c"), nil}
	return grammar.NewMatcher(g, grammar.NewVocab(toks, []int32{4}, 5))
}

// TestConstrainedFrequencies: the constrained distribution is the model's
// renormalised over the allowed tokens, worked out by hand, with top-k
// applied after the mask.
func TestConstrainedFrequencies(t *testing.T) {
	// Token probabilities 0.4 a, 0.1 b, 0.2 bc, 0.1 c, 0.2 EOS.
	lg := logits64([]float64{0.4, 0.1, 0.2, 0.1, 0.2})
	for _, tc := range []struct {
		name   string
		s      Sampling
		prefix []int32
		want   []float64
	}{
		// At the start only "a" is allowed.
		{"start", Sampling{Temperature: 1}, nil, []float64{1, 0, 0, 0, 0}},
		// After "a": b, bc, c (0.1, 0.2, 0.1 renormalised).
		{"after a", Sampling{Temperature: 1}, []int32{0}, []float64{0, 0.25, 0.5, 0.25, 0}},
		// top-k 1 counts only the allowed tokens: bc.
		{"after a top-k 1", Sampling{Temperature: 1, TopK: 1}, []int32{0}, []float64{0, 0, 1, 0, 0}},
		// Whole sentence "abc": only EOS.
		{"complete", Sampling{Temperature: 1}, []int32{0, 2}, []float64{0, 0, 0, 0, 1}},
		{"greedy after a", Sampling{}, []int32{0}, []float64{0, 0, 1, 0, 0}},
		// Greedy whose unconstrained argmax (a) is not allowed.
		{"greedy masked", Sampling{LogitBias: map[int32]float32{0: 5}}, []int32{0}, []float64{0, 0, 1, 0, 0}},
	} {
		tc.s.Constraint = tinyConstraint(t)
		counts := make([]float64, 5)
		const n = 20000
		rng := NewRand(1, 2)
		for range n {
			s := &Sampler{Sampling: tc.s}
			s.gs = tc.s.Constraint.Start()
			for _, p := range tc.prefix {
				if err := s.gs.Accept(p); err != nil {
					t.Fatal(err)
				}
			}
			counts[s.Sample(lg, rng)]++
		}
		for i := range counts {
			if got := counts[i] / n; math.Abs(got-tc.want[i]) > 0.015 {
				t.Errorf("%s: token %d frequency %.3f, want %.3f", tc.name, i, got, tc.want[i])
			}
		}
	}
}

func TestSamplerFinished(t *testing.T) {
	s := &Sampler{Sampling: Sampling{Constraint: tinyConstraint(t)}}
	lg := []float32{0, 0, 5, 0, 0} // bc is the best token once allowed
	if tok := s.Sample(lg, nil); tok != 0 || s.Finished() {
		t.Fatalf("first token %d finished %v, want 0 false", tok, s.Finished())
	}
	if tok := s.Sample(lg, nil); tok != 2 || !s.Finished() {
		t.Fatalf("second token %d finished %v, want 2 (bc) true", tok, s.Finished())
	}
	if (&Sampler{}).Finished() {
		t.Error("an unconstrained sampler is finished")
	}
}

// TestGenerateSchema: a tiny random Qwen3 model sampling at temperature 1
// under a JSON Schema writes documents that parse and validate with an
// independent validator, and stops at the closing brace.
func TestGenerateSchema(t *testing.T) {
	dir := enginetest.ModelDir(t, 3)
	m, err := model.LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := tokenizer.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	schema := `{"type":"object","properties":{"name":{"type":"string","maxLength":8},"n":{"type":"integer"},
		"tags":{"type":"array","items":{"enum":["x","y"]},"maxItems":3}},"required":["name","n","tags"],"additionalProperties":false}`
	g, err := grammar.Schema([]byte(schema))
	if err != nil {
		t.Fatal(err)
	}
	eos := []int32{151645}
	c := grammar.NewMatcher(g, grammar.TokenizerVocab(tok, eos, m.Cfg.Vocab))
	doc, err := jsonschema.UnmarshalJSON(strings.NewReader(schema))
	if err != nil {
		t.Fatal(err)
	}
	jc := jsonschema.NewCompiler()
	jc.AddResource("s.json", doc)
	val, err := jc.Compile("s.json")
	if err != nil {
		t.Fatal(err)
	}
	prompt := tok.Encode("Write JSON:")
	p32 := make([]int32, len(prompt))
	for i, id := range prompt {
		p32[i] = int32(id)
	}
	out, err := Generate(m, [][]int32{p32}, Options{Sampling: Sampling{Temperature: 1, Constraint: c}, MaxNewTokens: 200,
		N: 6, Seed: 1, EOS: eos, Decode: func(ids []int32) string {
			x := make([]int, len(ids))
			for i, id := range ids {
				x[i] = int(id)
			}
			return tok.Decode(x)
		}})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range out {
		if o.FinishReason != FinishStop {
			t.Errorf("sample %d: finish %s after %q", o.Sample, o.FinishReason, o.Text)
			continue
		}
		var v any
		if err := json.Unmarshal([]byte(o.Text), &v); err != nil {
			t.Errorf("sample %d: %q does not parse: %v", o.Sample, o.Text, err)
			continue
		}
		inst, _ := jsonschema.UnmarshalJSON(strings.NewReader(o.Text))
		if err := val.Validate(inst); err != nil {
			t.Errorf("sample %d: %q does not validate: %v", o.Sample, o.Text, err)
		}
	}
	t.Logf("%q", out[0].Text)
}

// BenchmarkConstrainedSample is one draw at temperature 1 from a
// 151,936-token row under a warm JSON grammar (mask cached: the cost is the
// logits copy, the masking and the draw), beside the same draw unconstrained.
func BenchmarkConstrainedSample(b *testing.B) {
	dir := enginetest.ModelDir(b, 3)
	tok, err := tokenizer.Load(dir)
	if err != nil {
		b.Fatal(err)
	}
	const V = 151936
	c := grammar.NewMatcher(grammar.JSONObject(), grammar.TokenizerVocab(tok, []int32{151645}, V))
	rng := NewRand(1, 1)
	lg := make([]float32, V)
	for i := range lg {
		lg[i] = float32(rng.NormFloat64())
	}
	prefix := tok.Encode(`{"a": "`)
	warm := c.Start()
	for _, id := range prefix {
		warm.Accept(int32(id))
	}
	warm.Allowed()
	for _, constrained := range []bool{false, true} {
		name := "plain"
		if constrained {
			name = "json-string"
		}
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				s := &Sampler{Sampling: Sampling{Temperature: 1}}
				if constrained {
					s.Constraint = c
					s.gs = c.Start()
					for _, id := range prefix {
						s.gs.Accept(int32(id))
					}
				}
				b.StartTimer()
				s.Sample(lg, rng)
			}
		})
	}
}
