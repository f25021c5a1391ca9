package tokenizer

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

// ByteSymbol returns the byte-level vocabulary spelling of one byte; the
// 256 of them are the base alphabet a trained vocabulary starts from.
func ByteSymbol(b byte) string { return string(byteToRune[b]) }

// BPESpec describes a byte-level BPE to construct, typically a freshly
// trained one.
type BPESpec struct {
	Vocab  []string    // id -> byte-level spelling (see ByteSymbol)
	Merges [][2]string // in rank order; each result must be in Vocab
	Added  []AddedToken
	// Pattern is the pre-tokenizer regex: PatternGPT2 (ByteLevel's own, the
	// default), PatternQwen2 or PatternCL100K.
	Pattern string
	NFC     bool // apply NFC normalization first, as Qwen does
	Config  Config
}

// NewBPE builds a tokenizer from a spec through the same path as loading,
// so that Save followed by Load reproduces it.
func NewBPE(spec BPESpec) (*Tokenizer, error) {
	const name = "BPESpec"
	vocab := make(map[string]int32, len(spec.Vocab))
	for id, tok := range spec.Vocab {
		if _, dup := vocab[tok]; dup {
			return nil, fieldError(name, fmt.Sprintf("Vocab[%d]", id), "duplicate token %q", tok)
		}
		vocab[tok] = int32(id)
	}
	fs := fileSpec{
		postProcessor: json.RawMessage(`{"type":"ByteLevel","add_prefix_space":false,"trim_offsets":false,"use_regex":false}`),
		decoder:       json.RawMessage(`{"type":"ByteLevel","add_prefix_space":false,"trim_offsets":false,"use_regex":false}`),
	}
	switch spec.Pattern {
	case "", PatternGPT2:
		fs.preTokenizer = json.RawMessage(`{"type":"ByteLevel","add_prefix_space":false,"trim_offsets":true,"use_regex":true}`)
	default:
		fs.preTokenizer = json.RawMessage(`{"type":"Sequence","pretokenizers":[{"type":"Split","pattern":{"Regex":` +
			jsonString(spec.Pattern) + `},"behavior":"Isolated","invert":false},{"type":"ByteLevel","add_prefix_space":false,"trim_offsets":false,"use_regex":false}]}`)
	}
	if spec.NFC {
		fs.normalizer = json.RawMessage(`{"type":"NFC"}`)
	}
	model, err := newBPEModel(vocab, spec.Merges, spec.Config.UNKToken, false, false, name)
	if err != nil {
		return nil, err
	}
	t, err := build(model, spec.Added, fs, name)
	if err != nil {
		return nil, err
	}
	t.cfg = spec.Config
	return t, nil
}

// jsonString encodes s as JSON without HTML escaping, which would turn the
// "<" of "<|im_end|>" into \u003c.
func jsonString(s string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	return string(bytes.TrimRight(b.Bytes(), "\n"))
}

func rawOrNull(r json.RawMessage) string {
	if isNull(r) {
		return "null"
	}
	var b bytes.Buffer
	if json.Compact(&b, r) != nil {
		return "null"
	}
	return b.String()
}

