package data

import (
	"math"
	"slices"
	"strings"

	"github.com/align-go/align/chat"
)

func detectPreference(m map[string]any) (Format, *fieldError) {
	if has(m, "chosen") && has(m, "rejected") {
		return FormatPreference, nil
	}
	return "", unknownKeys(m, "chosen and rejected (and optionally prompt)")
}

func detectPrompt(m map[string]any) (Format, *fieldError) {
	if has(m, "prompt") || has(m, "messages") {
		return FormatPrompt, nil
	}
	return "", unknownKeys(m, "prompt (or messages)")
}

// side is one of chosen/rejected as found in the row.
type side struct {
	key    string
	text   string
	msgs   []chat.Message
	isMsgs bool
}

// parsePreference accepts:
//
//   - {"prompt","chosen","rejected"} all strings;
//   - {"prompt":[msgs],"chosen":[msgs],"rejected":[msgs]} with chosen and
//     rejected holding only the responses (a plain string response is taken
//     as one assistant turn, a plain string prompt as one user turn);
//   - {"chosen":[msgs],"rejected":[msgs]} holding whole conversations
//     (HH-RLHF, UltraFeedback): the longest shared prefix is the prompt. A
//     "prompt" column next to whole conversations is redundant and is
//     ignored if it is a string (UltraFeedback binarized repeats the first
//     user turn there), stripped if it is a message list both conversations
//     start with, and otherwise ignored.
//
// An optional numeric "margin" is kept, and so is an optional soft label
// "p_chosen" in [0, 1].
func parsePreference(m map[string]any) (PreferenceExample, *fieldError) {
	var ex PreferenceExample
	mg, err := margin(m)
	if err != nil {
		return ex, err
	}
	ex.Margin = mg
	if ex.PChosen, err = pChosen(m); err != nil {
		return ex, err
	}
	var sides [2]side
	for i, key := range []string{"chosen", "rejected"} {
		s, msgs, isMsgs, err := textOrMessages(m, key)
		if err != nil {
			return ex, err
		}
		sides[i] = side{key, s, msgs, isMsgs}
	}
	c, r := sides[0], sides[1]

	if !c.isMsgs && !r.isMsgs && (!has(m, "prompt") || isString(m["prompt"])) {
		if !has(m, "prompt") {
			return ex, missing("prompt")
		}
		ex.PromptText = m["prompt"].(string)
		ex.ChosenText, ex.RejectedText = c.text, r.text
		if err := nonEmpty(c.text, "chosen"); err != nil {
			return ex, err
		}
		if err := nonEmpty(r.text, "rejected"); err != nil {
			return ex, err
		}
		if c.text == r.text {
			return ex, identical()
		}
		return ex, nil
	}

	ex.Conversational = true
	if !c.isMsgs {
		c.msgs = []chat.Message{{Role: chat.RoleAssistant, Content: c.text}}
	}
	if !r.isMsgs {
		r.msgs = []chat.Message{{Role: chat.RoleAssistant, Content: r.text}}
	}
	var prompt []chat.Message
	var promptIsMsgs bool
	if pv, ok := m["prompt"]; ok {
		switch x := pv.(type) {
		case string:
			prompt = []chat.Message{{Role: chat.RoleUser, Content: x}}
		case []any:
			var err *fieldError
			if prompt, err = parseMessages(x, "prompt"); err != nil {
				return ex, err
			}
			promptIsMsgs = true
		default:
			return ex, wantType("prompt", "string or list of messages", pv)
		}
	}

	if len(c.msgs) > 0 && c.msgs[0].Role != chat.RoleAssistant {
		// Whole conversations.
		for _, s := range []side{c, r} {
			if err := checkTurns(s.msgs, names(s.key), s.key, chat.RoleAssistant); err != nil {
				return ex, err
			}
		}
		n := 0
		if promptIsMsgs && hasPrefix(c.msgs, prompt) && hasPrefix(r.msgs, prompt) {
			n = len(prompt)
		} else {
			for n < len(c.msgs) && n < len(r.msgs) && c.msgs[n].Equal(r.msgs[n]) {
				n++
			}
		}
		switch {
		case n == len(c.msgs) && n == len(r.msgs):
			return ex, identical()
		case n == len(c.msgs) || n == len(r.msgs):
			return ex, &fieldError{msg: "chosen and rejected do not diverge: one is a prefix of the other", reason: "chosen and rejected do not diverge"}
		case c.msgs[n].Role != chat.RoleAssistant:
			return ex, errf(index("chosen", n)+".role", "chosen and rejected first differ at a %s turn; they must differ from an assistant turn on", c.msgs[n].Role)
		}
		ex.Prompt, ex.Chosen, ex.Rejected = c.msgs[:n:n], c.msgs[n:], r.msgs[n:]
		return ex, nil
	}

	// Responses only.
	if prompt == nil {
		return ex, missing("prompt")
	}
	if err := checkTurns(prompt, names("prompt"), "prompt", chat.RoleUser); err != nil {
		return ex, err
	}
	for _, s := range []side{c, r} {
		if len(s.msgs) == 0 {
			return ex, errf(s.key, "no messages")
		}
		if err := checkTurns(concat(prompt, s.msgs), names2("prompt", len(prompt), s.key), s.key, chat.RoleAssistant); err != nil {
			return ex, err
		}
	}
	if slices.EqualFunc(c.msgs, r.msgs, chat.Message.Equal) {
		return ex, identical()
	}
	ex.Prompt, ex.Chosen, ex.Rejected = prompt, c.msgs, r.msgs
	return ex, nil
}

