// Package sft turns supervised fine-tuning rows into token sequences with loss
// masks, and trains a causal LM on them. Which tokens are trained is the whole
// game here: by default only completion / assistant tokens, always including the
// end-of-turn or EOS token that closes a response, so the model learns to stop.
package sft

import (
	"fmt"

	"github.com/align-go/align/chat"
	"github.com/align-go/align/data"
	"github.com/align-go/align/tokenizer"
)

// LossOn selects the trained tokens.
type LossOn string

const (
	// LossCompletion trains the completion of prompt/completion rows and the
	// assistant turns of conversations (TRL's completion_only_loss and
	// assistant_only_loss together); plain text is trained whole.
	LossCompletion LossOn = "completion"
	// LossAssistant trains assistant turns only; for prompt/completion rows
	// that is the completion, and plain-text rows are rejected.
	LossAssistant LossOn = "assistant"
	// LossAll trains every token.
	LossAll LossOn = "all"
)

// Truncation is what happens to a sequence longer than MaxLength.
type Truncation string

const (
	TruncateRight Truncation = "right" // keep the first MaxLength tokens
	TruncateLeft  Truncation = "left"  // keep the last MaxLength tokens (keeps the response of a long prompt)
	TruncateSkip  Truncation = "skip"  // drop the row, counted in the report
)

// Options control tokenisation.
type Options struct {
	LossOn     LossOn
	MaxLength  int // 0 = no limit
	Truncation Truncation
	ChatVars   map[string]any // extra chat-template variables (e.g. enable_thinking)
}

// Sequence is one tokenised row. Mask[i] says whether token i is predicted
// with loss, i.e. whether position i-1's output is trained to produce it.
type Sequence struct {
	IDs       []int32
	Mask      []bool
	Loc       string
	Truncated bool // cut to MaxLength
}

// Trained counts the loss tokens.
func (s Sequence) Trained() int {
	n := 0
	for i, m := range s.Mask {
		if m && i > 0 {
			n++
		}
	}
	return n
}

// Stats counts what tokenisation did to a dataset; nothing is dropped silently.
type Stats struct {
	Rows, Truncated, Skipped, NoLossTokens int
}

// ErrSkip marks a row dropped by policy (too long with TruncateSkip).
type ErrSkip struct{ Reason string }

func (e ErrSkip) Error() string { return e.Reason }

// Tokenize encodes one row. Rows without a single trained token are an error:
// they would silently contribute nothing.
func Tokenize(tok *tokenizer.Tokenizer, ex data.SFTExample, opt Options) (Sequence, error) {
	if opt.LossOn == "" {
		opt.LossOn = LossCompletion
	}
	var ids []int
	var mask []bool
	eos := tok.EOS()
	appendText := func(text string, train bool) {
		for _, id := range tok.Encode(text) {
			ids = append(ids, id)
			mask = append(mask, train)
		}
	}
	closeWithEOS := func(train bool) error {
		if eos < 0 {
			return fmt.Errorf("%s: tokenizer has no eos_token to end the response with", ex.Loc)
		}
		if len(ids) == 0 || ids[len(ids)-1] != eos {
			ids = append(ids, eos)
			mask = append(mask, train)
		}
		return nil
	}
	bos := tok.BOS()
	addBOS := bos >= 0 && tok.Config().AddBOSToken
	if addBOS && ex.Kind != data.KindConversation && !(ex.Kind == data.KindPromptCompletion && ex.Conversational) {
		ids, mask = append(ids, bos), append(mask, false)
	}
	switch ex.Kind {
	case data.KindText:
		if opt.LossOn == LossAssistant {
			return Sequence{}, fmt.Errorf("%s: --loss-on assistant needs conversations or prompt/completion rows, got plain text", ex.Loc)
		}
		appendText(ex.Text, true)
		if err := closeWithEOS(true); err != nil {
			return Sequence{}, err
		}
	case data.KindPromptCompletion:
		if !ex.Conversational {
			appendText(ex.PromptText, opt.LossOn == LossAll)
			appendText(ex.CompletionText, true)
			if err := closeWithEOS(true); err != nil {
				return Sequence{}, err
			}
			break
		}
		// Conversational prompt/completion: the completion's assistant turns are trained.
		msgs := append(append([]chat.Message(nil), ex.Prompt...), ex.Completion...)
		cids, cmask, err := encodeChat(tok, msgs, opt)
		if err != nil {
			return Sequence{}, fmt.Errorf("%s: %w", ex.Loc, err)
		}
		ids, mask = cids, cmask
	case data.KindConversation:
		cids, cmask, err := encodeChat(tok, ex.Messages, opt)
		if err != nil {
			return Sequence{}, fmt.Errorf("%s: %w", ex.Loc, err)
		}
		ids, mask = cids, cmask
	default:
		return Sequence{}, fmt.Errorf("%s: unknown row kind %v", ex.Loc, ex.Kind)
	}
	seq := Sequence{IDs: make([]int32, len(ids)), Mask: mask, Loc: ex.Loc}
	for i, id := range ids {
		seq.IDs[i] = int32(id)
	}
	if opt.MaxLength > 0 && len(seq.IDs) > opt.MaxLength {
		seq.Truncated = true
		switch opt.Truncation {
		case TruncateSkip:
			return Sequence{}, ErrSkip{fmt.Sprintf("%s: %d tokens exceed --max-length %d", ex.Loc, len(seq.IDs), opt.MaxLength)}
		case TruncateLeft:
			cut := len(seq.IDs) - opt.MaxLength
			seq.IDs, seq.Mask = seq.IDs[cut:], seq.Mask[cut:]
		default:
			seq.IDs, seq.Mask = seq.IDs[:opt.MaxLength], seq.Mask[:opt.MaxLength]
		}
	}
	if seq.Trained() == 0 {
		return Sequence{}, ErrSkip{fmt.Sprintf("%s: no trained tokens (after truncation to %d)", ex.Loc, opt.MaxLength)}
	}
	return seq, nil
}

func encodeChat(tok *tokenizer.Tokenizer, msgs []chat.Message, opt Options) ([]int, []bool, error) {
	ids, mask, err := tok.EncodeChat(msgs, tokenizer.ChatOptions{Vars: opt.ChatVars})
	if err != nil {
		return nil, nil, err
	}
	if opt.LossOn == LossAll {
		for i := range mask {
			mask[i] = true
		}
	}
	return ids, mask, nil
}

// TokenizeAll encodes rows, counting truncations and policy skips. Any other
// error stops at the row that caused it unless skipBad is set, in which case the
// row is counted as skipped with its reason.
func TokenizeAll(tok *tokenizer.Tokenizer, rows []data.SFTExample, opt Options, skipBad bool) ([]Sequence, Stats, []string, error) {
	var out []Sequence
	var st Stats
	var reasons []string
	for _, r := range rows {
		st.Rows++
		seq, err := Tokenize(tok, r, opt)
		if err != nil {
			if _, ok := err.(ErrSkip); ok || skipBad {
				st.Skipped++
				reasons = append(reasons, err.Error())
				continue
			}
			return nil, st, reasons, err
		}
		if seq.Truncated {
			st.Truncated++
		}
		out = append(out, seq)
	}
	return out, st, reasons, nil
}
