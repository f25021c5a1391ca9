package export

import (
	"fmt"
	"strings"

	"github.com/align-go/align/gguf"
	"github.com/align-go/align/model"
	"github.com/align-go/align/tokenizer"
)

// llama.cpp's token types (llama_token_type).
const (
	tokNormal      int32 = 1
	tokControl     int32 = 3
	tokUserDefined int32 = 4
	tokUnused      int32 = 5
)

// preName is llama.cpp's name (tokenizer.ggml.pre) for a byte-level BPE's
// pre-tokenizer regex; convert_hf_to_gguf recognises the same tokenizers by
// hashing their output, we by the regex itself.
func preName(tok *tokenizer.Tokenizer) (string, error) {
	pats := tok.PreTokenizerPatterns()
	if len(pats) == 1 {
		switch pats[0] {
		case tokenizer.PatternGPT2:
			return "gpt-2", nil
		case tokenizer.PatternQwen2:
			return "qwen2", nil
		case tokenizer.PatternCL100K:
			return "llama-bpe", nil
		}
	}
	return "", fmt.Errorf("export: the tokenizer's pre-tokenizer %q has no llama.cpp equivalent (known: GPT-2, Qwen2, Llama-3 regexes)", pats)
}

// addVocab writes the tokenizer.ggml.* keys and the chat template. The token
// list has one entry per embedding row: ids the tokenizer does not use (a
// vocab_size rounded up, as Qwen's is) become unused "[PADn]" tokens, as
// convert_hf_to_gguf writes them.
func addVocab(w *gguf.Writer, c *model.Config, tok *tokenizer.Tokenizer) error {
	if tok == nil {
		return fmt.Errorf("export: a GGUF file needs the model's tokenizer (tokenizer.json)")
	}
	if tok.SentencePiece() {
		return fmt.Errorf("export: SentencePiece-style tokenizers are not exported to GGUF yet (byte-level BPE only)")
	}
	if tok.AddsPrefixSpace() {
		return fmt.Errorf("export: llama.cpp's BPE has no add_prefix_space; this tokenizer sets it")
	}
	if n := tok.VocabSize(); n > c.Vocab {
		return fmt.Errorf("export: the tokenizer has ids up to %d but the model's vocab_size is %d", n-1, c.Vocab)
	}
	pre, err := preName(tok)
	if err != nil {
		return err
	}
	added := map[int]tokenizer.AddedToken{}
	for _, a := range tok.AddedTokens() {
		added[a.ID] = a
	}
	tokens := make([]string, c.Vocab)
	types := make([]int32, c.Vocab)
	for id := range tokens {
		if a, ok := added[id]; ok {
			// Added tokens are stored as their text, not byte-level spelled.
			tokens[id], types[id] = a.Content, tokUserDefined
			if a.Special {
				types[id] = tokControl
			}
			continue
		}
		s, ok := tok.IDToken(id)
		if !ok {
			tokens[id], types[id] = fmt.Sprintf("[PAD%d]", id), tokUnused
			continue
		}
		tokens[id], types[id] = s, tokNormal
	}
	merges := tok.Merges()
	ms := make([]string, len(merges))
	for i, m := range merges {
		if strings.Contains(m[0], " ") || strings.Contains(m[1], " ") {
			return fmt.Errorf("export: merge %d (%q %q) holds a space, which GGUF's \"a b\" merge strings cannot carry", i, m[0], m[1])
		}
		ms[i] = m[0] + " " + m[1]
	}
	cfg := tok.Config()
	set := func(k string, v any) {
		if err == nil {
			err = w.Set(k, v)
		}
	}
	set("tokenizer.ggml.model", "gpt2")
	set("tokenizer.ggml.pre", pre)
	set("tokenizer.ggml.tokens", tokens)
	set("tokenizer.ggml.token_type", types)
	set("tokenizer.ggml.merges", ms)
	special := func(key string, fromTok, fromCfg int) {
		id := fromTok
		if id < 0 {
			id = fromCfg
		}
		if id >= 0 && id < c.Vocab {
			set(key, uint32(id))
		}
	}
	special("tokenizer.ggml.bos_token_id", tok.BOS(), c.BOS)
	special("tokenizer.ggml.eos_token_id", tok.EOS(), c.EOS)
	special("tokenizer.ggml.padding_token_id", tok.PAD(), c.PAD)
	if u := tok.UNK(); u >= 0 {
		set("tokenizer.ggml.unknown_token_id", uint32(u))
	}
	set("tokenizer.ggml.add_bos_token", cfg.AddBOSToken)
	set("tokenizer.ggml.add_eos_token", cfg.AddEOSToken)
	if cfg.ChatTemplate != "" {
		set("tokenizer.chat_template", cfg.ChatTemplate)
	}
	return err
}
