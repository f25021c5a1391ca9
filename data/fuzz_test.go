package data

import (
	"math"
	"slices"
	"testing"

	"github.com/align-go/align/chat"
)

// FuzzJSONLRow feeds arbitrary lines through row decoding and every parser,
// detected and forced. Parsers must never panic, and whatever they accept
// must satisfy the invariants later stages rely on.
func FuzzJSONLRow(f *testing.F) {
	for _, s := range []string{
		pcRow, msgRow, textRow,
		`{"conversations":[{"from":"human","value":"q"},{"from":"gpt","value":"r"}],"system":"s"}`,
		`{"instruction":"i","input":"x","output":"o"}`,
		`{"prompt":"p","chosen":"a","rejected":"b","margin":1}`,
		`{"chosen":[{"role":"user","content":"q"},{"role":"assistant","content":"a"}],"rejected":[{"role":"user","content":"q"},{"role":"assistant","content":"b"}]}`,
		`{"prompt":[{"role":"user","content":"q"}],"chosen":"a","rejected":[{"role":"assistant","content":"b"}]}`,
		`{"prompt":[{"role":"user","content":[{"type":"text","text":"q"}]}],"completion":[{"role":"assistant","content":"r"}]}`,
		`{"messages":[null,{"role":{}}]}`, `[]`, `null`, `{"prompt":1e999}`, `{"margin":"x","chosen":[],"rejected":[]}`,
		`{"prompt":"p","chosen":"a","rejected":"b","p_chosen":0.5}`, `{"prompt":"p","chosen":"a","rejected":"b","p_chosen":1e999}`,
		`{"prompt":"p","chosen":"a","rejected":"b","p_chosen":-0}`, `{"prompt":"p","chosen":"a","rejected":"b","p_chosen":{}}`,
		`{"prompt":"p","completion":"c","label":true}`, `{"prompt":[{"role":"user","content":"q"}],"completion":"c","label":false}`,
		`{"prompt":"p","completion":"c","label":null}`,
	} {
		f.Add([]byte(s))
	}
	sftFormats := []Format{FormatMessages, FormatShareGPT, FormatPromptCompletion, FormatAlpaca, FormatText}
	f.Fuzz(func(t *testing.T, line []byte) {
		m, ferr := decodeRow(line)
		if ferr != nil {
			_ = ferr.at("x.jsonl:1").Error()
			return
		}
		if fm, err := detectSFT(m); err == nil {
			ex, err := parseSFT(fm, m)
			if err == nil {
				checkSFT(t, ex)
			}
		}
		for _, fm := range sftFormats {
			if ex, err := parseSFT(fm, m); err == nil {
				checkSFT(t, ex)
			} else {
				_ = err.at("x").Error()
			}
		}
		if ex, err := parsePreference(m); err == nil {
			checkPreference(t, ex)
		}
		if fm, err := detectUnpaired(m); err == nil {
			if exs, err := parseUnpaired(fm, m); err == nil {
				checkUnpaired(t, exs)
			} else {
				_ = err.at("x").Error()
			}
		}
		if ex, err := parsePrompt(m); err == nil && ex.Conversational {
			if len(ex.Prompt) == 0 || ex.Prompt[len(ex.Prompt)-1].Role != chat.RoleUser {
				t.Fatalf("prompt does not end with a user turn: %+v", ex)
			}
		}
	})
}

func checkSFT(t *testing.T, ex SFTExample) {
	t.Helper()
	switch ex.Kind {
	case KindText:
	case KindConversation:
		if err := checkTurns(ex.Messages, names("m"), "m", chat.RoleAssistant); err != nil {
			t.Fatalf("accepted a bad conversation: %s: %+v", err.text(), ex)
		}
	case KindPromptCompletion:
		if ex.Conversational {
			if err := checkTurns(concat(ex.Prompt, ex.Completion), names("m"), "m", chat.RoleAssistant); err != nil || len(ex.Completion) == 0 || ex.Completion[0].Role != chat.RoleAssistant {
				t.Fatalf("accepted a bad prompt/completion: %+v", ex)
			}
		}
	default:
		t.Fatalf("bad kind %v", ex.Kind)
	}
}

func checkPreference(t *testing.T, ex PreferenceExample) {
	t.Helper()
	if ex.PChosen != nil && !(*ex.PChosen >= 0 && *ex.PChosen <= 1) {
		t.Fatalf("p_chosen %v outside [0, 1] accepted: %+v", *ex.PChosen, ex)
	}
	if ex.Margin != nil && (math.IsNaN(*ex.Margin) || math.IsInf(*ex.Margin, 0)) {
		t.Fatalf("non-finite margin accepted: %+v", ex)
	}
	if !ex.Conversational {
		if ex.ChosenText == ex.RejectedText {
			t.Fatalf("identical sides accepted: %+v", ex)
		}
		return
	}
	for _, side := range [][]chat.Message{ex.Chosen, ex.Rejected} {
		if len(side) == 0 || side[0].Role != chat.RoleAssistant {
			t.Fatalf("response does not start with an assistant turn: %+v", ex)
		}
		if err := checkTurns(concat(ex.Prompt, side), names("m"), "m", chat.RoleAssistant); err != nil {
			t.Fatalf("accepted a bad pair: %s: %+v", err.text(), ex)
		}
	}
	if slices.EqualFunc(ex.Chosen, ex.Rejected, chat.Message.Equal) {
		t.Fatalf("identical sides accepted: %+v", ex)
	}
}

// checkUnpaired: one row or a split pair (desirable first), each with a
// completion and, when conversational, a prompt ending in a user turn.
func checkUnpaired(t *testing.T, exs []UnpairedExample) {
	if len(exs) != 1 && !(len(exs) == 2 && exs[0].Label && !exs[1].Label) {
		t.Fatalf("unpaired rows %+v", exs)
	}
	for _, ex := range exs {
		if ex.Conversational {
			if len(ex.Completion) == 0 || ex.Completion[0].Role != chat.RoleAssistant ||
				len(ex.Prompt) == 0 || ex.Prompt[len(ex.Prompt)-1].Role != chat.RoleUser {
				t.Fatalf("conversational unpaired row %+v", ex)
			}
		} else if ex.CompletionText == "" {
			t.Fatalf("empty completion %+v", ex)
		}
	}
}
