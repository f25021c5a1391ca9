package tokenizer

import (
	"strings"
	"unicode/utf8"
)

// spmNormalize applies the normalizer and the Metaspace pre-tokenizer's
// rewriting to s. align[i] is the offset in s of normalized byte i, with
// one extra entry for the end. atStart says s begins the caller's text, for
// prepend_scheme "first".
func (p *spmPipeline) spmNormalize(s string, atStart bool) (string, []int) {
	align := make([]int, len(s)+1)
	for i := range align {
		align[i] = i
	}
	replace := func(from, to string) {
		if !strings.Contains(s, from) {
			return
		}
		var b strings.Builder
		na := make([]int, 0, len(align))
		for i := 0; i < len(s); {
			if strings.HasPrefix(s[i:], from) {
				b.WriteString(to)
				for range len(to) {
					na = append(na, align[i])
				}
				i += len(from)
				continue
			}
			b.WriteByte(s[i])
			na = append(na, align[i])
			i++
		}
		s = b.String()
		align = append(na, align[len(align)-1])
	}
	prepend := func(pre string) {
		s = pre + s
		na := make([]int, len(pre), len(pre)+len(align))
		align = append(na, align...)
	}
	for _, st := range p.norm {
		if st.prepend != "" {
			if s != "" {
				prepend(st.prepend)
			}
			continue
		}
		replace(st.from, st.to)
	}
	if p.metaRepl != "" {
		replace(" ", p.metaRepl)
		if !strings.HasPrefix(s, p.metaRepl) && (p.metaPrepend == "always" || p.metaPrepend == "first" && atStart) {
			prepend(p.metaRepl)
		}
	}
	return s, align
}

// encodeSPM is encodeText for SentencePiece-style files.
func (e *encoder) encodeSPM(s string, mapOff func(int) int) {
	p := e.t.spm
	norm, align := p.spmNormalize(s, mapOff(0) == 0)
	start := 0
	for i := 0; i <= len(norm); i++ {
		end := i == len(norm)
		if !end && !(p.metaSplit && p.metaRepl != "" && i > start && strings.HasPrefix(norm[i:], p.metaRepl)) {
			continue
		}
		if i > start {
			e.spmWord(norm[start:i], func(k int) int { return mapOff(align[start+k]) })
		}
		start = i
		if end {
			break
		}
	}
}

// spmWord runs BPE with byte fallback on one pre-tokenized word, as
// HuggingFace's BPE::merge_word does.
func (e *encoder) spmWord(w string, mapOff func(int) int) {
	m, p := e.t.model, e.t.spm
	if m.ignoreMerges {
		if id, ok := m.vocab[w]; ok {
			e.emitSPM([]int32{id}, nil, w, mapOff)
			return
		}
	}
	syms := make([]int32, 0, len(w))
	var unkLens []int // byte length of each unk symbol, in order
	unkLen := 0       // pending unk, 0 when none
	for i := 0; i < len(w); {
		_, n := utf8.DecodeRuneInString(w[i:])
		c := w[i : i+n]
		i += n
		if id, ok := m.vocab[c]; ok {
			if unkLen > 0 {
				syms, unkLens = append(syms, m.unkID), append(unkLens, unkLen)
				unkLen = 0
			}
			syms = append(syms, id)
			continue
		}
		if p.byteFallback && p.hasBytes(c) {
			// Like HF, byte tokens go in before a pending unk is flushed.
			for k := 0; k < len(c); k++ {
				syms = append(syms, p.byteTok[c[k]])
			}
			continue
		}
		if m.unkID < 0 {
			continue
		}
		switch {
		case unkLen > 0 && m.fuseUnk:
			unkLen += n
		case unkLen > 0:
			syms, unkLens = append(syms, m.unkID), append(unkLens, unkLen)
			unkLen = n
		default:
			unkLen = n
		}
	}
	if unkLen > 0 {
		syms, unkLens = append(syms, m.unkID), append(unkLens, unkLen)
	}
	if len(syms) > 1 {
		syms = m.mergeWordHeap(syms)
	}
	e.emitSPM(syms, unkLens, w, mapOff)
}

func (p *spmPipeline) hasBytes(c string) bool {
	for k := 0; k < len(c); k++ {
		if p.byteTok[c[k]] < 0 {
			return false
		}
	}
	return true
}

