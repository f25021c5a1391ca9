// Package quickstart generates the small task `align quickstart` runs the
// whole pipeline on, so the demo needs no downloads: a corpus for pretraining,
// demonstrations for SFT, and preference pairs for the reward model and DPO.
//
// The assistant answers questions about small sums. A helpful answer states
// the sum in a full sentence ("Three plus four is seven."); an unhelpful one is
// curt and rude ("seven. figure it out yourself."). SFT demonstrations mix both
// styles, as scraped data does, so the SFT model still produces rude answers.
// Preference pairs reject rude answers, wrong sums and rambling, which the
// reward model learns to score low and DPO learns to avoid.
package quickstart

import (
	"fmt"
	"math/rand/v2"
	"strings"
)

var numbers = []string{"zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
	"ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen"}

var nouns = []string{"cat", "dog", "ship", "whale", "bird", "fish", "tree", "star", "boat", "sailor", "captain", "harbor"}
var adjs = []string{"red", "blue", "old", "small", "quiet", "bright", "grey", "tall", "swift", "calm"}
var verbs = []string{"sees", "follows", "finds", "watches", "meets", "leaves", "greets", "passes"}

var rude = []string{"figure it out yourself.", "obviously.", "why ask me?", "whatever.", "not my problem."}

// Pair is one prompt with a preferred and a dispreferred answer.
type Pair struct{ Prompt, Chosen, Rejected string }

// Task is everything one quickstart run trains and evaluates on.
type Task struct {
	Corpus      string   // pretraining text
	SFT         []Pair   // demonstrations: Prompt + Chosen (Rejected unused)
	Prefs       []Pair   // preference pairs for the reward model and DPO
	EvalPrefs   []Pair   // held-out pairs: reward-model accuracy
	EvalPrompts []string // held-out prompts: samples scored by the reward model
}

func question(a, b int) string { return fmt.Sprintf("What is %s plus %s?", numbers[a], numbers[b]) }

func helpful(a, b int) string {
	return fmt.Sprintf("%s plus %s is %s.", capitalize(numbers[a]), numbers[b], numbers[a+b])
}

func unhelpful(r *rand.Rand, a, b int) string {
	return numbers[a+b] + ". " + rude[r.IntN(len(rude))]
}

// rejected is a dispreferred answer: rude half the time, otherwise a wrong sum
// in the polite form, an off-topic sentence or rambling, so the reward model learns more than one
// way to be bad.
func rejected(r *rand.Rand, a, b int) string {
	k := r.IntN(8)
	switch {
	case k < 4:
		return rejectedKind(r, 0, a, b)
	case k < 6:
		return rejectedKind(r, 1, a, b)
	default:
		return rejectedKind(r, k-4, a, b)
	}
}

// rejectedKinds is how many kinds of bad answer rejectedKind makes.
const rejectedKinds = 4

// rejectedKind makes a bad answer of one kind: 0 rude, 1 wrong sum, 2 off
// topic, 3 rambling.
func rejectedKind(r *rand.Rand, kind, a, b int) string {
	switch kind {
	case 0:
		return unhelpful(r, a, b)
	case 1:
		wrong := (a + b + 1 + r.IntN(len(numbers)-2)) % len(numbers)
		return fmt.Sprintf("%s plus %s is %s.", capitalize(numbers[a]), numbers[b], numbers[wrong])
	case 2:
		return sentence(r)
	default:
		var w []string
		for i := 0; i < 6+r.IntN(6); i++ {
			w = append(w, []string{numbers[r.IntN(len(numbers))], "plus", "is", nouns[r.IntN(len(nouns))]}[r.IntN(4)])
		}
		return strings.Join(w, " ")
	}
}

func sentence(r *rand.Rand) string {
	return fmt.Sprintf("The %s %s %s the %s %s.", adjs[r.IntN(len(adjs))], nouns[r.IntN(len(nouns))],
		verbs[r.IntN(len(verbs))], adjs[r.IntN(len(adjs))], nouns[r.IntN(len(nouns))])
}

func capitalize(s string) string { return strings.ToUpper(s[:1]) + s[1:] }

// Generate builds the task. Sizes scale with corpusSentences and pairs; the same
// seed gives the same task. Sums held out for evaluation never appear in SFT or
// preference data.
func Generate(seed uint64, corpusSentences, pairs int) Task {
	r := rand.New(rand.NewPCG(seed, 0x9a5c))
	type sum struct{ a, b int }
	var all []sum
	for a := 0; a <= 9; a++ {
		for b := 0; b <= 9; b++ {
			all = append(all, sum{a, b})
		}
	}
	r.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
	held, seen := all[:16], all[16:]

	var t Task
	var c strings.Builder
	for i := 0; i < corpusSentences; i++ {
		switch r.IntN(3) {
		case 0: // arithmetic facts, in every sum (the base model may know them)
			s := all[r.IntN(len(all))]
			fmt.Fprintf(&c, "%s\n", helpful(s.a, s.b))
		case 1:
			fmt.Fprintf(&c, "%s\n", sentence(r))
		default:
			s := all[r.IntN(len(all))]
			fmt.Fprintf(&c, "%s %s\n", question(s.a, s.b), helpful(s.a, s.b))
		}
	}
	t.Corpus = c.String()
	for i := 0; i < pairs; i++ {
		s := seen[r.IntN(len(seen))]
		p := Pair{Prompt: question(s.a, s.b), Chosen: helpful(s.a, s.b), Rejected: rejected(r, s.a, s.b)}
		t.Prefs = append(t.Prefs, p)
		demo := p
		if r.IntN(10) < 4 { // scraped demonstrations: 40% rude
			demo.Chosen = unhelpful(r, s.a, s.b)
		}
		t.SFT = append(t.SFT, demo)
	}
	for _, s := range held {
		t.EvalPrompts = append(t.EvalPrompts, question(s.a, s.b))
		for kind := 0; kind < rejectedKinds; kind++ { // every kind of bad answer, for a steadier accuracy
			t.EvalPrefs = append(t.EvalPrefs, Pair{Prompt: question(s.a, s.b), Chosen: helpful(s.a, s.b),
				Rejected: rejectedKind(r, kind, s.a, s.b)})
		}
	}
	return t
}

// IsHelpful reports whether a response has the preferred form — one polite
// full sentence "X plus Y is Z." — whatever its arithmetic.
func IsHelpful(response string) bool {
	w := strings.Fields(strings.TrimSpace(response))
	if len(w) != 5 || w[1] != "plus" || w[3] != "is" || !strings.HasSuffix(w[4], ".") {
		return false
	}
	return index(strings.ToLower(w[0])) >= 0 && index(w[2]) >= 0 && index(strings.TrimSuffix(w[4], ".")) >= 0
}

// IsCorrect reports whether a response is exactly the helpful answer to prompt,
// right sum included.
func IsCorrect(prompt, response string) bool {
	var a, b string
	if _, err := fmt.Sscanf(prompt, "What is %s plus %s", &a, &b); err != nil {
		return false
	}
	ia, ib := index(a), index(strings.TrimSuffix(b, "?"))
	if ia < 0 || ib < 0 {
		return false
	}
	return strings.TrimSpace(response) == helpful(ia, ib)
}

func index(w string) int {
	for i, n := range numbers {
		if n == w {
			return i
		}
	}
	return -1
}
