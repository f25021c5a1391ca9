package tokenizer

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// fileSpec keeps the tokenizer.json sections that are interpreted but not
// rebuilt, so Save writes them back as they were.
type fileSpec struct {
	normalizer, preTokenizer, postProcessor, decoder json.RawMessage
	rawConfig                                        map[string]json.RawMessage // tokenizer_config.json
}

type jsonAdded struct {
	ID         *int    `json:"id"`
	Content    *string `json:"content"`
	SingleWord bool    `json:"single_word"`
	LStrip     bool    `json:"lstrip"`
	RStrip     bool    `json:"rstrip"`
	Normalized *bool   `json:"normalized"`
	Special    bool    `json:"special"`
}

type jsonModel struct {
	Type                    string          `json:"type"`
	UnkToken                *string         `json:"unk_token"`
	ContinuingSubwordPrefix *string         `json:"continuing_subword_prefix"`
	EndOfWordSuffix         *string         `json:"end_of_word_suffix"`
	FuseUnk                 bool            `json:"fuse_unk"`
	ByteFallback            bool            `json:"byte_fallback"`
	IgnoreMerges            bool            `json:"ignore_merges"`
	Vocab                   jsonVocab       `json:"vocab"`
	Merges                  json.RawMessage `json:"merges"`
	Dropout                 *float64        `json:"dropout"`
	Extra                   map[string]any  `json:"-"`
	_                       struct{}        `json:"-"`
}

type jsonFile struct {
	AddedTokens   []jsonAdded     `json:"added_tokens"`
	Normalizer    json.RawMessage `json:"normalizer"`
	PreTokenizer  json.RawMessage `json:"pre_tokenizer"`
	PostProcessor json.RawMessage `json:"post_processor"`
	Decoder       json.RawMessage `json:"decoder"`
	Model         *jsonModel      `json:"model"`
}

// fieldError names the file and field of a bad value.
func fieldError(file, field string, format string, args ...any) error {
	return fmt.Errorf("%s: %s: %s", file, field, fmt.Sprintf(format, args...))
}

// jsonError turns a decoding error into one naming the file and field.
func jsonError(file string, err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		field := te.Field
		if field == "" {
			field = "(top level)"
		}
		return fmt.Errorf("%s: %s: expected %s, found JSON %s", file, field, te.Type, te.Value)
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Errorf("%s: invalid JSON at byte %d: %v", file, se.Offset, err)
	}
	return fmt.Errorf("%s: %v", file, err)
}

// Load reads a tokenizer directory: tokenizer.json, or GPT-2's vocab.json
// and merges.txt, plus tokenizer_config.json when present.
func Load(dir string) (*Tokenizer, error) {
	var t *Tokenizer
	var err error
	tj := filepath.Join(dir, "tokenizer.json")
	if _, statErr := os.Stat(tj); statErr == nil {
		t, err = LoadTokenizerJSON(tj)
	} else {
		vocab, merges := filepath.Join(dir, "vocab.json"), filepath.Join(dir, "merges.txt")
		if _, e1 := os.Stat(vocab); e1 != nil {
			return nil, fmt.Errorf("%s: no tokenizer.json or vocab.json + merges.txt", dir)
		}
		t, err = LoadVocabMerges(vocab, merges)
	}
	if err != nil {
		return nil, err
	}
	cfgPath := filepath.Join(dir, "tokenizer_config.json")
	data, err := os.ReadFile(cfgPath)
	switch {
	case err == nil:
		if err := t.applyConfig(data, cfgPath); err != nil {
			return nil, err
		}
	case os.IsNotExist(err):
		t.gpt2Defaults()
	default:
		return nil, err
	}
	if t.cfg.ChatTemplate == "" {
		if b, err := os.ReadFile(filepath.Join(dir, "chat_template.jinja")); err == nil {
			t.cfg.ChatTemplate = string(b)
		}
	}
	return t, nil
}

// LoadTokenizerJSON reads a HuggingFace tokenizer.json (a byte-level BPE).
func LoadTokenizerJSON(path string) (*Tokenizer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseTokenizerJSON(data, path)
}

// ParseTokenizerJSON parses tokenizer.json content; name is used in errors.
func ParseTokenizerJSON(data []byte, name string) (*Tokenizer, error) {
	var f jsonFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, jsonError(name, err)
	}
	if f.Model == nil {
		return nil, fieldError(name, "model", "missing")
	}
	if isSPMFile(&f) {
		return parseSPM(&f, name)
	}
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
	if m.ByteFallback {
		return nil, fieldError(name, "model.byte_fallback", "unsupported (not a byte-level BPE)")
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
	added, err := parseAddedTokens(f.AddedTokens, name)
	if err != nil {
		return nil, err
	}
	spec := fileSpec{normalizer: f.Normalizer, preTokenizer: f.PreTokenizer,
		postProcessor: f.PostProcessor, decoder: f.Decoder}
	return build(model, added, spec, name)
}

