package reward

import (
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Options configure the rewards Parse builds. The zero value works.
type Options struct {
	// HTTPClient sends http: rewards' requests (nil: a client with Timeout).
	HTTPClient *http.Client
	// Timeout bounds one http: request (0: 60s).
	Timeout time.Duration
	// Retries is how often an http: request is retried after a 429, a 5xx
	// or a transport error, with exponential backoff from Backoff (0: 3;
	// negative: none).
	Retries int
	Backoff time.Duration // 0: 500ms
	// RMBatchSize is the number of sequences per rm: forward pass (0: 8).
	RMBatchSize int
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
// A bare http:// or https:// URL is taken as http:URL. Close the returned
// Func (io.Closer) when done: cmd: stops its program then.
func Parse(spec string, opts Options) (Func, error) {
	spec = strings.TrimSpace(spec)
	if strings.HasPrefix(spec, "http://") || strings.HasPrefix(spec, "https://") {
		spec = "http:" + spec
	}
	kind, arg, hasArg := strings.Cut(spec, ":")
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
		return LoadRM(arg, opts.RMBatchSize)
	case "cmd":
		argv := strings.Fields(arg)
		if len(argv) == 0 {
			return nil, fmt.Errorf("reward %q: cmd needs a program (cmd:PROGRAM [ARGS])", spec)
		}
		return &Command{Argv: argv}, nil
	case "http":
		if !strings.HasPrefix(arg, "http://") && !strings.HasPrefix(arg, "https://") {
			return nil, fmt.Errorf("reward %q: http needs an http:// or https:// URL", spec)
		}
		return newHTTP(arg, opts), nil
	}
	return nil, fmt.Errorf("reward %q: unknown kind %q (exact-match, regex:, length:, rm:, cmd:, http:)", spec, kind)
}
