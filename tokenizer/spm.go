package tokenizer

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"
)

// This file supports SentencePiece-style BPE tokenizer.json files (Llama 2,
// Mistral 7B v0.1-v0.3, TinyLlama): pieces spell spaces as "▁", text outside
// the vocabulary falls back to "<0xNN>" byte tokens, and the pipeline is
// either a Prepend+Replace normalizer or a Metaspace pre-tokenizer. The
// byte-level machinery does not apply, so encodeText and DecodeWith hand
// over to spmPipeline when Tokenizer.spm is set.

const metaspace = "▁"

// spmNormStep is one step of the normalizer: Prepend or Replace.
type spmNormStep struct {
	prepend  string // Prepend when non-empty
	from, to string // Replace otherwise
}

// spmDecodeStep is one decoder in the chain; kind is HF's type name.
type spmDecodeStep struct {
	kind        string
	from, to    string // Replace
	content     rune   // Strip
	start, stop int    // Strip
	repl        rune   // Metaspace
	prependNone bool   // Metaspace prepend_scheme "never"
}

// spmPipeline is what a SentencePiece-style file adds to the BPE model.
type spmPipeline struct {
	norm []spmNormStep
	// Metaspace pre-tokenizer; metaRepl == "" when there is none.
	metaRepl     string
	metaPrepend  string // "always", "first" or "never"
	metaSplit    bool
	byteFallback bool
	byteTok      [256]int32 // id of "<0xNN>", -1 when missing
	byteOf       map[int32]byte
	dec          []spmDecodeStep
	hasDecoder   bool
}

// isSPMFile reports whether tokenizer.json describes a SentencePiece-style
// BPE rather than a byte-level one.
func isSPMFile(f *jsonFile) bool {
	if f.Model != nil && f.Model.ByteFallback {
		return true
	}
	for _, raw := range []json.RawMessage{f.Normalizer, f.PreTokenizer, f.Decoder} {
		s := string(raw)
		if strings.Contains(s, `"Metaspace"`) || strings.Contains(s, `"Prepend"`) || strings.Contains(s, `"ByteFallback"`) {
			return true
		}
	}
	return false
}

// parseSPM builds a Tokenizer for a SentencePiece-style tokenizer.json.
func parseSPM(f *jsonFile, name string) (*Tokenizer, error) {
	m := f.Model
	if m.Type != "BPE" && m.Type != "" {
		return nil, fieldError(name, "model.type", "unsupported model type %q (only BPE)", m.Type)
	}
	if m.Vocab == nil {
		return nil, fieldError(name, "model.vocab", "missing")
	}
	if m.ContinuingSubwordPrefix != nil && *m.ContinuingSubwordPrefix != "" {
		return nil, fieldError(name, "model.continuing_subword_prefix", "unsupported value %q", *m.ContinuingSubwordPrefix)
	}
	if m.EndOfWordSuffix != nil && *m.EndOfWordSuffix != "" {
		return nil, fieldError(name, "model.end_of_word_suffix", "unsupported value %q", *m.EndOfWordSuffix)
	}
	if m.Dropout != nil && *m.Dropout != 0 {
		return nil, fieldError(name, "model.dropout", "unsupported value %v", *m.Dropout)
	}
	merges, err := parseMerges(m.Merges, name)
	if err != nil {
		return nil, err
	}
	unk := ""
	if m.UnkToken != nil {
		unk = *m.UnkToken
	}
	model, err := newBPEModel(m.Vocab, merges, unk, m.IgnoreMerges, m.FuseUnk, name)
	if err != nil {
		return nil, err
	}
	p := &spmPipeline{byteFallback: m.ByteFallback, byteOf: map[int32]byte{}}
	for b := range p.byteTok {
		p.byteTok[b] = -1
		if id, ok := model.vocab[fmt.Sprintf("<0x%02X>", b)]; ok {
			p.byteTok[b] = id
			p.byteOf[id] = byte(b)
		}
	}
	// Raw bytes per id serve TokenBytes and offsets; the byte-level lookups
	// must never match.
	model.rawVocab = map[string]int32{}
	for b := range model.byteID {
		model.byteID[b] = -1
	}
	for id, tok := range model.tokens {
		model.raw[id] = strings.ReplaceAll(tok, metaspace, " ")
	}
	for b, id := range p.byteTok {
		if id >= 0 {
			model.raw[id] = string([]byte{byte(b)})
		}
	}
	if p.norm, err = parseSPMNormalizer(f.Normalizer, name, "normalizer"); err != nil {
		return nil, err
	}
	if err := p.parsePreTokenizer(f.PreTokenizer, name); err != nil {
		return nil, err
	}
	if len(p.norm) == 0 && p.metaRepl == "" {
		// HF would run such a file, but nothing then spells spaces as
		// pieces: it is not a layout this package claims to reproduce.
		return nil, fieldError(name, "model.byte_fallback", "SentencePiece-style BPE without a Prepend/Replace normalizer or a Metaspace pre_tokenizer is unsupported")
	}
	if !isNull(f.Decoder) {
		p.hasDecoder = true
		if p.dec, err = parseSPMDecoder(f.Decoder, name, "decoder"); err != nil {
			return nil, err
		}
	}
	added, err := parseAddedTokens(f.AddedTokens, name)
	if err != nil {
		return nil, err
	}
	t := &Tokenizer{model: model, spm: p,
		spec: fileSpec{normalizer: f.Normalizer, preTokenizer: f.PreTokenizer, postProcessor: f.PostProcessor, decoder: f.Decoder}}
	if err := t.parsePostProcessor(f.PostProcessor, name, "post_processor"); err != nil {
		return nil, err
	}
	if unk != "" {
		t.cfg.UNKToken = unk
	}
	for i := range added {
		if err := t.addToken(added[i]); err != nil {
			return nil, fieldError(name, fmt.Sprintf("added_tokens[%d]", i), "%v", err)
		}
	}
	t.refreshAdded()
	return t, nil
}

