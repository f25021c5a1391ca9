package tokenizer

// NewByteLevel builds the smallest byte-level BPE: one token per byte (ids
// 0-255, no merges) and then the special tokens in the order given (ids
// 256, 257, ...). Tiny models trained from scratch use it: every text
// encodes, and the vocabulary stays at 256 + len(specials).
func NewByteLevel(cfg Config, specials ...string) (*Tokenizer, error) {
	vocab := make([]string, 256, 256+len(specials))
	for b := range vocab {
		vocab[b] = ByteSymbol(byte(b))
	}
	added := make([]AddedToken, len(specials))
	for i, s := range specials {
		vocab = append(vocab, s)
		added[i] = AddedToken{ID: 256 + i, Content: s, Special: true}
	}
	return NewBPE(BPESpec{Vocab: vocab, Added: added, Config: cfg})
}
