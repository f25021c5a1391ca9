package data

import (
	"fmt"
	"sort"
	"strings"

	"github.com/align-go/align/chat"
)

// detectSFT picks the SFT layout from a row's keys. Richer layouts win when a
// row carries several (datasets often keep a rendered "text" next to the
// "messages" it came from).
func detectSFT(m map[string]any) (Format, *fieldError) {
	switch {
	case has(m, "messages"):
		return FormatMessages, nil
	case has(m, "conversations"):
		return FormatShareGPT, nil
	case has(m, "prompt") && has(m, "completion"):
		return FormatPromptCompletion, nil
	case has(m, "instruction") && has(m, "output"):
		return FormatAlpaca, nil
	case has(m, "text"):
		return FormatText, nil
	case has(m, "chosen") && has(m, "rejected"):
		return "", &fieldError{msg: "row has chosen/rejected: this is preference data, not SFT data", reason: "preference row in SFT data"}
	}
	return "", unknownKeys(m, "messages, conversations, prompt+completion, instruction+output or text")
}

func unknownKeys(m map[string]any, want string) *fieldError {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if len(keys) > 12 {
		keys = append(keys[:12], "...")
	}
	return &fieldError{
		msg:    fmt.Sprintf("cannot tell the format from keys [%s]; want %s", strings.Join(keys, " "), want),
		reason: "unknown format",
	}
}

func checkSFTFormat(f Format) error {
	switch f {
	case FormatAuto, FormatMessages, FormatShareGPT, FormatPromptCompletion, FormatAlpaca, FormatText:
		return nil
	}
	return fmt.Errorf("format %q is not an SFT format (want messages, sharegpt, prompt_completion, alpaca or text)", f)
}

func parseSFT(f Format, m map[string]any) (SFTExample, *fieldError) {
	switch f {
	case FormatText:
		s, err := str(m, "text", "text")
		if err == nil {
			err = nonEmpty(s, "text")
		}
		return SFTExample{Kind: KindText, Text: s}, err
	case FormatMessages:
		v, ok := m["messages"]
		if !ok {
			return SFTExample{}, missing("messages")
		}
		msgs, err := parseMessages(v, "messages")
		if err == nil {
			err = checkTurns(msgs, names("messages"), "messages", chat.RoleAssistant)
		}
		return SFTExample{Kind: KindConversation, Conversational: true, Messages: msgs}, err
	case FormatShareGPT:
		return parseShareGPTRow(m)
	case FormatAlpaca:
		return parseAlpaca(m)
	case FormatPromptCompletion:
		return parsePromptCompletion(m)
	}
	return SFTExample{}, errf("", "format %q is not an SFT format", f)
}

// parseShareGPTRow also honours a top-level "system" string, which several
// ShareGPT-style exports use instead of a system turn.
func parseShareGPTRow(m map[string]any) (SFTExample, *fieldError) {
	v, ok := m["conversations"]
	if !ok {
		return SFTExample{}, missing("conversations")
	}
	msgs, err := parseShareGPT(v, "conversations")
	if err != nil {
		return SFTExample{}, err
	}
	sys, err := optStr(m, "system", "system")
	if err != nil {
		return SFTExample{}, err
	}
	name := names("conversations")
	if sys != "" {
		if len(msgs) > 0 && msgs[0].Role == chat.RoleSystem {
			return SFTExample{}, errf("conversations[0].from", "system turn and a \"system\" field in the same row")
		}
		msgs = append([]chat.Message{{Role: chat.RoleSystem, Content: sys}}, msgs...)
		name = func(i int) string {
			if i == 0 {
				return "system"
			}
			return index("conversations", i-1)
		}
	}
	if err := checkTurns(msgs, name, "conversations", chat.RoleAssistant); err != nil {
		return SFTExample{}, err
	}
	return SFTExample{Kind: KindConversation, Conversational: true, Messages: msgs}, nil
}

// parseAlpaca turns {"instruction","input","output"} into a two-turn chat.
// The user turn is the instruction, followed by a blank line and the input
// when the input is non-empty: that is how the Stanford Alpaca prompt lays
// the two out, minus its "### Instruction:" headers, which are a prompt
// template of their own and would fight the model's chat template. An
// optional "system" string becomes a system turn.
func parseAlpaca(m map[string]any) (SFTExample, *fieldError) {
	ins, err := str(m, "instruction", "instruction")
	if err != nil {
		return SFTExample{}, err
	}
	if err := nonEmpty(ins, "instruction"); err != nil {
		return SFTExample{}, err
	}
	in, err := optStr(m, "input", "input")
	if err != nil {
		return SFTExample{}, err
	}
	out, err := str(m, "output", "output")
	if err != nil {
		return SFTExample{}, err
	}
	if err := nonEmpty(out, "output"); err != nil {
		return SFTExample{}, err
	}
	sys, err := optStr(m, "system", "system")
	if err != nil {
		return SFTExample{}, err
	}
	user := ins
	if strings.TrimSpace(in) != "" {
		user = ins + "\n\n" + in
	}
	var msgs []chat.Message
	if sys != "" {
		msgs = append(msgs, chat.Message{Role: chat.RoleSystem, Content: sys})
	}
	msgs = append(msgs, chat.Message{Role: chat.RoleUser, Content: user}, chat.Message{Role: chat.RoleAssistant, Content: out})
	return SFTExample{Kind: KindConversation, Conversational: true, Messages: msgs}, nil
}

// textOrMessages decodes a column that TRL allows to be either a plain string
// or a list of messages.
func textOrMessages(m map[string]any, key string) (s string, msgs []chat.Message, isMsgs bool, err *fieldError) {
	v, ok := m[key]
	if !ok {
		return "", nil, false, missing(key)
	}
	switch x := v.(type) {
	case string:
		return x, nil, false, nil
	case []any:
		msgs, err := parseMessages(x, key)
		return "", msgs, true, err
	}
	return "", nil, false, wantType(key, "string or list of messages", v)
}

// parsePromptCompletion accepts TRL's two layouts (both strings, both message
// lists) and, as the one sensible reading, a mix of the two: a string prompt
// next to message completions is a user turn, a string completion next to
// message prompts is an assistant turn.
func parsePromptCompletion(m map[string]any) (SFTExample, *fieldError) {
	ps, pm, pIsMsgs, err := textOrMessages(m, "prompt")
	if err != nil {
		return SFTExample{}, err
	}
	cs, cm, cIsMsgs, err := textOrMessages(m, "completion")
	if err != nil {
		return SFTExample{}, err
	}
	if !pIsMsgs && !cIsMsgs {
		if err := nonEmpty(cs, "completion"); err != nil {
			return SFTExample{}, err
		}
		return SFTExample{Kind: KindPromptCompletion, PromptText: ps, CompletionText: cs}, nil
	}
	if !pIsMsgs {
		pm = []chat.Message{{Role: chat.RoleUser, Content: ps}}
	}
	if !cIsMsgs {
		cm = []chat.Message{{Role: chat.RoleAssistant, Content: cs}}
	}
	if len(cm) == 0 {
		return SFTExample{}, errf("completion", "no messages")
	}
	if err := checkTurns(pm, names("prompt"), "prompt", chat.RoleUser); err != nil {
		return SFTExample{}, err
	}
	if err := checkTurns(concat(pm, cm), names2("prompt", len(pm), "completion"), "completion", chat.RoleAssistant); err != nil {
		return SFTExample{}, err
	}
	return SFTExample{Kind: KindPromptCompletion, Conversational: true, Prompt: pm, Completion: cm}, nil
}
