package tokenizer

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
)

// specialTokenValue reads a special-token field: a string, null, or
// {"content": ..., flags...} (transformers' serialized AddedToken).
func specialTokenValue(raw json.RawMessage, name, field string) (*AddedToken, error) {
	if isNull(raw) {
		return nil, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return &AddedToken{Content: s, Special: true}, nil
	}
	var a jsonAdded
	if err := json.Unmarshal(raw, &a); err != nil || a.Content == nil {
		return nil, fieldError(name, field, "expected a string, null or {\"content\": ...}")
	}
	tok := &AddedToken{Content: *a.Content, Special: true, LStrip: a.LStrip, RStrip: a.RStrip, SingleWord: a.SingleWord}
	if a.Normalized != nil {
		tok.Normalized = *a.Normalized
	}
	return tok, nil
}

// applyConfig reads tokenizer_config.json: special tokens, add_bos/eos and
// the chat template. Special tokens that are in the vocabulary but not yet
// added tokens become special added tokens, as transformers does, so that
// their text is matched as one token.
func (t *Tokenizer) applyConfig(data []byte, name string) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return jsonError(name, err)
	}
	if raw == nil {
		return fieldError(name, "(top level)", "expected an object")
	}
	t.spec.rawConfig = raw
	if dec, ok := raw["added_tokens_decoder"]; ok && !isNull(dec) {
		var m map[string]jsonAdded
		if err := json.Unmarshal(dec, &m); err != nil {
			return jsonError(name+": added_tokens_decoder", err)
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			a := m[k]
			field := "added_tokens_decoder." + k
			id, err := strconv.Atoi(k)
			if err != nil || id < 0 || a.Content == nil || *a.Content == "" {
				return fieldError(name, field, "expected a non-negative integer key and a content")
			}
			normalized := !a.Special
			if a.Normalized != nil {
				normalized = *a.Normalized
			}
			// An id that tokenizer.json already gives another token is
			// skipped: tokenizer.json is authoritative, as in transformers.
			_ = t.addToken(AddedToken{ID: id, Content: *a.Content, Special: a.Special, Normalized: normalized,
				LStrip: a.LStrip, RStrip: a.RStrip, SingleWord: a.SingleWord})
		}
	}
	var specials []*AddedToken
	for _, f := range []struct {
		key string
		dst *string
	}{{"bos_token", &t.cfg.BOSToken}, {"eos_token", &t.cfg.EOSToken}, {"pad_token", &t.cfg.PADToken}, {"unk_token", &t.cfg.UNKToken}} {
		v, ok := raw[f.key]
		if !ok {
			continue
		}
		tok, err := specialTokenValue(v, name, f.key)
		if err != nil {
			return err
		}
		*f.dst = ""
		if tok != nil {
			*f.dst = tok.Content
			specials = append(specials, tok)
		}
	}
	if v, ok := raw["additional_special_tokens"]; ok && !isNull(v) {
		var list []json.RawMessage
		if err := json.Unmarshal(v, &list); err != nil {
			return fieldError(name, "additional_special_tokens", "expected an array")
		}
		for i, item := range list {
			tok, err := specialTokenValue(item, name, fmt.Sprintf("additional_special_tokens[%d]", i))
			if err != nil {
				return err
			}
			if tok != nil {
				specials = append(specials, tok)
			}
		}
	}
	for _, sp := range specials {
		if _, ok := t.addedByContent[sp.Content]; ok {
			continue
		}
		if id, ok := t.model.vocab[sp.Content]; ok {
			sp.ID = int(id)
			_ = t.addToken(*sp)
		}
	}
	for _, f := range []struct {
		key string
		dst *bool
	}{{"add_bos_token", &t.cfg.AddBOSToken}, {"add_eos_token", &t.cfg.AddEOSToken}} {
		if v, ok := raw[f.key]; ok && !isNull(v) {
			if err := json.Unmarshal(v, f.dst); err != nil {
				return fieldError(name, f.key, "expected a boolean")
			}
		}
	}
	if v, ok := raw["chat_template"]; ok && !isNull(v) {
		tmpl, err := chooseTemplate(v, name)
		if err != nil {
			return err
		}
		t.cfg.ChatTemplate = tmpl
	}
	t.refreshAdded()
	return nil
}

// chooseTemplate accepts a template string or a list of {name, template},
// of which "default" is used.
func chooseTemplate(raw json.RawMessage, name string) (string, error) {
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s, nil
	}
	var list []struct {
		Name     string `json:"name"`
		Template string `json:"template"`
	}
	if err := json.Unmarshal(raw, &list); err != nil {
		return "", fieldError(name, "chat_template", "expected a string or a list of {name, template}")
	}
	for _, it := range list {
		if it.Name == "default" {
			return it.Template, nil
		}
	}
	return "", fieldError(name, "chat_template", "no template named \"default\" among %d", len(list))
}
