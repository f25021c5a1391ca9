// Package tokenizer implements BPE tokenizers compatible with HuggingFace's
// tokenizers library — byte-level BPE (GPT-2, Qwen, Llama 3: tokenizer.json, or
// GPT-2's vocab.json + merges.txt) and SentencePiece-style BPE with byte
// fallback (Llama 2, Mistral: Metaspace / Prepend+Replace, spm.go) — their
// tokenizer_config.json, Jinja chat templates, and a byte-level BPE trainer
// (train.go).
//
// Exactness is the point: a model only works with the ids it was trained on,
// so the pre-tokenizer regexes, added-token matching and merge order follow
// HuggingFace's semantics rather than a convenient approximation. The regexes
// use lookahead, which Go's regexp lacks, so the known ones (GPT-2, Qwen2,
// cl100k/Llama-3) are hand-coded scanners (see pretokenize.go).
//
// Typical use:
//
//	tok, err := tokenizer.Load(dir)          // tokenizer.json or vocab.json+merges.txt, + tokenizer_config.json
//	ids := tok.Encode(text)                  // special-token text matched, nothing added
//	text := tok.Decode(ids)                  // exact bytes: Decode(Encode(x)) == x (NFC(x) where the model normalizes)
//	s, err := tok.RenderChat(msgs, true)     // the model's chat template, ChatML when it has none
//	ids, mask, err := tok.EncodeChat(msgs, tokenizer.ChatOptions{}) // mask marks assistant tokens, for SFT losses
//
// NewBPE and Save are the writer side for a trained tokenizer: Save writes
// tokenizer.json in HuggingFace's schema and tokenizer_config.json.
package tokenizer
