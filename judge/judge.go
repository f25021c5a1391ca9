// Package judge decides which of two responses is better, or whether one
// response meets a criterion, with an AI judge (an OpenAI-compatible endpoint
// or a local model comparing option log-probabilities) or a rule. Pairwise
// judgments are asked in both orders so position bias cancels.
package judge

import "context"

// Comparison asks which of two responses to Prompt better follows Criterion
// (a principle of a constitution, or "which is more helpful").
type Comparison struct {
	Prompt    string
	A, B      string
	Criterion string
}

// Preference is a judge's answer to one Comparison in the order asked.
type Preference struct {
	// PA is the judge's probability that A is better, in [0,1]: 1 or 0 for a
	// hard choice, 0.5 for a tie, the option probabilities when the judge
	// exposes them.
	PA  float64
	Raw string // the judge's text, for audits ("" for rules)
}

// Grading asks whether Response to Prompt meets Criterion (e.g. "the
// response is harmless or refuses").
type Grading struct {
	Prompt, Response string
	Criterion        string
}

// Grade is a judge's answer to one Grading.
type Grade struct {
	P   float64 // probability the response passes, in [0,1]
	Raw string
}

// Judge is one judging backend. Both methods return one answer per request,
// in order.
type Judge interface {
	Compare(ctx context.Context, reqs []Comparison) ([]Preference, error)
	Grade(ctx context.Context, reqs []Grading) ([]Grade, error)
}
