package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/align-go/align/chat"
	"github.com/align-go/align/tokenizer"
	"github.com/spf13/cobra"
)

func init() {
	var dir string
	cmd := &cobra.Command{
		Use:   "tokenize --model DIR",
		Short: "Tokenize JSONL from stdin: {\"text\"} -> {\"ids\"}; {\"messages\", \"add_generation_prompt\"} -> {\"rendered\", \"ids\"}",
		Long: `Reads JSON lines from stdin and writes one JSON line per input line, in order.

  {"text": STR}                                   -> {"ids": [...]}
  {"messages": [{"role", "content"}...],
   "add_generation_prompt": BOOL}                 -> {"rendered": STR, "ids": [...]}

Messages are rendered with the model's chat template (ChatML if it has none);
an optional "chat_template_kwargs" object adds template variables such as
enable_thinking.
Text that spells a special token is encoded as that token; no special tokens
are added. DIR holds tokenizer.json (or vocab.json + merges.txt) and
optionally tokenizer_config.json.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			tok, err := tokenizer.Load(dir)
			if err != nil {
				return err
			}
			return tokenizeStream(tok, cmd.InOrStdin(), cmd.OutOrStdout())
		},
	}
	cmd.Flags().StringVar(&dir, "model", "", "tokenizer directory (required)")
	_ = cmd.MarkFlagRequired("model")
	rootCmd.AddCommand(cmd)
}

type tokenizeInput struct {
	Text                *string        `json:"text"`
	Messages            []chat.Message `json:"messages"`
	AddGenerationPrompt bool           `json:"add_generation_prompt"`
	Vars                map[string]any `json:"chat_template_kwargs"`
}

type tokenizeOutput struct {
	Rendered *string `json:"rendered,omitempty"`
	IDs      []int   `json:"ids"`
}

// tokenizeStream handles one JSON object per line; the first bad line stops
// the run with an error naming it, after the lines before it were written.
func tokenizeStream(tok *tokenizer.Tokenizer, in io.Reader, out io.Writer) error {
	r := bufio.NewReaderSize(in, 1<<20)
	w := bufio.NewWriter(out)
	defer w.Flush()
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	for n := 1; ; n++ {
		line, err := r.ReadBytes('\n')
		if len(line) == 0 && err == io.EOF {
			return nil
		}
		if err != nil && err != io.EOF {
			return fmt.Errorf("stdin: line %d: %w", n, err)
		}
		res, lerr := tokenizeLine(tok, bytes.TrimSpace(line))
		if lerr != nil {
			return fmt.Errorf("stdin: line %d: %w", n, lerr)
		}
		if err := enc.Encode(res); err != nil {
			return err
		}
		if err == io.EOF {
			return nil
		}
	}
}

func tokenizeLine(tok *tokenizer.Tokenizer, line []byte) (*tokenizeOutput, error) {
	if len(line) == 0 {
		return nil, errors.New("empty line (expected a JSON object)")
	}
	var in tokenizeInput
	dec := json.NewDecoder(bytes.NewReader(line))
	if err := dec.Decode(&in); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return nil, fmt.Errorf("field %q: expected %s, found JSON %s", te.Field, te.Type, te.Value)
		}
		return nil, fmt.Errorf("invalid JSON: %v", err)
	}
	if dec.More() {
		return nil, errors.New("more than one JSON value on the line")
	}
	switch {
	case in.Text != nil && in.Messages != nil:
		return nil, errors.New(`give either "text" or "messages", not both`)
	case in.Text != nil:
		return &tokenizeOutput{IDs: nonNil(tok.Encode(*in.Text))}, nil
	case in.Messages != nil:
		for i, m := range in.Messages {
			if m.Role == "" {
				return nil, fmt.Errorf("messages[%d]: missing role", i)
			}
		}
		rendered, err := tok.RenderChatWith(in.Messages, tokenizer.ChatOptions{AddGenerationPrompt: in.AddGenerationPrompt, Vars: in.Vars})
		if err != nil {
			return nil, err
		}
		return &tokenizeOutput{Rendered: &rendered, IDs: nonNil(tok.Encode(rendered))}, nil
	}
	return nil, errors.New(`expected a "text" or a "messages" field`)
}

func nonNil(ids []int) []int {
	if ids == nil {
		return []int{}
	}
	return ids
}
