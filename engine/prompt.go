package engine

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/align-go/align/chat"
	"github.com/align-go/align/generate"
	"github.com/align-go/align/model"
	"github.com/align-go/align/tokenizer"
)

// ChatPrompt renders messages with the model's chat template and an
// assistant generation prompt, and encodes them (the template writes any BOS
// itself, as apply_chat_template assumes).
func (e *Engine) ChatPrompt(msgs []chat.Message) ([]int32, error) {
	text, err := e.Tok.RenderChat(msgs, true)
	if err != nil {
		return nil, err
	}
	return toInt32s(e.Tok.Encode(text)), nil
}

// TextPrompt encodes a raw prompt with the tokenizer's special tokens (BOS),
// as a completions endpoint does.
func (e *Engine) TextPrompt(s string) []int32 {
	return toInt32s(e.Tok.EncodeWith(s, tokenizer.EncodeOptions{AddSpecialTokens: true}))
}

// Decode is the text of ids.
func (e *Engine) Decode(ids []int32) string {
	out := make([]int, len(ids))
	for i, v := range ids {
		out[i] = int(v)
	}
	return e.Tok.Decode(out)
}

// TokenText is one token's text and raw bytes (a byte-level token may be part
// of a UTF-8 character: its text then holds U+FFFD, its bytes the truth).
func (e *Engine) TokenText(id int32) (string, []byte) {
	b, ok := e.Tok.TokenBytes(int(id))
	if !ok {
		b = []byte(e.Decode([]int32{id}))
	}
	return e.Decode([]int32{id}), b
}

func toInt32s(ids []int) []int32 {
	out := make([]int32, len(ids))
	for i, v := range ids {
		out[i] = int32(v)
	}
	return out
}

// GenerationConfig is the part of HF generation_config.json generation reads.
type GenerationConfig struct {
	DoSample    *bool    `json:"do_sample"`
	Temperature *float64 `json:"temperature"`
	TopK        *int     `json:"top_k"`
	TopP        *float64 `json:"top_p"`
	EOS         any      `json:"eos_token_id"` // an id or a list of ids
}

// ReadGenerationConfig reads dir/generation_config.json (empty when absent).
func ReadGenerationConfig(dir string) (*GenerationConfig, error) {
	path := filepath.Join(dir, "generation_config.json")
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return &GenerationConfig{}, nil
	}
	if err != nil {
		return nil, err
	}
	var g GenerationConfig
	if err := json.Unmarshal(b, &g); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	return &g, nil
}

// Sampling is HF's default decoding for the model: greedy unless do_sample,
// then temperature 1, top_k 50, top_p 1 unless the file says otherwise.
func (g *GenerationConfig) Sampling() generate.Sampling {
	if g.DoSample == nil || !*g.DoSample {
		return generate.Sampling{}
	}
	s := generate.Sampling{Temperature: 1, TopK: 50, TopP: 1}
	if g.Temperature != nil {
		s.Temperature = *g.Temperature
	}
	if g.TopK != nil {
		s.TopK = *g.TopK
	}
	if g.TopP != nil {
		s.TopP = *g.TopP
	}
	return s
}

// EOSIDs is model.EOSIDs of a model directory's config.json,
// generation_config.json and tokenizer: every id generation stops on.
func EOSIDs(cfg *model.Config, g *GenerationConfig, tok *tokenizer.Tokenizer) []int32 {
	return model.EOSIDs(cfg, g.EOS, tok.EOS())
}
