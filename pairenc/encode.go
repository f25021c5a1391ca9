package pairenc

import (
	"errors"
	"fmt"
	"strings"

	"github.com/align-go/align/chat"
	"github.com/align-go/align/data"
	"github.com/align-go/align/model"
	"github.com/align-go/align/tokenizer"
)

// Encoder turns prompts and responses into token ids. Training and scoring
// must agree token for token, so the reward model, DPO and the Scorer all go
// through it.
//
// Plain text: the prompt is encoded (after BOS when the tokenizer's config
// asks for one), the response separately, and EOS is appended to the
// response unless it already ends with it. Chat messages: the prompt is
// rendered with the generation prompt, the whole conversation without it,
// and the response is the rendering's remainder, trailing whitespace
// trimmed (so ChatML's "<|im_end|>\n" ends in the end-of-turn token rather
// than a newline), closed by EOS the same way.
type Encoder struct {
	Tok      *tokenizer.Tokenizer
	EOS      int32
	Vocab    int            // model vocabulary; ids at or above it are an error
	ChatVars map[string]any // extra chat-template variables (enable_thinking)
}

// NewEncoder resolves EOS from the tokenizer, then the model config, then
// "<|endoftext|>", and checks it against the model's vocabulary.
func NewEncoder(tok *tokenizer.Tokenizer, cfg *model.Config) (*Encoder, error) {
	eos, err := ResolveEOS(tok, cfg)
	if err != nil {
		return nil, err
	}
	return &Encoder{Tok: tok, EOS: int32(eos), Vocab: cfg.Vocab}, nil
}

// ResolveEOS finds the end-of-sequence id training rows end with: the first
// of model.EOSIDs (the tokenizer's eos_token, else config.json's), else
// "<|endoftext|>".
func ResolveEOS(tok *tokenizer.Tokenizer, cfg *model.Config) (int, error) {
	if e := tok.EOS(); e >= cfg.Vocab || e < 0 && cfg.EOS >= cfg.Vocab {
		return 0, fmt.Errorf("EOS id %d is outside the model's vocab_size %d (tokenizer and model do not match)", max(e, cfg.EOS), cfg.Vocab)
	}
	eos := -1
	if ids := model.EOSIDs(cfg, nil, tok.EOS()); len(ids) > 0 {
		eos = int(ids[0])
	}
	if eos < 0 {
		if id, ok := tok.TokenID("<|endoftext|>"); ok {
			eos = id
		}
	}
	if eos < 0 {
		return 0, errors.New("no EOS token (tokenizer_config.json eos_token, config.json eos_token_id or <|endoftext|>)")
	}
	if eos >= cfg.Vocab {
		return 0, fmt.Errorf("EOS id %d is outside the model's vocab_size %d (tokenizer and model do not match)", eos, cfg.Vocab)
	}
	return eos, nil
}

// ResolvePad is the id written into padding and saved as pad_token_id: the
// tokenizer's pad token, the model's pad_token_id, else eos. Padding never
// reaches a reward or a loss (masks decide), so any valid id works.
func ResolvePad(tok *tokenizer.Tokenizer, cfg *model.Config, eos int) int {
	for _, id := range []int{tok.PAD(), cfg.PAD} {
		if id >= 0 && id < cfg.Vocab {
			return id
		}
	}
	return eos
}

func (e *Encoder) ids(text string) ([]int32, error) {
	raw := e.Tok.Encode(text)
	out := make([]int32, len(raw))
	for i, id := range raw {
		if id < 0 || (e.Vocab > 0 && id >= e.Vocab) {
			return nil, fmt.Errorf("token id %d is outside the model's vocab_size %d (tokenizer and model do not match)", id, e.Vocab)
		}
		out[i] = int32(id)
	}
	return out, nil
}

func (e *Encoder) closeResponse(r []int32) []int32 {
	if len(r) == 0 || r[len(r)-1] != e.EOS {
		r = append(r, e.EOS)
	}
	return r
}

