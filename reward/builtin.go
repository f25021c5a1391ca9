package reward

import (
	"context"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

// ExactMatch scores 1 when the completion equals the row's Field after
// Normalize on both sides, else 0.
type ExactMatch struct{ Field string }

// Name is the reward's metric name.
func (ExactMatch) Name() string { return "exact-match" }

// Score compares each completion with its row's field. A row without the
// field is an error (a typo in the field name would otherwise train on 0s).
func (e ExactMatch) Score(_ context.Context, samples []Sample) ([]float64, error) {
	out := make([]float64, len(samples))
	for i, s := range samples {
		v, ok := s.Fields[e.Field]
		if !ok {
			return nil, fmt.Errorf("exact-match: sample %d has no field %q", i, e.Field)
		}
		var want string
		switch v := v.(type) {
		case string:
			want = v
		case float64:
			want = strconv.FormatFloat(v, 'f', -1, 64)
		case nil:
			return nil, fmt.Errorf("exact-match: sample %d: field %q is null", i, e.Field)
		default:
			want = fmt.Sprint(v)
		}
		if Normalize(s.Completion) == Normalize(want) {
			out[i] = 1
		}
	}
	return out, nil
}

// Normalize is what exact-match compares: runs of white space become one
// space, the ends are trimmed, letters are lower-cased, and one trailing
// "." is dropped ("The answer is 4." and "the answer  is 4" match; "4.0" and
// "4" do not).
func Normalize(s string) string {
	s = strings.ToLower(strings.Join(strings.Fields(s), " "))
	return strings.TrimSpace(strings.TrimSuffix(s, "."))
}

// Regex scores 1 when the completion matches Re, else 0.
type Regex struct{ Re *regexp.Regexp }

// Name is the reward's metric name.
func (Regex) Name() string { return "regex" }

// Score tests each completion.
func (r Regex) Score(_ context.Context, samples []Sample) ([]float64, error) {
	out := make([]float64, len(samples))
	for i, s := range samples {
		if r.Re.MatchString(s.Completion) {
			out[i] = 1
		}
	}
	return out, nil
}

// Length rewards completions near Target tokens: −|n−Target|/Target, so 0
// at the target and −1 for an empty completion. n counts CompletionIDs, or
// the completion's characters when a sample has no ids (built by hand).
type Length struct{ Target int }

// Name is the reward's metric name.
func (Length) Name() string { return "length" }

// Score measures each completion.
func (l Length) Score(_ context.Context, samples []Sample) ([]float64, error) {
	out := make([]float64, len(samples))
	for i, s := range samples {
		n := len(s.CompletionIDs)
		if s.CompletionIDs == nil {
			n = utf8.RuneCountInString(s.Completion)
		}
		out[i] = -math.Abs(float64(n-l.Target)) / float64(l.Target)
	}
	return out, nil
}