// MarshalTokenizerJSON returns tokenizer.json in HuggingFace's schema:
// vocabulary in id order, merges as ["a", "b"] pairs in rank order.
func (t *Tokenizer) MarshalTokenizerJSON() []byte {
	var b bytes.Buffer
	b.WriteString("{\n  \"version\": \"1.0\",\n  \"truncation\": null,\n  \"padding\": null,\n  \"added_tokens\": [")
	for i, a := range t.added {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "\n    {\"id\": %d, \"content\": %s, \"single_word\": %t, \"lstrip\": %t, \"rstrip\": %t, \"normalized\": %t, \"special\": %t}",
			a.ID, jsonString(a.Content), a.SingleWord, a.LStrip, a.RStrip, a.Normalized, a.Special)
	}
	b.WriteString("\n  ],\n")
	fmt.Fprintf(&b, "  \"normalizer\": %s,\n  \"pre_tokenizer\": %s,\n  \"post_processor\": %s,\n  \"decoder\": %s,\n",
		rawOrNull(t.spec.normalizer), rawOrNull(t.spec.preTokenizer), rawOrNull(t.spec.postProcessor), rawOrNull(t.spec.decoder))
	m := t.model
	unk := "null"
	if m.unkToken != "" {
		unk = jsonString(m.unkToken)
	}
	fmt.Fprintf(&b, "  \"model\": {\n    \"type\": \"BPE\",\n    \"dropout\": null,\n    \"unk_token\": %s,\n"+
		"    \"continuing_subword_prefix\": \"\",\n    \"end_of_word_suffix\": \"\",\n    \"fuse_unk\": %t,\n"+
		"    \"byte_fallback\": %t,\n    \"ignore_merges\": %t,\n    \"vocab\": {", unk, m.fuseUnk, t.spm != nil && t.spm.byteFallback, m.ignoreMerges)
	first := true
	for id, tok := range m.tokens {
		if tok == "" {
			continue
		}
		if !first {
			b.WriteByte(',')
		}
		first = false
		fmt.Fprintf(&b, "\n      %s: %d", jsonString(tok), id)
	}
	b.WriteString("\n    },\n    \"merges\": [")
	for i, p := range m.merges {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "\n      [%s, %s]", jsonString(m.tokens[p[0]]), jsonString(m.tokens[p[1]]))
	}
	b.WriteString("\n    ]\n  }\n}\n")
	return b.Bytes()
}

// MarshalConfigJSON returns tokenizer_config.json: the loaded one with the
// fields this package knows updated, or a minimal one.
func (t *Tokenizer) MarshalConfigJSON() ([]byte, error) {
	out := map[string]json.RawMessage{}
	for k, v := range t.spec.rawConfig {
		out[k] = v
	}
	tokOrNull := func(s string) json.RawMessage {
		if s == "" {
			return json.RawMessage("null")
		}
		return json.RawMessage(jsonString(s))
	}
	out["bos_token"] = tokOrNull(t.cfg.BOSToken)
	out["eos_token"] = tokOrNull(t.cfg.EOSToken)
	out["pad_token"] = tokOrNull(t.cfg.PADToken)
	out["unk_token"] = tokOrNull(t.cfg.UNKToken)
	out["add_bos_token"] = json.RawMessage(strconv.FormatBool(t.cfg.AddBOSToken))
	out["add_eos_token"] = json.RawMessage(strconv.FormatBool(t.cfg.AddEOSToken))
	if t.cfg.ChatTemplate != "" {
		out["chat_template"] = json.RawMessage(jsonString(t.cfg.ChatTemplate))
	} else {
		delete(out, "chat_template")
	}
	if _, ok := out["tokenizer_class"]; !ok {
		out["tokenizer_class"] = json.RawMessage(`"PreTrainedTokenizerFast"`)
	}
	dec := map[string]any{}
	for _, a := range t.added {
		dec[strconv.Itoa(a.ID)] = map[string]any{"content": a.Content, "lstrip": a.LStrip, "normalized": a.Normalized,
			"rstrip": a.RStrip, "single_word": a.SingleWord, "special": a.Special}
	}
	var db bytes.Buffer
	enc := json.NewEncoder(&db)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(dec); err != nil {
		return nil, err
	}
	out["added_tokens_decoder"] = bytes.TrimSpace(db.Bytes())
	return indentJSON(out)
}

// indentJSON encodes v as the files HF writes it: two-space indent, no HTML
// escaping (chat templates are full of < and >).
func indentJSON(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// Save writes tokenizer.json and tokenizer_config.json into dir, creating
// it if needed; Load(dir) reads them back to an equivalent tokenizer.
func (t *Tokenizer) Save(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	cfg, err := t.MarshalConfigJSON()
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "tokenizer.json"), t.MarshalTokenizerJSON(), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "tokenizer_config.json"), cfg, 0o644)
}
