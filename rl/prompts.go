// Package rl holds what the online RL trainers (GRPO, PPO, online DPO)
// share: prompt rows with the fields rewards see and their tokenised form,
// reward-hacking monitors and alarms over each step's completions, and the
// samples log.
package rl

import (
	"errors"
	"fmt"
	"io"

	"github.com/align-go/align/chat"
	"github.com/align-go/align/data"
	"github.com/align-go/align/tokenizer"
)

// PromptRow is one row of a prompt file: "prompt" as a string or as chat
// messages, and every other field, which rewards receive as
// reward.Sample.Fields.
type PromptRow struct {
	Text     string         // "prompt" as a plain string
	Messages []chat.Message // "prompt" as chat turns (ending with a user turn)
	Fields   map[string]any
	Loc      string // file:line (or file:row) for error messages
}

// Prompt is one prompt row, tokenised: what GRPO and online DPO sample from.
type Prompt struct {
	IDs      []int32
	Text     string         // the prompt as the model sees it
	Messages []chat.Message // the conversation, when the row was one
	Fields   map[string]any // the row's other fields, for rewards
}

// EncodePrompts renders and tokenises rows (Encode) and checks that each
// prompt plus maxNew generated tokens fits the model's maxPos positions;
// errors name the row.
func EncodePrompts(rows []PromptRow, tok *tokenizer.Tokenizer, maxNew, maxPos int) ([]Prompt, error) {
	prompts := make([]Prompt, len(rows))
	for i, r := range rows {
		text, ids, err := r.Encode(tok)
		if err != nil {
			return nil, err
		}
		if n := len(ids) + maxNew; n > maxPos {
			return nil, fmt.Errorf("%s: %d prompt tokens + %d new tokens exceed the model's %d positions",
				r.Loc, len(ids), maxNew, maxPos)
		}
		prompts[i] = Prompt{IDs: ids, Text: text, Messages: r.Messages, Fields: r.Fields}
	}
	return prompts, nil
}

// ReadPrompts reads a prompt file: JSONL, JSON or Parquet (data.OpenPrompts).
// Errors name the file and row.
func ReadPrompts(path string) ([]PromptRow, error) {
	r, err := data.OpenPrompts(path, data.Options{})
	if err != nil {
		return nil, err
	}
	defer r.Close()
	var rows []PromptRow
	for {
		ex, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		row := PromptRow{Text: ex.PromptText, Fields: ex.Extra, Loc: ex.Loc}
		if row.Fields == nil {
			row.Fields = map[string]any{}
		}
		if ex.Conversational {
			row.Text = ""
			row.Messages = append([]chat.Message(nil), ex.Prompt...)
		}
		rows = append(rows, row)
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("%s: no prompts", path)
	}
	return rows, nil
}

// Encode renders the row as the policy sees it: messages through the chat
// template with the assistant generation prompt, plain text with the
// tokenizer's special tokens (BOS) added. It returns the text and its ids.
func (p PromptRow) Encode(tok *tokenizer.Tokenizer) (string, []int32, error) {
	var enc []int
	text := p.Text
	if p.Messages != nil {
		msgs := p.Messages
		var err error
		if text, err = tok.RenderChat(msgs, true); err != nil {
			return "", nil, fmt.Errorf("%s: %w", p.Loc, err)
		}
		enc = tok.Encode(text)
	} else {
		enc = tok.EncodeWith(text, tokenizer.EncodeOptions{AddSpecialTokens: true})
	}
	if len(enc) == 0 {
		return "", nil, fmt.Errorf("%s: prompt encodes to no tokens", p.Loc)
	}
	ids := make([]int32, len(enc))
	for i, v := range enc {
		ids[i] = int32(v)
	}
	return text, ids, nil
}

// Decoder is the trainers' sample decoder: tok's text of a rollout's int32 ids.
func Decoder(tok *tokenizer.Tokenizer) func(ids []int32) string {
	return func(ids []int32) string {
		out := make([]int, len(ids))
		for i, v := range ids {
			out[i] = int(v)
		}
		return tok.Decode(out)
	}
}
