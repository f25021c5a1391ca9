package main

import (
	"encoding/json"
	"fmt"

	"github.com/align-go/align/chat"
	"github.com/align-go/align/engine"
	"github.com/align-go/align/generate"
	"github.com/align-go/align/grammar"
	"github.com/align-go/align/model"
	"github.com/align-go/align/rl"
	"github.com/align-go/align/tokenizer"
	"github.com/spf13/cobra"
)

func init() {
	var o genFlags
	cmd := &cobra.Command{
		Use:   "generate --model DIR (--prompt STR | --prompts FILE.jsonl) [flags]",
		Short: "Sample completions with a KV cache; one JSON line per prompt",
		Long: `Generate completions and print one JSON line per prompt:
{"prompt": ..., "completion": ..., "tokens": N, "finish_reason": "stop"|"length"}

--prompts is a JSONL, JSON or Parquet file whose rows have "prompt" (a string, or chat
messages as in TRL's conversational prompt-only format) or "messages" (a conversation
ending in a user turn); other columns are ignored. Messages (and, with --chat, plain
prompts as one user turn) are rendered with the tokenizer's chat template and an
assistant generation prompt.

Sampling defaults come from the model's generation_config.json (greedy when it
does not set do_sample); flags override them. --temperature 0 is greedy.
Generation stops at an EOS token (config.json, generation_config.json and the
tokenizer's eos_token), at a --stop string (cut from the completion) or after
--max-new-tokens.

--response-format json makes every completion a JSON object, --response-format
FILE.json one that validates against the JSON Schema in FILE.json (as align
serve's response_format): tokens that would break the format are never sampled,
and a completion ends at the value's last byte.`,
		RunE: func(cmd *cobra.Command, args []string) error { return runGenerate(cmd, &o) },
	}
	f := cmd.Flags()
	f.StringVar(&o.dir, "model", "", "HF model directory (config.json, safetensors, tokenizer)")
	f.StringVar(&o.adapter, "adapter", "", "PEFT LoRA adapter directory to apply on top of --model (as trained with --lora-r)")
	f.StringVar(&o.prompt, "prompt", "", "one prompt")
	f.StringVar(&o.prompts, "prompts", "", `JSONL/JSON/Parquet file of {"prompt": STR or messages} or {"messages": [...]} rows`)
	f.BoolVar(&o.chat, "chat", false, "render plain prompts as a user message through the chat template")
	f.IntVar(&o.maxNew, "max-new-tokens", 128, "most tokens generated per prompt")
	f.Float64Var(&o.s.Temperature, "temperature", 0, "sampling temperature; 0 = greedy (default: generation_config.json)")
	f.IntVar(&o.s.TopK, "top-k", 0, "keep the k most likely tokens; 0 = off (default: generation_config.json)")
	f.Float64Var(&o.s.TopP, "top-p", 1, "nucleus sampling mass; 1 = off (default: generation_config.json)")
	f.Uint64Var(&o.seed, "seed", 0, "random seed (each prompt draws from its own stream)")
	f.StringArrayVar(&o.stop, "stop", nil, "stop string, cut from the completion (repeatable)")
	f.IntVar(&o.batch, "batch-size", 16, "prompts decoded together")
	f.IntVar(&o.n, "n", 1, "completions per prompt (each on its own seed stream; the prompt is prefilled once)")
	f.StringVar(&o.format, "response-format", "", `constrain completions to "json" (any JSON object) or the JSON Schema in this file`)
	f.StringVar(&o.dtype, "dtype", "f32", "weights decoding reads: f32, or bf16 (a bfloat16 copy of f32 weights, f32 sums: faster, log-probs within ~1e-3); weights loaded compact (--torch-dtype, --load-in-*) are read as loaded")
	o.load = addLoadFlags(f)
	cmd.MarkFlagRequired("model")
	rootCmd.AddCommand(cmd)
}

type genFlags struct {
	dir, prompt, prompts string
	adapter              string
	chat                 bool
	maxNew, batch, n     int
	s                    generate.Sampling
	seed                 uint64
	stop                 []string
	dtype                string
	format               string
	load                 *loadFlags
}