// identical is an error because a pair with equal sides has zero DPO and
// reward-model gradient: keeping it only dilutes the batch.
func identical() *fieldError {
	return &fieldError{msg: "chosen and rejected are identical"}
}

func margin(m map[string]any) (*float64, *fieldError) {
	v, ok := m["margin"]
	if !ok || v == nil {
		return nil, nil
	}
	x, ok := number(v)
	if !ok {
		return nil, wantType("margin", "number", v)
	}
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return nil, errf("margin", "not finite")
	}
	return &x, nil
}

// pChosen reads the optional soft label "p_chosen": a probability, so a
// value outside [0, 1] (NaN included, which Parquet can carry) is an error
// rather than something to clamp.
func pChosen(m map[string]any) (*float64, *fieldError) {
	v, ok := m["p_chosen"]
	if !ok || v == nil {
		return nil, nil
	}
	x, ok := number(v)
	if !ok {
		return nil, wantType("p_chosen", "number", v)
	}
	if !(x >= 0 && x <= 1) {
		e := errf("p_chosen", "%v is outside [0, 1] (the probability that chosen is better)", x)
		e.reason = `field "p_chosen": outside [0, 1]`
		return nil, e
	}
	return &x, nil
}

func isString(v any) bool {
	_, ok := v.(string)
	return ok
}

func hasPrefix(msgs, prefix []chat.Message) bool {
	return len(prefix) <= len(msgs) && slices.EqualFunc(msgs[:len(prefix)], prefix, chat.Message.Equal)
}

// parsePrompt reads {"prompt": string | [msgs], ...}; every other column is
// kept in Extra for reward functions.
func parsePrompt(m map[string]any) (PromptExample, *fieldError) {
	var ex PromptExample
	key := "prompt"
	if has(m, "messages") {
		// A conversation to continue: TRL's conversational language-
		// modelling column, read here as a prompt ending in a user turn.
		if has(m, "prompt") {
			return ex, errf("messages", `give "prompt" or "messages", not both`)
		}
		key = "messages"
		if _, ok := m[key].([]any); !ok {
			return ex, wantType(key, "list of messages", m[key])
		}
	}
	s, msgs, isMsgs, err := textOrMessages(m, key)
	if err != nil {
		return ex, err
	}
	if isMsgs {
		if err := checkTurns(msgs, names(key), key, chat.RoleUser); err != nil {
			return ex, err
		}
		ex.Conversational, ex.Prompt = true, msgs
	} else {
		if strings.TrimSpace(s) == "" {
			return ex, errf("prompt", "empty")
		}
		ex.PromptText = s
	}
	for k, v := range m {
		if k == key {
			continue
		}
		if ex.Extra == nil {
			ex.Extra = make(map[string]any, len(m)-1)
		}
		ex.Extra[k] = v
	}
	return ex, nil
}
