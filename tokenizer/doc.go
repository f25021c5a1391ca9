// Package tokenizer implements byte-level BPE tokenizers compatible with
// HuggingFace's tokenizers library (tokenizer.json, or GPT-2's vocab.json +
// merges.txt), their tokenizer_config.json, and Jinja chat templates.
//
// Exactness is the point: a model only works with the ids it was trained on,
// so the pre-tokenizer regexes, added-token matching and merge order follow
// HuggingFace's semantics rather than a convenient approximation. The regexes
// use lookahead, which Go's regexp lacks, so the known ones are hand-coded
// scanners (see pretokenize.go).
package tokenizer
