package tokenizer

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
)

// Train learns the vocabulary and returns the tokenizer, configured for
// transformers and for this toolkit's chat, SFT and pretraining commands:
//
//   - eos_token is TrainOptions.EOSToken if set, else <|im_end|> if it is a
//     special token, else <|endoftext|> if it is, else none. <|im_end|>
//     wins because the ChatML template ends every turn with it and chat
//     data is encoded through the template alone, so it is the one token a
//     chat model must stop on; as pretraining's document separator it does
//     the same job <|endoftext|> would.
//   - pad_token is <|pad|> if it is a special token, else the EOS token.
//   - bos_token is none, and nothing is added around encoded text.
//   - chat_template is ChatMLTemplate when both <|im_start|> and <|im_end|>
//     are special tokens.
//   - the other special tokens are listed as additional_special_tokens.
func (tr *Trainer) Train() (*Tokenizer, error) {
	spec, err := tr.TrainSpec()
	if err != nil {
		return nil, err
	}
	has := func(s string) bool { return slices.Contains(tr.opt.SpecialTokens, s) }
	cfg := Config{EOSToken: tr.opt.EOSToken}
	if cfg.EOSToken == "" {
		for _, s := range []string{"<|im_end|>", "<|endoftext|>"} {
			if has(s) {
				cfg.EOSToken = s
				break
			}
		}
	}
	cfg.PADToken = cfg.EOSToken
	if has("<|pad|>") {
		cfg.PADToken = "<|pad|>"
	}
	if has("<|im_start|>") && has("<|im_end|>") {
		cfg.ChatTemplate = ChatMLTemplate
	}
	spec.Config = cfg
	tok, err := NewBPE(spec)
	if err != nil {
		return nil, err
	}
	raw := map[string]json.RawMessage{
		"clean_up_tokenization_spaces": json.RawMessage("false"),
		"tokenizer_class":              json.RawMessage(`"PreTrainedTokenizerFast"`),
	}
	if tr.opt.ModelMaxLength > 0 {
		raw["model_max_length"] = json.RawMessage(strconv.Itoa(tr.opt.ModelMaxLength))
	}
	if extra := tok.additionalSpecial(); len(extra) > 0 {
		raw["additional_special_tokens"] = mustJSON(extra)
	}
	tok.spec.rawConfig = raw
	return tok, nil
}

// additionalSpecial lists the special added tokens that are not the BOS,
// EOS, PAD or UNK token, in id order.
func (t *Tokenizer) additionalSpecial() []string {
	var out []string
	for _, a := range t.added {
		switch a.Content {
		case t.cfg.BOSToken, t.cfg.EOSToken, t.cfg.PADToken, t.cfg.UNKToken:
			continue
		}
		if a.Special {
			out = append(out, a.Content)
		}
	}
	return out
}

func mustJSON(v any) json.RawMessage {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic(err) // only called on strings and maps of them
	}
	return bytes.TrimRight(b.Bytes(), "\n")
}

// MarshalSpecialTokensMapJSON returns special_tokens_map.json as
// transformers writes it: the BOS/EOS/PAD/UNK tokens that are set and the
// additional special tokens.
func (t *Tokenizer) MarshalSpecialTokensMapJSON() ([]byte, error) {
	type tokJSON struct {
		Content    string `json:"content"`
		LStrip     bool   `json:"lstrip"`
		Normalized bool   `json:"normalized"`
		RStrip     bool   `json:"rstrip"`
		SingleWord bool   `json:"single_word"`
	}
	entry := func(s string) tokJSON {
		e := tokJSON{Content: s}
		if a, ok := t.addedByContent[s]; ok {
			e = tokJSON{Content: s, LStrip: a.LStrip, Normalized: a.Normalized, RStrip: a.RStrip, SingleWord: a.SingleWord}
		}
		return e
	}
	out := map[string]any{}
	for _, f := range []struct{ key, tok string }{
		{"bos_token", t.cfg.BOSToken}, {"eos_token", t.cfg.EOSToken}, {"pad_token", t.cfg.PADToken}, {"unk_token", t.cfg.UNKToken},
	} {
		if f.tok != "" {
			out[f.key] = entry(f.tok)
		}
	}
	if extra := t.additionalSpecial(); len(extra) > 0 {
		out["additional_special_tokens"] = extra
	}
	return indentJSON(out)
}

// SaveAll is Save plus special_tokens_map.json, the full set transformers'
// AutoTokenizer.save_pretrained writes.
func (t *Tokenizer) SaveAll(dir string) error {
	if err := t.Save(dir); err != nil {
		return err
	}
	b, err := t.MarshalSpecialTokensMapJSON()
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "special_tokens_map.json"), b, 0o644)
}