// parseAddedTokens validates tokenizer.json's added_tokens for either model kind.
func parseAddedTokens(in []jsonAdded, name string) ([]AddedToken, error) {
	var added []AddedToken
	for i, a := range in {
		field := fmt.Sprintf("added_tokens[%d]", i)
		if a.ID == nil || a.Content == nil {
			return nil, fieldError(name, field, "missing id or content")
		}
		if *a.ID < 0 || *a.Content == "" {
			return nil, fieldError(name, field, "bad id %d or empty content", *a.ID)
		}
		normalized := !a.Special
		if a.Normalized != nil {
			normalized = *a.Normalized
		}
		added = append(added, AddedToken{ID: *a.ID, Content: *a.Content, Special: a.Special,
			Normalized: normalized, LStrip: a.LStrip, RStrip: a.RStrip, SingleWord: a.SingleWord})
	}
	return added, nil
}

type jsonSPMStep struct {
	Type          string            `json:"type"`
	Prepend       *string           `json:"prepend"`
	Pattern       map[string]string `json:"pattern"`
	Content       *string           `json:"content"`
	Start, Stop   *int
	Replacement   *string           `json:"replacement"`
	PrependScheme *string           `json:"prepend_scheme"`
	AddPrefix     *bool             `json:"add_prefix_space"`
	Split         *bool             `json:"split"`
	Normalizers   []json.RawMessage `json:"normalizers"`
	Decoders      []json.RawMessage `json:"decoders"`
}

func decodeStep(raw json.RawMessage, name, field string) (*jsonSPMStep, error) {
	var s jsonSPMStep
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, jsonError(name+": "+field, err)
	}
	if s.Type == "" {
		return nil, fieldError(name, field, "expected an object with a \"type\"")
	}
	return &s, nil
}

// replacePattern reads a Replace step's {"String": s} pattern; regex
// patterns are not supported.
func replacePattern(s *jsonSPMStep, name, field string) (string, string, error) {
	from, ok := s.Pattern["String"]
	if !ok || len(s.Pattern) != 1 || from == "" {
		return "", "", fieldError(name, field+".pattern", "expected {\"String\": non-empty text}")
	}
	if s.Content == nil {
		return "", "", fieldError(name, field+".content", "missing")
	}
	return from, *s.Content, nil
}

