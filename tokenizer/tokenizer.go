package tokenizer

import (
	"strings"
	"sync"
)

// Tokenizer is a loaded byte-level BPE tokenizer. It is safe for concurrent
// use.
type Tokenizer struct {
	model *bpeModel

	added          []*AddedToken // ascending id
	addedByID      map[int]*AddedToken
	addedByContent map[string]*AddedToken
	rawToks        []*AddedToken // matched on the raw input
	rawMatch       *matcher
	normToks       []*AddedToken // matched on the normalized input
	normMatch      *matcher

	normalizer  []normStep
	stages      []*splitStage // pre-tokenizer splits, in order
	prefixSpace bool          // ByteLevel add_prefix_space
	post        *postProcessor
	spm         *spmPipeline // SentencePiece-style BPE (spm.go); nil for byte-level

	cfg  Config
	spec fileSpec // JSON sections kept verbatim for Save

	chatMu     sync.Mutex
	chat       *chatTemplate
	chatErr    error
	chatErrSrc string
}

// Config is what tokenizer_config.json adds to tokenizer.json.
type Config struct {
	BOSToken, EOSToken, PADToken, UNKToken string // "" when unset
	AddBOSToken, AddEOSToken               bool
	// ChatTemplate is the Jinja chat template; "" when the model has none
	// (RenderChat then uses ChatMLTemplate).
	ChatTemplate string
}

// Span is a half-open byte range [Start, End) of a string.
type Span struct{ Start, End int }

// EncodeOptions adjusts Encode. The zero value is HuggingFace's
// encode(text, add_special_tokens=False).
type EncodeOptions struct {
	// AddSpecialTokens applies the post-processor (TemplateProcessing or
	// RobertaProcessing in tokenizer.json) or, without one, prepends BOS /
	// appends EOS as tokenizer_config.json's add_bos_token/add_eos_token say.
	AddSpecialTokens bool
	// SplitSpecialTokens encodes the text of special tokens as ordinary
	// text, for untrusted content (HuggingFace's split_special_tokens).
	SplitSpecialTokens bool
}

// DecodeOptions adjusts Decode.
type DecodeOptions struct {
	SkipSpecial bool // drop special added tokens
}

// Encode returns the ids of text. Text spelling an added or special token
// becomes that token; no special tokens are added.
func (t *Tokenizer) Encode(text string) []int {
	ids, _ := t.encode(text, EncodeOptions{}, false)
	return ids
}

// EncodeWith is Encode with options.
func (t *Tokenizer) EncodeWith(text string, opt EncodeOptions) []int {
	ids, _ := t.encode(text, opt, false)
	return ids
}

// EncodeOffsets also returns, per id, the byte range of text it came from.
// Tokens added by AddSpecialTokens get empty spans at the start or end.
// A token inside a normalized character sequence may get an empty span.
func (t *Tokenizer) EncodeOffsets(text string, opt EncodeOptions) ([]int, []Span) {
	return t.encode(text, opt, true)
}

// encoder accumulates one encode call's output.
type encoder struct {
	t       *Tokenizer
	ids     []int
	offs    []Span
	want    bool
	spans   []int
	scratch []int
}

func (t *Tokenizer) encode(text string, opt EncodeOptions, wantOffsets bool) ([]int, []Span) {
	e := &encoder{t: t, ids: make([]int, 0, len(text)/3+1), want: wantOffsets}
	var skip func(*AddedToken) bool
	if opt.SplitSpecialTokens {
		skip = func(a *AddedToken) bool { return a.Special }
	}
	for _, sg := range t.rawMatch.findAdded(nil, text, t.rawToks, skip) {
		if sg.tok >= 0 {
			e.emit(t.rawToks[sg.tok].ID, Span{sg.a, sg.b})
			continue
		}
		e.encodeNormalizable(text[sg.a:sg.b], sg.a, skip)
	}
	if opt.AddSpecialTokens {
		e.addSpecial(len(text))
	}
	return e.ids, e.offs
}

func (e *encoder) emit(id int, sp Span) {
	e.ids = append(e.ids, id)
	if e.want {
		e.offs = append(e.offs, sp)
	}
}

// encodeNormalizable normalizes a piece of the input that held no raw added
// token, then splits it on normalized added tokens.
func (e *encoder) encodeNormalizable(piece string, base int, skip func(*AddedToken) bool) {
	t := e.t
	norm, align := piece, []int32(nil)
	if len(t.normalizer) > 0 {
		norm, align = normalize(t.normalizer, piece)
	}
	mapOff := func(i int) int {
		if align != nil {
			return base + int(align[i])
		}
		return base + i
	}
	if t.normMatch.empty() {
		e.encodeText(norm, mapOff)
		return
	}
	for _, sg := range t.normMatch.findAdded(nil, norm, t.normToks, skip) {
		if sg.tok >= 0 {
			e.emit(t.normToks[sg.tok].ID, Span{mapOff(sg.a), mapOff(sg.b)})
			continue
		}
		a := sg.a
		e.encodeText(norm[sg.a:sg.b], func(i int) int { return mapOff(a + i) })
	}
}

