package reward

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/align-go/align/endpoint"
	"github.com/align-go/align/model"
)

// Options configure the rewards Parse builds. The zero value works.
type Options struct {
	// HTTP sends http: rewards' requests, retrying as it says (nil:
	// endpoint.FromEnv, the ALIGN_HTTP_* settings over the shared defaults).
	// No API key is sent unless this Client carries one.
	HTTP *endpoint.Client
	// RMBatchSize is the number of sequences per rm: forward pass (0: 8).
	RMBatchSize int
	// RMLoad is how an rm: reward model stores its frozen weights (the zero
	// value: f32; WeightDType "auto" keeps a bf16 checkpoint's bf16, as
	// align score and PPO's reward model do).
	RMLoad model.LoadOptions
}

// Parse builds a reward from its spec:
//
//	exact-match[:field=NAME]  1 when the normalised completion equals the
//	                          row's field NAME (default "answer"), else 0
//	regex:PATTERN             1 when the completion matches PATTERN (RE2,
//	                          unanchored: use ^ and $ to anchor), else 0
//	length:TARGET             −|n−TARGET|/TARGET, n the completion's tokens
//	rm:DIR                    a reward model written by align rm
//	cmd:PROGRAM [ARGS...]     a long-running program, one JSON line each way
//	http:URL                  POST a JSON batch to URL (http://… or https://…)
//
// The syntax is endpoint.Parse's: a bare http:// or https:// URL is taken as
// http:URL. Close the returned Func (io.Closer) when done: cmd: stops its
// program then.
func Parse(spec string, opts Options) (Func, error) {
	s, err := endpoint.Parse(spec)
	if err != nil {
		return nil, fmt.Errorf("reward %w", err)
	}
	spec, kind, arg, hasArg := s.Raw, s.Kind, s.Arg, s.HasArg
	if !hasArg {
		kind, arg = arg, "" // a kind that takes no argument
	}
	switch kind {
	case "exact-match":
		field := "answer"
		if hasArg {
			k, v, ok := strings.Cut(arg, "=")
			if !ok || k != "field" || v == "" {
				return nil, fmt.Errorf("reward %q: want exact-match or exact-match:field=NAME", spec)
			}
			field = v
		}
		return ExactMatch{Field: field}, nil
	case "regex":
		if arg == "" {
			return nil, fmt.Errorf("reward %q: regex needs a pattern (regex:PATTERN)", spec)
		}
		re, err := regexp.Compile(arg)
		if err != nil {
			return nil, fmt.Errorf("reward %q: %w", spec, err)
		}
		return Regex{Re: re}, nil
	case "length":
		n, err := strconv.Atoi(arg)
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("reward %q: length needs a positive target in tokens (length:TARGET)", spec)
		}
		return Length{Target: n}, nil
	case "rm":
		if arg == "" {
			return nil, fmt.Errorf("reward %q: rm needs a directory (rm:DIR)", spec)
		}
		return LoadRMOpts(arg, opts.RMBatchSize, opts.RMLoad)
	case "cmd":
		argv := strings.Fields(arg)
		if len(argv) == 0 {
			return nil, fmt.Errorf("reward %q: cmd needs a program (cmd:PROGRAM [ARGS])", spec)
		}
		return &Command{Argv: argv}, nil
	case endpoint.KindHTTP:
		if s.Model != "" {
			return nil, fmt.Errorf("reward %q: an http reward takes a URL, not #MODEL", spec)
		}
		c := opts.HTTP
		if c == nil {
			env, err := endpoint.FromEnv()
			if err != nil {
				return nil, fmt.Errorf("reward %q: %w", spec, err)
			}
			c = &env
		}
		return &HTTP{URL: s.URL, Client: c}, nil
	}
	return nil, fmt.Errorf("reward %q: unknown kind %q (exact-match, regex:, length:, rm:, cmd:, http:)", spec, kind)
}