func parseSPMNormalizer(raw json.RawMessage, name, field string) ([]spmNormStep, error) {
	if isNull(raw) {
		return nil, nil
	}
	s, err := decodeStep(raw, name, field)
	if err != nil {
		return nil, err
	}
	switch s.Type {
	case "Sequence":
		var out []spmNormStep
		for i, n := range s.Normalizers {
			st, err := parseSPMNormalizer(n, name, fmt.Sprintf("%s.normalizers[%d]", field, i))
			if err != nil {
				return nil, err
			}
			out = append(out, st...)
		}
		return out, nil
	case "Prepend":
		if s.Prepend == nil || *s.Prepend == "" {
			return nil, fieldError(name, field+".prepend", "missing or empty")
		}
		return []spmNormStep{{prepend: *s.Prepend}}, nil
	case "Replace":
		from, to, err := replacePattern(s, name, field)
		if err != nil {
			return nil, err
		}
		return []spmNormStep{{from: from, to: to}}, nil
	}
	return nil, fieldError(name, field+".type", "unsupported normalizer %q in a SentencePiece-style BPE", s.Type)
}

func (p *spmPipeline) parsePreTokenizer(raw json.RawMessage, name string) error {
	const field = "pre_tokenizer"
	if isNull(raw) {
		return nil
	}
	s, err := decodeStep(raw, name, field)
	if err != nil {
		return err
	}
	if s.Type != "Metaspace" {
		return fieldError(name, field+".type", "unsupported pre-tokenizer %q in a SentencePiece-style BPE (only Metaspace)", s.Type)
	}
	repl, scheme, err := metaspaceArgs(s, name, field)
	if err != nil {
		return err
	}
	p.metaRepl, p.metaPrepend = repl, scheme
	p.metaSplit = s.Split == nil || *s.Split
	return nil
}

// metaspaceArgs reads replacement and prepend_scheme, or the older
// add_prefix_space (true meaning "always").
func metaspaceArgs(s *jsonSPMStep, name, field string) (string, string, error) {
	if s.Replacement == nil || utf8.RuneCountInString(*s.Replacement) != 1 {
		return "", "", fieldError(name, field+".replacement", "expected one character")
	}
	scheme := "always"
	switch {
	case s.PrependScheme != nil:
		scheme = *s.PrependScheme
		if scheme != "always" && scheme != "first" && scheme != "never" {
			return "", "", fieldError(name, field+".prepend_scheme", "unsupported value %q", scheme)
		}
	case s.AddPrefix != nil && !*s.AddPrefix:
		scheme = "never"
	}
	return *s.Replacement, scheme, nil
}

func parseSPMDecoder(raw json.RawMessage, name, field string) ([]spmDecodeStep, error) {
	s, err := decodeStep(raw, name, field)
	if err != nil {
		return nil, err
	}
	switch s.Type {
	case "Sequence":
		var out []spmDecodeStep
		for i, d := range s.Decoders {
			st, err := parseSPMDecoder(d, name, fmt.Sprintf("%s.decoders[%d]", field, i))
			if err != nil {
				return nil, err
			}
			out = append(out, st...)
		}
		return out, nil
	case "Replace":
		from, to, err := replacePattern(s, name, field)
		if err != nil {
			return nil, err
		}
		return []spmDecodeStep{{kind: s.Type, from: from, to: to}}, nil
	case "ByteFallback", "Fuse":
		return []spmDecodeStep{{kind: s.Type}}, nil
	case "Strip":
		if s.Content == nil || utf8.RuneCountInString(*s.Content) != 1 {
			return nil, fieldError(name, field+".content", "expected one character")
		}
		if s.Start == nil || s.Stop == nil || *s.Start < 0 || *s.Stop < 0 {
			return nil, fieldError(name, field+".start", "expected non-negative start and stop")
		}
		c, _ := utf8.DecodeRuneInString(*s.Content)
		return []spmDecodeStep{{kind: s.Type, content: c, start: *s.Start, stop: *s.Stop}}, nil
	case "Metaspace":
		repl, scheme, err := metaspaceArgs(s, name, field)
		if err != nil {
			return nil, err
		}
		r, _ := utf8.DecodeRuneInString(repl)
		return []spmDecodeStep{{kind: s.Type, repl: r, prependNone: scheme == "never"}}, nil
	}
	return nil, fieldError(name, field+".type", "unsupported decoder %q in a SentencePiece-style BPE", s.Type)
}
