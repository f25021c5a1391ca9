// Package endpoint is how Align names and reaches the things it asks for
// text, judgments or rewards: Parse reads the one spec syntax every flag and
// library entry point takes (http:URL[#MODEL], local:DIR, rule:NAME, any
// KIND:ARG), and Client is the one retrying HTTP client every remote call
// goes through, with one set of defaults and the ALIGN_HTTP_* settings.
package endpoint

import (
	"fmt"
	"strings"
)

// KindHTTP is the Kind of every endpoint spec, however it was spelled.
const KindHTTP = "http"

// Spec is a parsed spec.
//
//	http:URL[#MODEL]        an HTTP endpoint: Kind "http", URL and Model set
//	http://URL, https://URL the same, written without the prefix
//	KIND:ARG                Kind and Arg, e.g. local:DIR, rule:refusal, rm:DIR
//	NAME                    no colon: Kind "", Arg NAME (a bare directory,
//	                        or a kind that takes no argument)
//
// What each kind means is up to the caller (llm.Open, judge.Parse,
// reward.Parse); the syntax is the same everywhere.
type Spec struct {
	Raw    string // the spec as given, without surrounding space
	Kind   string
	Arg    string // everything after the first colon
	HasArg bool   // the spec had a colon (so "KIND:" is told from "KIND")
	// URL and Model are set for Kind "http": URL is the base address
	// (http://… or https://…), Model the part after '#', if any.
	URL, Model string
}

// Parse splits a spec. Its only error is an http: spec whose URL is not
// http://… or https://….
func Parse(spec string) (Spec, error) {
	spec = strings.TrimSpace(spec)
	s := Spec{Raw: spec}
	var hasArg bool
	s.Kind, s.Arg, hasArg = strings.Cut(spec, ":")
	if !hasArg {
		s.Kind, s.Arg = "", spec
		return s, nil
	}
	s.HasArg = true
	if s.Kind != "http" && s.Kind != "https" {
		return s, nil
	}
	url := spec // http://URL or https://URL
	if !strings.HasPrefix(s.Arg, "//") {
		url = s.Arg // http:URL
	}
	s.Kind = KindHTTP
	s.URL, s.Model, _ = strings.Cut(url, "#")
	if !strings.HasPrefix(s.URL, "http://") && !strings.HasPrefix(s.URL, "https://") {
		return Spec{}, fmt.Errorf("%q: want http:URL[#MODEL], e.g. http:http://127.0.0.1:8080/v1#tiny", spec)
	}
	return s, nil
}