// parseMerges accepts both merge spellings: "a b" strings (older files,
// merges.txt) and ["a", "b"] pairs (tokenizers >= 0.20).
func parseMerges(raw json.RawMessage, name string) ([][2]string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	if out, ok := scanMerges(raw); ok {
		return out, nil
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, fieldError(name, "model.merges", "expected an array")
	}
	return parseMergesSlow(items, name)
}

// parseMergesSlow decodes the merges one by one with encoding/json, naming
// the first bad one.
func parseMergesSlow(items []json.RawMessage, name string) ([][2]string, error) {
	out := make([][2]string, len(items))
	for i, it := range items {
		it = bytes.TrimSpace(it)
		if len(it) > 0 && it[0] == '"' {
			var s string
			if err := json.Unmarshal(it, &s); err != nil {
				return nil, fieldError(name, fmt.Sprintf("model.merges[%d]", i), "%v", err)
			}
			a, b, ok := splitMerge(s)
			if !ok {
				return nil, fieldError(name, fmt.Sprintf("model.merges[%d]", i), "%q is not two tokens separated by one space", s)
			}
			out[i] = [2]string{a, b}
			continue
		}
		var pair []string
		if err := json.Unmarshal(it, &pair); err != nil || len(pair) != 2 {
			return nil, fieldError(name, fmt.Sprintf("model.merges[%d]", i), "expected \"a b\" or [\"a\", \"b\"], found %.40s", it)
		}
		out[i] = [2]string{pair[0], pair[1]}
	}
	return out, nil
}

func splitMerge(s string) (string, string, bool) {
	a, b, ok := strings.Cut(s, " ")
	if !ok || strings.Contains(b, " ") {
		return "", "", false
	}
	return a, b, true
}

// newBPEModel indexes a vocabulary and its merges.
// It keeps vocab as its token → id map.
func newBPEModel(vocab map[string]int32, merges [][2]string, unk string, ignoreMerges, fuseUnk bool, name string) (*bpeModel, error) {
	maxID := -1
	for tok, id := range vocab {
		if id < 0 || id > 1<<30 {
			return nil, fieldError(name, "model.vocab", "token %q has bad id %d", tok, id)
		}
		maxID = max(maxID, int(id))
	}
	m := &bpeModel{
		tokens:       make([]string, maxID+1),
		raw:          make([]string, maxID+1),
		vocab:        vocab,
		mergeMap:     newMergeTable(len(merges)),
		unkID:        -1,
		unkToken:     unk,
		ignoreMerges: ignoreMerges,
		fuseUnk:      fuseUnk,
	}
	if ignoreMerges { // the only reader of rawVocab (bpeModel.encodeWord)
		m.rawVocab = make(map[string]int32, len(vocab))
	}
	for tok, id := range vocab {
		if m.tokens[id] != "" {
			// Two spellings for one id: keep the smaller for determinism.
			if tok > m.tokens[id] {
				continue
			}
		}
		m.tokens[id] = tok
	}
	for tok, id := range vocab {
		if m.tokens[id] != tok {
			continue
		}
		raw, ok := byteLevelDecode(tok)
		rs := string(raw)
		m.raw[id] = rs
		if ok && m.rawVocab != nil {
			m.rawVocab[rs] = id
		}
	}
	for b := 0; b < 256; b++ {
		m.byteID[b] = -1
		if id, ok := m.vocab[string(byteToRune[b])]; ok {
			m.byteID[b] = id
		}
	}
	if unk != "" {
		id, ok := m.vocab[unk]
		if !ok {
			return nil, fieldError(name, "model.unk_token", "%q is not in the vocabulary", unk)
		}
		m.unkID = id
	}
	m.merges = make([][2]int32, len(merges))
	var buf []byte
	for rank, mg := range merges {
		a, okA := m.vocab[mg[0]]
		b, okB := m.vocab[mg[1]]
		field := func() string { return fmt.Sprintf("model.merges[%d]", rank) }
		if !okA || !okB {
			missing := mg[0]
			if okA {
				missing = mg[1]
			}
			return nil, fieldError(name, field(), "merge %q %q references unknown token %q", mg[0], mg[1], missing)
		}
		buf = append(append(buf[:0], mg[0]...), mg[1]...)
		n, ok := m.vocab[string(buf)] // no allocation for the lookup
		if !ok {
			return nil, fieldError(name, field(), "merge result %q is not in the vocabulary", mg[0]+mg[1])
		}
		m.merges[rank] = [2]int32{a, b}
		// A repeated pair keeps its last rank, as HuggingFace's map does.
		m.mergeMap.put(pairKey(a, b), merge{rank: int32(rank), newID: n})
	}
	return m, nil
}