func runGenerate(cmd *cobra.Command, o *genFlags) error {
	if (o.prompt == "") == (o.prompts == "") {
		return fmt.Errorf("give exactly one of --prompt and --prompts")
	}
	if o.batch <= 0 {
		return fmt.Errorf("--batch-size %d: want > 0", o.batch)
	}
	if o.n <= 0 {
		return fmt.Errorf("--n %d: want > 0", o.n)
	}
	if o.maxNew <= 0 {
		return fmt.Errorf("--max-new-tokens %d: want > 0", o.maxNew)
	}
	if err := o.s.Validate(); err != nil {
		return fmt.Errorf("sampling flags: %w", err)
	}
	if _, err := model.ParseDecodeDType(o.dtype); err != nil {
		return fmt.Errorf("--dtype: %w", err)
	}
	// Prompts first: a typo in the file should not wait for the model to load.
	var rows []rl.PromptRow
	var err error
	if o.prompt != "" {
		rows = []rl.PromptRow{{Text: o.prompt, Loc: "--prompt"}}
	} else if rows, err = rl.ReadPrompts(o.prompts); err != nil {
		return err
	}
	var format *grammar.Grammar
	if o.format != "" {
		if format, err = grammar.ResponseFormat(o.format); err != nil {
			return fmt.Errorf("--response-format: %w", err)
		}
	}
	if o.chat {
		for i, r := range rows {
			if r.Messages == nil {
				rows[i].Messages = []chat.Message{{Role: "user", Content: r.Text}}
			}
		}
	}
	m, err := o.load.load(o.dir, true)
	if err != nil {
		return err
	}
	if o.adapter != "" {
		if err := m.LoadPEFT(o.adapter); err != nil {
			return err
		}
	}
	if err := m.SetDecodeDType(o.dtype); err != nil {
		return err
	}
	tok, err := tokenizer.Load(o.dir)
	if err != nil {
		return err
	}
	gc, err := readGenerationConfig(o.dir)
	if err != nil {
		return err
	}
	fl := cmd.Flags()
	s := gc.Sampling()
	if fl.Changed("temperature") {
		s.Temperature = o.s.Temperature
	}
	if fl.Changed("top-k") {
		s.TopK = o.s.TopK
	}
	if fl.Changed("top-p") {
		s.TopP = o.s.TopP
	}
	eos := eosIDs(m.Cfg, gc, tok)
	if format != nil {
		s.Constraint = grammar.NewMatcher(format, grammar.TokenizerVocab(tok, eos, m.Cfg.Vocab))
	}

	texts := make([]string, len(rows))
	ids := make([][]int32, len(rows))
	for i, r := range rows {
		if texts[i], ids[i], err = r.Encode(tok); err != nil {
			return err
		}
	}

	enc := json.NewEncoder(cmd.OutOrStdout())
	enc.SetEscapeHTML(false)
	var werr error
	_, err = generate.Generate(m, ids, generate.Options{
		Sampling: s, MaxNewTokens: o.maxNew, Seed: o.seed, Stop: o.stop, BatchSize: o.batch, N: o.n,
		EOS:    eos,
		Decode: func(ids []int32) string { return tok.Decode(toInts(ids)) },
		OnBatch: func(cs []generate.Completion) {
			for _, c := range cs {
				if werr == nil {
					werr = enc.Encode(struct {
						Prompt       string `json:"prompt"`
						Completion   string `json:"completion"`
						Tokens       int    `json:"tokens"`
						FinishReason string `json:"finish_reason"`
						Sample       *int   `json:"sample,omitempty"` // with --n > 1: which of the prompt's samples
					}{texts[c.Prompt], c.Text, len(c.Tokens), c.FinishReason, sampleIndex(o.n, c.Sample)})
				}
			}
		},
	})
	if err != nil {
		return err
	}
	return werr
}

// sampleIndex is nil for single-sample runs, so their output keeps the plain
// {"prompt","completion","tokens","finish_reason"} shape.
func sampleIndex(n, i int) *int {
	if n <= 1 {
		return nil
	}
	return &i
}

// readGenerationConfig and eosIDs are the engine's, shared with serve.
func readGenerationConfig(dir string) (*engine.GenerationConfig, error) {
	return engine.ReadGenerationConfig(dir)
}

func eosIDs(cfg *model.Config, g *engine.GenerationConfig, tok *tokenizer.Tokenizer) []int32 {
	return engine.EOSIDs(cfg, g, tok)
}

func toInt32s(ids []int) []int32 {
	out := make([]int32, len(ids))
	for i, v := range ids {
		out[i] = int32(v)
	}
	return out
}

func toInts(ids []int32) []int {
	out := make([]int, len(ids))
	for i, v := range ids {
		out[i] = int(v)
	}
	return out
}