// Plain encodes a plain-text prompt and response.
func (e *Encoder) Plain(prompt, response string) (p, r []int32, err error) {
	if bos := e.Tok.BOS(); bos >= 0 && e.Tok.Config().AddBOSToken {
		p = append(p, int32(bos))
	}
	pi, err := e.ids(prompt)
	if err != nil {
		return nil, nil, err
	}
	if r, err = e.ids(response); err != nil {
		return nil, nil, err
	}
	return append(p, pi...), e.closeResponse(r), nil
}

// Chat encodes a conversation: prompt ends with a user (or system) turn and
// response holds the assistant turn(s) that follow.
func (e *Encoder) Chat(prompt, response []chat.Message) (p, r []int32, err error) {
	if len(response) == 0 {
		return nil, nil, errors.New("empty response")
	}
	conv := append(append(make([]chat.Message, 0, len(prompt)+len(response)), prompt...), response...)
	pt, err := e.Tok.RenderChatWith(conv[:len(prompt)], tokenizer.ChatOptions{AddGenerationPrompt: true, Vars: e.ChatVars})
	if err != nil {
		return nil, nil, fmt.Errorf("chat template: %w", err)
	}
	full, err := e.Tok.RenderChatWith(conv, tokenizer.ChatOptions{Vars: e.ChatVars})
	if err != nil {
		return nil, nil, fmt.Errorf("chat template: %w", err)
	}
	if !strings.HasPrefix(full, pt) {
		return nil, nil, errors.New("chat template is not prefix-stable: the prompt rendered with its generation prompt does not start the rendered conversation")
	}
	if p, err = e.ids(pt); err != nil {
		return nil, nil, err
	}
	if r, err = e.ids(strings.TrimRight(full[len(pt):], " \t\r\n")); err != nil {
		return nil, nil, err
	}
	return p, e.closeResponse(r), nil
}

// Pair is one encoded preference pair. Each response ends with EOS.
type Pair struct {
	Prompt, Chosen, Rejected []int32
	Margin                   *float64 // the row's "margin" column, if any
	PChosen                  *float64 // the row's soft label "p_chosen", if any (nil: p = 1)
	Loc                      string
}

// Pair encodes a preference example.
func (e *Encoder) Pair(ex data.PreferenceExample) (Pair, error) {
	out := Pair{Margin: ex.Margin, PChosen: ex.PChosen, Loc: ex.Loc}
	var err error
	if ex.Conversational {
		var r []int32
		if out.Prompt, out.Chosen, err = e.Chat(ex.Prompt, ex.Chosen); err == nil {
			_, r, err = e.Chat(ex.Prompt, ex.Rejected)
			out.Rejected = r
		}
	} else {
		var r []int32
		if out.Prompt, out.Chosen, err = e.Plain(ex.PromptText, ex.ChosenText); err == nil {
			_, r, err = e.Plain(ex.PromptText, ex.RejectedText)
			out.Rejected = r
		}
	}
	if err != nil {
		return Pair{}, fmt.Errorf("%s: %w", ex.Loc, err)
	}
	return out, nil
}

// EncodePairs encodes every example, stopping at the first error.
func (e *Encoder) EncodePairs(exs []data.PreferenceExample) ([]Pair, error) {
	out := make([]Pair, len(exs))
	for i, ex := range exs {
		p, err := e.Pair(ex)
		if err != nil {
			return nil, err
		}
		out[i] = p
	}
	return out, nil
}

// Seq is a prompt followed by a response; the response is IDs[Start:].
type Seq struct {
	IDs   []int32
	Start int
}

// Join concatenates a prompt and a response.
func Join(prompt, response []int32) Seq {
	ids := make([]int32, 0, len(prompt)+len(response))
	return Seq{IDs: append(append(ids, prompt...), response...), Start: len(prompt)}
}

// KeepEnd cuts s to its last maxLen tokens (TRL's truncation_mode
// "keep_end"): the prompt loses its beginning first, so the response and
// its EOS survive. maxLen <= 0 means no limit.
func (s Seq) KeepEnd(maxLen int) Seq {
	if maxLen <= 0 || len(s.IDs) <= maxLen {
		return s
	}
	cut := len(s.IDs) - maxLen
	return Seq{IDs: s.IDs[cut:], Start: max(s.Start-cut, 0)}
}
