package tokenizer

import (
	"encoding/json"
	"fmt"
)

func isNull(raw json.RawMessage) bool {
	return len(raw) == 0 || string(raw) == "null"
}

// typed reads the "type" of a pipeline component.
func typed(raw json.RawMessage, name, field string) (string, error) {
	var h struct {
		Type *string `json:"type"`
	}
	if err := json.Unmarshal(raw, &h); err != nil || h.Type == nil {
		return "", fieldError(name, field, "expected an object with a \"type\"")
	}
	return *h.Type, nil
}

func parseNormalizer(raw json.RawMessage, name, field string) ([]normStep, error) {
	if isNull(raw) {
		return nil, nil
	}
	typ, err := typed(raw, name, field)
	if err != nil {
		return nil, err
	}
	if typ == "Sequence" {
		var seq struct {
			Normalizers []json.RawMessage `json:"normalizers"`
		}
		if err := json.Unmarshal(raw, &seq); err != nil {
			return nil, fieldError(name, field+".normalizers", "expected an array")
		}
		var steps []normStep
		for i, n := range seq.Normalizers {
			s, err := parseNormalizer(n, name, fmt.Sprintf("%s.normalizers[%d]", field, i))
			if err != nil {
				return nil, err
			}
			steps = append(steps, s...)
		}
		return steps, nil
	}
	st, err := newNormStep(typ)
	if err != nil {
		return nil, fieldError(name, field+".type", "%v", err)
	}
	return []normStep{st}, nil
}

type jsonPreTok struct {
	Type           string            `json:"type"`
	AddPrefixSpace bool              `json:"add_prefix_space"`
	UseRegex       *bool             `json:"use_regex"`
	Pattern        map[string]string `json:"pattern"`
	Behavior       string            `json:"behavior"`
	Invert         bool              `json:"invert"`
	PreTokenizers  []json.RawMessage `json:"pretokenizers"`
}

// parsePreTokenizer accepts ByteLevel, Split and Sequences of them with
// exactly one ByteLevel, which must come last: the byte-level mapping is then
// a pure respelling that the byte-based BPE performs implicitly.
func (t *Tokenizer) parsePreTokenizer(raw json.RawMessage, name string) error {
	if isNull(raw) {
		return fieldError(name, "pre_tokenizer", "missing: a byte-level BPE needs a ByteLevel pre-tokenizer")
	}
	var flat []jsonPreTok
	var fields []string
	var walk func(raw json.RawMessage, field string) error
	walk = func(raw json.RawMessage, field string) error {
		var p jsonPreTok
		if err := json.Unmarshal(raw, &p); err != nil {
			return jsonError(name+": "+field, err)
		}
		if p.Type == "Sequence" {
			for i, sub := range p.PreTokenizers {
				if err := walk(sub, fmt.Sprintf("%s.pretokenizers[%d]", field, i)); err != nil {
					return err
				}
			}
			return nil
		}
		flat = append(flat, p)
		fields = append(fields, field)
		return nil
	}
	if err := walk(raw, "pre_tokenizer"); err != nil {
		return err
	}
	sawByteLevel := false
	for i, p := range flat {
		field := fields[i]
		if sawByteLevel {
			return fieldError(name, field, "unsupported: pre-tokenizer after ByteLevel")
		}
		switch p.Type {
		case "ByteLevel":
			sawByteLevel = true
			if p.AddPrefixSpace {
				if i > 0 {
					return fieldError(name, field+".add_prefix_space", "unsupported after a Split")
				}
				t.prefixSpace = true
			}
			if p.UseRegex == nil || *p.UseRegex {
				st, _ := newSplitStage(PatternGPT2, false, behaviorIsolated, false)
				t.stages = append(t.stages, st)
			}
		case "Split":
			pat, literal := p.Pattern["Regex"], false
			if s, ok := p.Pattern["String"]; ok {
				pat, literal = s, true
			} else if _, ok := p.Pattern["Regex"]; !ok {
				return fieldError(name, field+".pattern", "expected {\"Regex\": ...} or {\"String\": ...}")
			}
			st, err := newSplitStage(pat, literal, p.Behavior, p.Invert)
			if err != nil {
				return fieldError(name, field, "%v", err)
			}
			t.stages = append(t.stages, st)
		default:
			return fieldError(name, field+".type", "unsupported pre-tokenizer %q", p.Type)
		}
	}
	if !sawByteLevel {
		return fieldError(name, "pre_tokenizer", "no ByteLevel step: not a byte-level BPE")
	}
	return nil
}

func (t *Tokenizer) parsePostProcessor(raw json.RawMessage, name, field string) error {
	if isNull(raw) {
		return nil
	}
	typ, err := typed(raw, name, field)
	if err != nil {
		return err
	}
	switch typ {
	case "ByteLevel":
		return nil // only adjusts offsets
	case "Sequence":
		var seq struct {
			Processors []json.RawMessage `json:"processors"`
		}
		if err := json.Unmarshal(raw, &seq); err != nil {
			return fieldError(name, field+".processors", "expected an array")
		}
		for i, p := range seq.Processors {
			if err := t.parsePostProcessor(p, name, fmt.Sprintf("%s.processors[%d]", field, i)); err != nil {
				return err
			}
		}
		return nil
	case "RobertaProcessing", "BertProcessing":
		var rp struct {
			Sep []json.RawMessage `json:"sep"`
			Cls []json.RawMessage `json:"cls"`
		}
		if err := json.Unmarshal(raw, &rp); err != nil || len(rp.Sep) != 2 || len(rp.Cls) != 2 {
			return fieldError(name, field, "expected sep and cls as [token, id]")
		}
		var sep, cls int
		if json.Unmarshal(rp.Sep[1], &sep) != nil || json.Unmarshal(rp.Cls[1], &cls) != nil {
			return fieldError(name, field, "expected integer ids in sep and cls")
		}
		t.post = &postProcessor{pre: []int{cls}, post: []int{sep}}
		return nil
	case "TemplateProcessing":
		var tp struct {
			Single []struct {
				SpecialToken *struct {
					ID string `json:"id"`
				} `json:"SpecialToken"`
				Sequence *struct {
					ID string `json:"id"`
				} `json:"Sequence"`
			} `json:"single"`
			SpecialTokens map[string]struct {
				IDs []int `json:"ids"`
			} `json:"special_tokens"`
		}
		if err := json.Unmarshal(raw, &tp); err != nil {
			return jsonError(name+": "+field, err)
		}
		pp := &postProcessor{}
		seenSeq := false
		for i, it := range tp.Single {
			switch {
			case it.Sequence != nil:
				seenSeq = true
			case it.SpecialToken != nil:
				st, ok := tp.SpecialTokens[it.SpecialToken.ID]
				if !ok {
					return fieldError(name, fmt.Sprintf("%s.single[%d]", field, i), "special token %q not in special_tokens", it.SpecialToken.ID)
				}
				if seenSeq {
					pp.post = append(pp.post, st.IDs...)
				} else {
					pp.pre = append(pp.pre, st.IDs...)
				}
			default:
				return fieldError(name, fmt.Sprintf("%s.single[%d]", field, i), "expected SpecialToken or Sequence")
			}
		}
		t.post = pp
		return nil
	}
	return fieldError(name, field+".type", "unsupported post-processor %q", typ)
}

func checkDecoder(raw json.RawMessage, name, field string) error {
	if isNull(raw) {
		return nil
	}
	typ, err := typed(raw, name, field)
	if err != nil {
		return err
	}
	if typ != "ByteLevel" {
		return fieldError(name, field+".type", "unsupported decoder %q (only ByteLevel)", typ)
	}
	return nil
}
