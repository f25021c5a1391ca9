package data

import (
	"fmt"

	"github.com/align-go/align/chat"
)

// FormatUnpaired is unpaired preference feedback (TRL's "unpaired
// preference" type, KTO's input): rows with "prompt", "completion" and a
// boolean "label" (true: desirable).
const FormatUnpaired Format = "unpaired"

// UnpairedExample is one normalised row of unpaired feedback: a prompt, one
// completion and whether the completion is desirable. As for
// PreferenceExample, conversational rows fill Prompt (ending with a user
// turn) and Completion (starting with an assistant turn), others the *Text
// fields.
type UnpairedExample struct {
	Conversational bool

	Prompt, Completion         []chat.Message
	PromptText, CompletionText string

	Label bool

	Loc string
}

func detectUnpaired(m map[string]any) (Format, *fieldError) {
	switch {
	case has(m, "completion") && has(m, "label"):
		return FormatUnpaired, nil
	case has(m, "chosen") && has(m, "rejected"):
		return FormatPreference, nil
	}
	return "", unknownKeys(m, `prompt, completion and label (unpaired), or chosen and rejected (preference pairs)`)
}

// parseUnpaired reads an unpaired row as one example, or a preference row
// as two: its chosen response desirable and its rejected one undesirable,
// as TRL's unpair_preference_dataset does.
func parseUnpaired(f Format, m map[string]any) ([]UnpairedExample, *fieldError) {
	if f == FormatPreference {
		p, err := parsePreference(m)
		if err != nil {
			return nil, err
		}
		if p.PChosen != nil && *p.PChosen != 1 {
			return nil, errf("p_chosen", "%v is a soft label, which unpaired feedback has no form for (drop the column, or keep only p_chosen = 1 rows)", *p.PChosen)
		}
		return []UnpairedExample{
			{Conversational: p.Conversational, Prompt: p.Prompt, Completion: p.Chosen, PromptText: p.PromptText, CompletionText: p.ChosenText, Label: true},
			{Conversational: p.Conversational, Prompt: p.Prompt, Completion: p.Rejected, PromptText: p.PromptText, CompletionText: p.RejectedText, Label: false},
		}, nil
	}
	v, ok := m["label"]
	if !ok {
		return nil, missing("label")
	}
	label, ok := v.(bool)
	if !ok {
		return nil, wantType("label", "boolean (true: desirable, false: undesirable)", v)
	}
	ex, err := parsePromptCompletion(m)
	if err != nil {
		return nil, err
	}
	return []UnpairedExample{{Conversational: ex.Conversational, Prompt: ex.Prompt, Completion: ex.Completion,
		PromptText: ex.PromptText, CompletionText: ex.CompletionText, Label: label}}, nil
}

// ReadUnpaired reads a whole file of unpaired feedback: rows of
// {"prompt", "completion", "label": bool} (strings or message lists, as
// prompt/completion SFT rows), or a preference file whose pairs are split
// into a desirable and an undesirable row, both located at the pair's line.
// The file's format is fixed by its first good row. opts.Format may force
// FormatUnpaired or FormatPreference.
func ReadUnpaired(path string, opts Options) ([]UnpairedExample, Report, error) {
	if opts.Format != FormatAuto && opts.Format != FormatUnpaired && opts.Format != FormatPreference {
		return nil, Report{}, fmt.Errorf("%s: format %q is neither unpaired nor preference", path, opts.Format)
	}
	r, err := open(path, opts, detectUnpaired, parseUnpaired, func(e *[]UnpairedExample, loc string) {
		for i := range *e {
			(*e)[i].Loc = loc
		}
	})
	rows, rep, err := readAll(r, err)
	var out []UnpairedExample
	for _, x := range rows {
		out = append(out, x...)
	}
	return out, rep, err
}
