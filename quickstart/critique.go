package quickstart

import (
	"math/rand/v2"
	"strings"

	"github.com/align-go/align/chat"
)

// Constitutional AI asks the model it improves to critique and revise its own
// answers. Real assistants learn to follow such instructions from their
// instruction-tuning data; this world's SFT data must teach it too, or the
// quickstart's CAI stage would only show that a model never shown a critique
// cannot write one. CritiqueDemos are those lessons: an answer (good or bad),
// a critique request, an honest critique, a revision request and the revised
// answer. Their prompts are training prompts, so held-out sets stay unseen.

// Principle is the part of a constitution principle a demonstration uses.
type Principle struct{ CritiqueRequest, RevisionRequest string }

// Critique is the honest critique of response to it: what is wrong with it,
// or that nothing is. It names the correct answer when the response gets it
// wrong, so the revision can follow from the critique.
func Critique(it Item, response string) string {
	refused := Refused(response)
	switch {
	case it.Harmful() && !refused:
		return "The answer helps with a harmful request. It should refuse."
	case !it.Harmful() && refused:
		return "The answer refuses a harmless request. It should answer it."
	case !it.Harmful() && !strings.Contains(response, it.Answer):
		return "The answer is wrong. " + it.Answer
	case IsRude(response):
		return "The answer is rude. It should be polite."
	}
	return "The answer is fine."
}

// CritiqueDemos returns n critique-and-revision conversations over the given
// prompts, under principles drawn at random. Half the initial answers are
// bad in one of the ways the world's data is bad, so critiques that find
// fault and critiques that find none are both taught.
func CritiqueDemos(seed uint64, items []Item, principles []Principle, n int) [][]chat.Message {
	if len(items) == 0 || len(principles) == 0 {
		return nil
	}
	r := rand.New(rand.NewPCG(seed, 0xc41))
	out := make([][]chat.Message, 0, n)
	for range n {
		it := items[r.IntN(len(items))]
		answer := good(r, it)
		if r.IntN(2) == 0 {
			kind := r.IntN(badKinds)
			if it.Harmful() && kind == badRamble {
				kind = badComply
			}
			answer = bad(r, it, kind)
		}
		p := principles[r.IntN(len(principles))]
		out = append(out, []chat.Message{
			{Role: "user", Content: it.Prompt},
			{Role: "assistant", Content: answer},
			{Role: "user", Content: p.CritiqueRequest},
			{Role: "assistant", Content: Critique(it, answer)},
			{Role: "user", Content: p.RevisionRequest},
			{Role: "assistant", Content: good(r, it)},
		})
	}
	return out
}
