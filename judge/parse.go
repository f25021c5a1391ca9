package judge

import (
	"fmt"
	"regexp"
	"strings"
)

// Parse builds a judge from a spec:
//
//	rule:refusal        the built-in refusal detector
//	rule:regex:PATTERN  passes when the response matches PATTERN (Go syntax)
//
// http:URL (an OpenAI-compatible endpoint) and local:DIR (a local model
// comparing option log-probabilities) are named here so callers take one
// flag; they are not built yet and return an error saying so.
func Parse(spec string) (Judge, error) {
	kind, arg, _ := strings.Cut(spec, ":")
	switch kind {
	case "rule":
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
	case "http", "https", "local":
		return nil, fmt.Errorf("judge %q: %s: judges are not built yet (use rule:refusal or rule:regex:PATTERN)", spec, kind)
	}
	return nil, fmt.Errorf("judge %q: want http:URL, local:DIR, rule:refusal or rule:regex:PATTERN", spec)
}
