package tokenizer

// Accessors for writers of other tokenizer formats (GGUF's tokenizer.ggml.*
// keys), which need the vocabulary, merges and pre-tokenizer as loaded.

// Merges returns the BPE merges in rank order, as pairs of vocabulary
// spellings (for byte-level BPE, "Ġ" for a leading space).
func (t *Tokenizer) Merges() [][2]string {
	m := t.model
	out := make([][2]string, len(m.merges))
	for i, p := range m.merges {
		out[i] = [2]string{m.tokens[p[0]], m.tokens[p[1]]}
	}
	return out
}

// PreTokenizerPatterns returns the regexes of the pre-tokenizer's split
// stages in order (ByteLevel with use_regex contributes PatternGPT2).
func (t *Tokenizer) PreTokenizerPatterns() []string {
	out := make([]string, len(t.stages))
	for i, st := range t.stages {
		out[i] = st.pattern
	}
	return out
}

// AddsPrefixSpace reports ByteLevel's add_prefix_space.
func (t *Tokenizer) AddsPrefixSpace() bool { return t.prefixSpace }

// SentencePiece reports a SentencePiece-style BPE (Metaspace, byte fallback)
// rather than a byte-level one.
func (t *Tokenizer) SentencePiece() bool { return t.spm != nil }