// encodeText pre-tokenizes and runs BPE on text free of added tokens.
// mapOff turns an offset into s into one into the caller's text.
func (e *encoder) encodeText(s string, mapOff func(int) int) {
	if s == "" {
		return
	}
	t := e.t
	if t.spm != nil {
		e.encodeSPM(s, mapOff)
		return
	}
	shift := 0
	if t.prefixSpace && !strings.HasPrefix(s, " ") {
		s, shift = " "+s, 1
	}
	spans := e.spans[:0]
	if len(t.stages) == 0 {
		spans = append(spans, 0, len(s))
	} else {
		spans = t.stages[0].appendSplits(spans, s, 0)
		for _, st := range t.stages[1:] {
			next := e.scratch[:0]
			for k := 0; k < len(spans); k += 2 {
				next = st.appendSplits(next, s[spans[k]:spans[k+1]], spans[k])
			}
			spans, e.scratch = next, spans
		}
	}
	e.spans = spans
	for k := 0; k < len(spans); k += 2 {
		a, b := spans[k], spans[k+1]
		n := len(e.ids)
		e.ids = t.model.encodeWord(e.ids, s[a:b])
		if !e.want {
			continue
		}
		pos := a
		for _, id := range e.ids[n:] {
			l := 1
			if id < len(t.model.raw) && id != int(t.model.unkID) {
				l = len(t.model.raw[id])
			}
			end := min(pos+l, b)
			e.offs = append(e.offs, Span{mapOff(max(pos-shift, 0)), mapOff(max(end-shift, 0))})
			pos = end
		}
	}
}

func (e *encoder) addSpecial(textLen int) {
	t := e.t
	var pre, post []int
	switch {
	case t.post != nil:
		pre, post = t.post.pre, t.post.post
	default:
		if id := t.BOS(); t.cfg.AddBOSToken && id >= 0 {
			pre = []int{id}
		}
		if id := t.EOS(); t.cfg.AddEOSToken && id >= 0 {
			post = []int{id}
		}
	}
	if len(pre) > 0 {
		e.ids = append(append([]int{}, pre...), e.ids...)
		if e.want {
			e.offs = append(make([]Span, len(pre)), e.offs...)
		}
	}
	for _, id := range post {
		e.emit(id, Span{textLen, textLen})
	}
}

// postProcessor is the single-sequence part of a TemplateProcessing or
// RobertaProcessing post_processor: ids around the sequence.
type postProcessor struct {
	pre, post []int
}

// Decode returns the text of ids. The result is the exact bytes the ids
// stand for, so decode(encode(x)) == x for any x, and decoding a prefix of
// a sequence may end in an incomplete UTF-8 sequence. Unknown ids are
// skipped.
func (t *Tokenizer) Decode(ids []int) string {
	return t.DecodeWith(ids, DecodeOptions{})
}

// DecodeWith is Decode with options.
func (t *Tokenizer) DecodeWith(ids []int, opt DecodeOptions) string {
	if t.spm != nil {
		return t.spm.decode(t, ids, opt)
	}
	var b strings.Builder
	for _, id := range ids {
		if a, ok := t.addedByID[id]; ok {
			if !(opt.SkipSpecial && a.Special) {
				b.WriteString(a.Content)
			}
			continue
		}
		if id >= 0 && id < len(t.model.raw) {
			b.WriteString(t.model.raw[id])
		}
	}
	return b.String()
}

// TokenID returns the id of a token given by its vocabulary spelling (for
// byte-level BPE, "Ġhello" for " hello") or an added token's content.
func (t *Tokenizer) TokenID(tok string) (int, bool) {
	if a, ok := t.addedByContent[tok]; ok {
		return a.ID, true
	}
	if id, ok := t.model.vocab[tok]; ok {
		return int(id), true
	}
	return -1, false
}

// IDToken returns the vocabulary spelling of id, or an added token's content.
func (t *Tokenizer) IDToken(id int) (string, bool) {
	if a, ok := t.addedByID[id]; ok {
		return a.Content, true
	}
	if id >= 0 && id < len(t.model.tokens) && t.model.tokens[id] != "" {
		return t.model.tokens[id], true
	}
	return "", false
}

// TokenBytes returns the raw bytes id decodes to.
func (t *Tokenizer) TokenBytes(id int) ([]byte, bool) {
	if a, ok := t.addedByID[id]; ok {
		return []byte(a.Content), true
	}
	if id >= 0 && id < len(t.model.raw) && t.model.tokens[id] != "" {
		return []byte(t.model.raw[id]), true
	}
	return nil, false
}

// VocabSize is one more than the largest id, added tokens included: the
// smallest embedding table that covers every id.
func (t *Tokenizer) VocabSize() int {
	n := len(t.model.tokens)
	for _, a := range t.added {
		n = max(n, a.ID+1)
	}
	return n
}

// AddedTokens returns the added tokens in id order.
func (t *Tokenizer) AddedTokens() []AddedToken {
	out := make([]AddedToken, len(t.added))
	for i, a := range t.added {
		out[i] = *a
	}
	return out
}

// Config returns the tokenizer_config.json settings.
func (t *Tokenizer) Config() Config { return t.cfg }

func (t *Tokenizer) idOf(tok string) int {
	if tok == "" {
		return -1
	}
	id, _ := t.TokenID(tok)
	return id
}

// BOS returns the BOS token id, or -1.
func (t *Tokenizer) BOS() int { return t.idOf(t.cfg.BOSToken) }

// EOS returns the EOS token id, or -1.
func (t *Tokenizer) EOS() int { return t.idOf(t.cfg.EOSToken) }

// PAD returns the padding token id, or -1.
func (t *Tokenizer) PAD() int { return t.idOf(t.cfg.PADToken) }

// UNK returns the unknown token id, or -1.
func (t *Tokenizer) UNK() int { return t.idOf(t.cfg.UNKToken) }

// IsSpecial reports whether id is a special added token.
func (t *Tokenizer) IsSpecial(id int) bool {
	a, ok := t.addedByID[id]
	return ok && a.Special
}
