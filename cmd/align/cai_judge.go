package main

// Stopgap until judge.Parse lands: the two judge kinds cai label needs to run
// offline (a local model comparing option log-probabilities, and a regex
// rule), and the policy spec of cai revise. Replace openJudge's body with
// judge.Parse when it exists.

import (
	"context"
	"fmt"
	"math"
	"regexp"
	"strings"

	"github.com/align-go/align/engine"
	"github.com/align-go/align/judge"
	"github.com/align-go/align/llm"
)

const judgeSpecHelp = "local:DIR (a local model's A/B option probabilities) or rule:regex=PATTERN (prefers the response matching PATTERN)"

// openClient opens a --policy spec: a model directory, or http:URL.
func openClient(spec string, batch int) (llm.Client, func(), error) {
	if strings.HasPrefix(spec, "http:") || strings.HasPrefix(spec, "https:") {
		return nil, nil, fmt.Errorf("--policy %s: OpenAI-compatible endpoints are not wired in yet; give a model directory", spec)
	}
	l, err := llm.NewLocal(spec, engine.Options{MaxBatch: batch})
	if err != nil {
		return nil, nil, fmt.Errorf("--policy: %w", err)
	}
	return l, l.Close, nil
}

func openJudge(spec string, batch int) (judge.Judge, func(), error) {
	kind, arg, _ := strings.Cut(spec, ":")
	switch kind {
	case "local":
		c, closeFn, err := openClient(arg, batch)
		if err != nil {
			return nil, nil, fmt.Errorf("--judge %s: %w", spec, err)
		}
		// A local model can rank its whole vocabulary, so the options'
		// probabilities are always found, however unlikely.
		return optionJudge{c, c.(*llm.Local).E.Model.Cfg.Vocab}, closeFn, nil
	case "rule":
		pat, ok := strings.CutPrefix(arg, "regex=")
		if !ok {
			return nil, nil, fmt.Errorf("--judge %s: unknown rule (want rule:regex=PATTERN)", spec)
		}
		re, err := regexp.Compile(pat)
		if err != nil {
			return nil, nil, fmt.Errorf("--judge %s: %w", spec, err)
		}
		return regexJudge{re}, func() {}, nil
	}
	return nil, nil, fmt.Errorf("--judge %q: want %s", spec, judgeSpecHelp)
}

// regexJudge prefers the response that matches; both or neither is a tie.
type regexJudge struct{ re *regexp.Regexp }

func (r regexJudge) Compare(_ context.Context, cs []judge.Comparison) ([]judge.Preference, error) {
	out := make([]judge.Preference, len(cs))
	for i, c := range cs {
		a, b := r.re.MatchString(c.A), r.re.MatchString(c.B)
		out[i].PA = 0.5
		if a != b {
			out[i].PA = map[bool]float64{true: 1, false: 0}[a]
		}
	}
	return out, nil
}

func (r regexJudge) Grade(_ context.Context, gs []judge.Grading) ([]judge.Grade, error) {
	out := make([]judge.Grade, len(gs))
	for i, g := range gs {
		if r.re.MatchString(g.Response) {
			out[i].P = 1
		}
	}
	return out, nil
}

// optionJudge asks a chat model to answer "A" or "B" and reads the two
// options' probabilities from the first token's top log-probabilities.
type optionJudge struct {
	c   llm.Client
	top int // candidates asked for
}

func (o optionJudge) Compare(ctx context.Context, cs []judge.Comparison) ([]judge.Preference, error) {
	reqs := make([]llm.Request, len(cs))
	for i, c := range cs {
		q := fmt.Sprintf("%s\n\nConversation:\n%s\n\nResponse A:\n%s\n\nResponse B:\n%s\n\nAnswer with the single letter A or B.",
			c.Criterion, c.Prompt, c.A, c.B)
		reqs[i] = llm.Request{Messages: []llm.Message{{Role: "user", Content: q}}, MaxTokens: 1, TopLogprobs: o.top}
	}
	resp, err := o.c.Chat(ctx, reqs)
	if err != nil {
		return nil, err
	}
	out := make([]judge.Preference, len(cs))
	for i, r := range resp {
		out[i] = judge.Preference{PA: optionProb(r, "A", "B"), Raw: r.Text}
	}
	return out, nil
}

func (o optionJudge) Grade(ctx context.Context, gs []judge.Grading) ([]judge.Grade, error) {
	return nil, fmt.Errorf("local judge: grading is not supported by this stopgap")
}

// optionProb is P(a) / (P(a) + P(b)) over the first position's candidates
// (tokens compared without surrounding space); with neither among them, the
// text decides, and a text that is neither is a tie.
func optionProb(r llm.Response, a, b string) float64 {
	pa, pb := 0.0, 0.0
	if len(r.TopLogprobs) > 0 {
		for _, t := range r.TopLogprobs[0] {
			switch strings.TrimSpace(t.Token) {
			case a:
				pa += math.Exp(t.Logprob)
			case b:
				pb += math.Exp(t.Logprob)
			}
		}
	}
	if pa+pb > 0 {
		return pa / (pa + pb)
	}
	switch strings.TrimSpace(r.Text) {
	case a:
		return 1
	case b:
		return 0
	}
	return 0.5
}
