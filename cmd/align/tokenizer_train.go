package main

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/align-go/align/tokenizer"
	"github.com/spf13/cobra"
)

// defaultSpecialTokens make a trained tokenizer ready for pretraining
// (<|endoftext|>), ChatML chat (<|im_start|>, <|im_end|>) and batching
// (<|pad|>).
var defaultSpecialTokens = []string{"<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|pad|>"}

var trainPatterns = map[string]string{
	"gpt2":   tokenizer.PatternGPT2,
	"qwen2":  tokenizer.PatternQwen2,
	"cl100k": tokenizer.PatternCL100K,
}

func init() {
	tokCmd := &cobra.Command{
		Use:   "tokenizer",
		Short: "Tokenizer tools",
	}
	var (
		texts    []string
		out      string
		opt      tokenizer.TrainOptions
		specials string
		pattern  string
		quiet    bool
	)
	train := &cobra.Command{
		Use:   "train --text FILE [FILE...] --vocab-size N --out DIR",
		Short: "Train a byte-level BPE tokenizer (HuggingFace BpeTrainer semantics) on text files",
		Long: `Learns a byte-level BPE vocabulary from plain-text files and writes
tokenizer.json, tokenizer_config.json and special_tokens_map.json to DIR,
loadable by this toolkit and by HuggingFace tokenizers/transformers.

Training matches HuggingFace's BpeTrainer with the ByteLevel alphabet: each
line is pre-tokenized on its own with the chosen regex, special tokens get
ids 0..k-1 and the 256 byte symbols the next ids, and the most frequent pair
is merged until the vocabulary (special tokens included) reaches
--vocab-size; ties go to the pair with the smaller ids. Text spelling a
special token is left out of the counts.

eos_token is <|im_end|> when it is a special token (the ChatML template ends
every turn with it), else <|endoftext|>; pad_token is <|pad|>, else the EOS
token. The ChatML chat template is included when <|im_start|> and <|im_end|>
are special tokens.`,
		// Arguments after the flags are more text files, so that
		// "--text data/*.txt" works with the shell's expansion.
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			texts = append(texts, args...)
			if len(texts) == 0 {
				return errors.New("--text: at least one file is required")
			}
			p, ok := trainPatterns[pattern]
			if !ok {
				return fmt.Errorf("--pattern: unknown %q (gpt2, qwen2 or cl100k)", pattern)
			}
			opt.Pattern = p
			opt.SpecialTokens = nil
			for _, s := range strings.Split(specials, ",") {
				if s = strings.TrimSpace(s); s != "" {
					opt.SpecialTokens = append(opt.SpecialTokens, s)
				}
			}
			start := time.Now()
			tr, err := tokenizer.NewTrainer(opt)
			if err != nil {
				return err
			}
			for _, f := range texts {
				if err := tr.AddFile(f); err != nil {
					return err
				}
			}
			counted := time.Since(start)
			tok, err := tr.Train()
			if err != nil {
				return err
			}
			if err := tok.SaveAll(out); err != nil {
				return err
			}
			if !quiet {
				if tok.VocabSize() < opt.VocabSize {
					fmt.Fprintf(cmd.ErrOrStderr(), "note: no pair left to merge before --vocab-size %d (or --min-frequency stopped it)\n", opt.VocabSize)
				}
				cfg := tok.Config()
				fmt.Fprintf(cmd.ErrOrStderr(), "trained %d tokens (%d special) from %d distinct words in %v (counting %v); eos %q, pad %q -> %s\n",
					tok.VocabSize(), len(opt.SpecialTokens), tr.Words(), time.Since(start).Round(time.Millisecond),
					counted.Round(time.Millisecond), cfg.EOSToken, cfg.PADToken, out)
			}
			return nil
		},
	}
	f := train.Flags()
	f.StringArrayVar(&texts, "text", nil, "training text file (repeatable; further arguments are files too)")
	f.IntVar(&opt.VocabSize, "vocab-size", 0, "vocabulary size including special tokens (required)")
	f.StringVar(&out, "out", "", "output directory (required)")
	f.Int64Var(&opt.MinFrequency, "min-frequency", 0, "stop when the most frequent pair occurs fewer times")
	f.StringVar(&specials, "special-tokens", strings.Join(defaultSpecialTokens, ","), "comma-separated special tokens, given ids 0..k-1 in order (\"\" for none)")
	f.StringVar(&pattern, "pattern", "gpt2", "pre-tokenizer regex: gpt2, qwen2 or cl100k")
	f.BoolVar(&opt.NFC, "nfc", false, "NFC-normalize text first (as Qwen tokenizers do)")
	f.StringVar(&opt.EOSToken, "eos-token", "", "end-of-sequence token (one of the special tokens; default <|im_end|>, else <|endoftext|>)")
	f.IntVar(&opt.ModelMaxLength, "model-max-length", 2048, "model_max_length for tokenizer_config.json (0 to omit)")
	f.BoolVarP(&quiet, "quiet", "q", false, "no summary on stderr")
	_ = train.MarkFlagRequired("vocab-size")
	_ = train.MarkFlagRequired("out")
	tokCmd.AddCommand(train)
	rootCmd.AddCommand(tokCmd)
}