// emitSPM appends ids and, when wanted, their offsets: a token covers as
// many bytes of the normalized word as its spelling (one for a byte token).
func (e *encoder) emitSPM(ids []int32, unkLens []int, w string, mapOff func(int) int) {
	m, p := e.t.model, e.t.spm
	pos := 0
	for _, id := range ids {
		e.ids = append(e.ids, int(id))
		if !e.want {
			continue
		}
		l := 1
		switch {
		case id == m.unkID && len(unkLens) > 0:
			l, unkLens = unkLens[0], unkLens[1:]
		case p.isByteTok(id):
		case int(id) < len(m.tokens):
			l = len(m.tokens[id])
		}
		end := min(pos+l, len(w))
		e.offs = append(e.offs, Span{mapOff(pos), mapOff(end)})
		pos = end
	}
}

func (p *spmPipeline) isByteTok(id int32) bool {
	b, ok := p.byteOf[id]
	return ok && p.byteTok[b] == id
}

// decode runs ids through the decoder chain, as HF's Tokenizer::decode.
func (p *spmPipeline) decode(t *Tokenizer, ids []int, opt DecodeOptions) string {
	toks := make([]string, 0, len(ids))
	for _, id := range ids {
		if a, ok := t.addedByID[id]; ok {
			if !(opt.SkipSpecial && a.Special) {
				toks = append(toks, a.Content)
			}
			continue
		}
		if id >= 0 && id < len(t.model.tokens) && t.model.tokens[id] != "" {
			toks = append(toks, t.model.tokens[id])
		}
	}
	if !p.hasDecoder {
		return strings.Join(toks, " ")
	}
	for _, st := range p.dec {
		toks = st.apply(toks)
	}
	return strings.Join(toks, "")
}

func (st spmDecodeStep) apply(toks []string) []string {
	switch st.kind {
	case "Replace":
		for i, s := range toks {
			toks[i] = strings.ReplaceAll(s, st.from, st.to)
		}
	case "Fuse":
		return []string{strings.Join(toks, "")}
	case "ByteFallback":
		return byteFallbackDecode(toks)
	case "Strip":
		for i, s := range toks {
			toks[i] = stripRunes(s, st.content, st.start, st.stop)
		}
	case "Metaspace":
		for i, s := range toks {
			var b strings.Builder
			for _, r := range s {
				switch {
				case r != st.repl:
					b.WriteRune(r)
				case i == 0 && !st.prependNone:
				default:
					b.WriteByte(' ')
				}
			}
			toks[i] = b.String()
		}
	}
	return toks
}

// byteFallbackDecode joins runs of "<0xNN>" tokens into their bytes, or
// one U+FFFD per byte when the run is not valid UTF-8.
func byteFallbackDecode(toks []string) []string {
	out := make([]string, 0, len(toks))
	var pend []byte
	flush := func() {
		if len(pend) == 0 {
			return
		}
		if utf8.Valid(pend) {
			out = append(out, string(pend))
		} else {
			for range pend {
				out = append(out, "\uFFFD")
			}
		}
		pend = pend[:0]
	}
	for _, s := range toks {
		if b, ok := byteToken(s); ok {
			pend = append(pend, b)
			continue
		}
		flush()
		out = append(out, s)
	}
	flush()
	return out
}

// byteToken parses "<0xNN>" (either hex case, as Rust's from_str_radix).
func byteToken(s string) (byte, bool) {
	if len(s) != 6 || !strings.HasPrefix(s, "<0x") || s[5] != '>' {
		return 0, false
	}
	var v byte
	for _, c := range []byte(s[3:5]) {
		switch {
		case c >= '0' && c <= '9':
			v = v<<4 | (c - '0')
		case c >= 'a' && c <= 'f':
			v = v<<4 | (c - 'a' + 10)
		case c >= 'A' && c <= 'F':
			v = v<<4 | (c - 'A' + 10)
		default:
			return 0, false
		}
	}
	return v, true
}

// stripRunes removes up to start leading and stop trailing c runes.
func stripRunes(s string, c rune, start, stop int) string {
	rs := []rune(s)
	a := 0
	for a < start && a < len(rs) && rs[a] == c {
		a++
	}
	b := len(rs)
	for k := 0; k < stop && b > a && rs[b-1] == c; k++ {
		b--
	}
	return string(rs[a:b])
}
