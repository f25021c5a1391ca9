package judge

import (
	"fmt"
	"os"
	"regexp"
	"strings"

	"github.com/align-go/align/endpoint"
	"github.com/align-go/align/engine"
	"github.com/align-go/align/llm"
)

// Parse builds a judge from a spec:
//
//	rule:refusal        the built-in refusal detector
//	rule:regex:PATTERN  passes when the response matches PATTERN (Go syntax;
//	                    rule:regex=PATTERN, earlier releases' spelling, too)
//
//	http:URL[#MODEL]    an LLM judge behind an OpenAI-compatible endpoint
//	                    (llm.Remote; ALIGN_JUDGE_CACHE names its cache dir)
//	local:DIR           a local model comparing the options' log-probabilities
//
// The syntax is endpoint.Parse's, shared with llm.Open and reward.Parse.
func Parse(spec string) (Judge, error) { return ParseWith(spec, engine.Options{}) }

// ParseWith is Parse with the options a local:DIR judge's engine loads its
// model with (engine.Options.Load: a frozen judge kept in bf16 or 8/4-bit
// instead of f32).
func ParseWith(spec string, eo engine.Options) (Judge, error) {
	s, err := endpoint.Parse(spec)
	if err != nil {
		return nil, fmt.Errorf("judge %w", err)
	}
	arg := s.Arg
	switch s.Kind {
	case "rule":
		if pat, ok := strings.CutPrefix(arg, "regex="); ok {
			arg = "regex:" + pat
		}
		name, rest, _ := strings.Cut(arg, ":")
		switch name {
		case "refusal":
			if rest != "" {
				return nil, fmt.Errorf("judge %q: rule:refusal takes no argument", spec)
			}
			return Rule{Name: "refusal", Match: IsRefusal}, nil
		case "regex":
			if rest == "" {
				return nil, fmt.Errorf("judge %q: rule:regex needs a pattern (rule:regex:PATTERN)", spec)
			}
			re, err := regexp.Compile(rest)
			if err != nil {
				return nil, fmt.Errorf("judge %q: %v", spec, err)
			}
			return Rule{Name: "regex", Match: re.MatchString}, nil
		}
		return nil, fmt.Errorf("judge %q: unknown rule %q (want refusal or regex:PATTERN)", spec, name)
	case endpoint.KindHTTP:
		r, err := llm.NewRemote(s.URL, s.Model)
		if err != nil {
			return nil, fmt.Errorf("judge %q: %w", spec, err)
		}
		r.CacheDir = os.Getenv("ALIGN_JUDGE_CACHE")
		return LLM{C: r}, nil
	case "local":
		if arg == "" {
			return nil, fmt.Errorf("judge %q: local:DIR needs a model directory", spec)
		}
		l, err := llm.NewLocal(arg, eo)
		if err != nil {
			return nil, fmt.Errorf("judge %q: %w", spec, err)
		}
		// the whole vocabulary: the options' exact log-probabilities
		return LLM{C: l, TopLogprobs: l.E.Model.Cfg.Vocab}, nil
	}
	return nil, fmt.Errorf("judge %q: want http:URL, local:DIR, rule:refusal or rule:regex:PATTERN", spec)
}