// LoadVocabMerges reads GPT-2's vocab.json + merges.txt layout. That layout
// has no pre-tokenizer description: it is GPT-2's ByteLevel.
func LoadVocabMerges(vocabPath, mergesPath string) (*Tokenizer, error) {
	data, err := os.ReadFile(vocabPath)
	if err != nil {
		return nil, err
	}
	var vocab map[string]int
	if err := json.Unmarshal(data, &vocab); err != nil {
		return nil, jsonError(vocabPath, err)
	}
	if vocab == nil {
		return nil, fieldError(vocabPath, "(top level)", "expected an object of token -> id")
	}
	text, err := os.ReadFile(mergesPath)
	if err != nil {
		return nil, err
	}
	var merges [][2]string
	for i, line := range strings.Split(string(text), "\n") {
		line = strings.TrimSuffix(line, "\r")
		if line == "" || strings.HasPrefix(line, "#version") {
			continue
		}
		a, b, ok := splitMerge(line)
		if !ok {
			return nil, fmt.Errorf("%s: line %d: %q is not two tokens separated by one space", mergesPath, i+1, line)
		}
		merges = append(merges, [2]string{a, b})
	}
	v32, err := vocab32(vocab)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", vocabPath, err)
	}
	model, err := newBPEModel(v32, merges, "", false, false, mergesPath)
	if err != nil {
		return nil, err
	}
	spec := fileSpec{
		preTokenizer:  json.RawMessage(`{"type":"ByteLevel","add_prefix_space":false,"trim_offsets":true,"use_regex":true}`),
		postProcessor: json.RawMessage(`{"type":"ByteLevel","add_prefix_space":true,"trim_offsets":false,"use_regex":true}`),
		decoder:       json.RawMessage(`{"type":"ByteLevel","add_prefix_space":true,"trim_offsets":true,"use_regex":true}`),
	}
	return build(model, nil, spec, vocabPath)
}

// build interprets the pipeline sections and indexes added tokens.
func build(model *bpeModel, added []AddedToken, spec fileSpec, name string) (*Tokenizer, error) {
	t := &Tokenizer{model: model, spec: spec}
	var err error
	if t.normalizer, err = parseNormalizer(spec.normalizer, name, "normalizer"); err != nil {
		return nil, err
	}
	if err := t.parsePreTokenizer(spec.preTokenizer, name); err != nil {
		return nil, err
	}
	if err := t.parsePostProcessor(spec.postProcessor, name, "post_processor"); err != nil {
		return nil, err
	}
	if err := checkDecoder(spec.decoder, name, "decoder"); err != nil {
		return nil, err
	}
	if model.unkToken != "" {
		t.cfg.UNKToken = model.unkToken
	}
	for i := range added {
		if err := t.addToken(added[i]); err != nil {
			return nil, fieldError(name, fmt.Sprintf("added_tokens[%d]", i), "%v", err)
		}
	}
	t.refreshAdded()
	return t, nil
}

// addToken registers an added token; a token already present by content
// keeps its entry.
func (t *Tokenizer) addToken(a AddedToken) error {
	if t.addedByID == nil {
		t.addedByID = map[int]*AddedToken{}
		t.addedByContent = map[string]*AddedToken{}
	}
	if _, ok := t.addedByContent[a.Content]; ok {
		return nil
	}
	if prev, ok := t.addedByID[a.ID]; ok {
		return fmt.Errorf("id %d used by both %q and %q", a.ID, prev.Content, a.Content)
	}
	p := &a
	t.addedByID[a.ID] = p
	t.addedByContent[a.Content] = p
	return nil
}

// refreshAdded rebuilds the sorted list and the two matchers.
func (t *Tokenizer) refreshAdded() {
	t.added = t.added[:0]
	for _, a := range t.addedByID {
		t.added = append(t.added, a)
	}
	sort.Slice(t.added, func(i, j int) bool { return t.added[i].ID < t.added[j].ID })
	t.rawToks, t.normToks = nil, nil
	var rawC, normC []string
	for _, a := range t.added {
		if a.Normalized {
			t.normToks = append(t.normToks, a)
			c, _ := normalize(t.normalizer, a.Content)
			normC = append(normC, c)
		} else {
			t.rawToks = append(t.rawToks, a)
			rawC = append(rawC, a.Content)
		}
	}
	t.rawMatch, t.normMatch = newMatcher(rawC), newMatcher(normC)
}

// gpt2Defaults stands in for a missing tokenizer_config.json the way
// transformers' GPT-2 tokenizer classes do: <|endoftext|> is BOS, EOS and
// UNK, and is matched as a special token.
func (t *Tokenizer) gpt2Defaults() {
	const eot = "<|endoftext|>"
	id, ok := t.model.vocab[eot]
	if _, added := t.addedByContent[eot]; !ok && !added {
		return
	}
	t.cfg.BOSToken, t.cfg.EOSToken = eot, eot
	if t.cfg.UNKToken == "" {
		t.cfg.UNKToken = eot
	}
	if ok {
		_ = t.addToken(AddedToken{ID: int(id), Content: eot, Special: true})
		t.refreshAdded()
	}
}
