package rl

import (
	"fmt"

	"github.com/align-go/align/engine"
	"github.com/align-go/align/model"
	"github.com/align-go/align/pairenc"
	"github.com/align-go/align/tokenizer"
)

// StopTokens is what a sampling trainer's completions end with and are
// padded with, for the policy in dir: eos, every id that ends a completion
// (the tokenizer's eos_token, then config.json's and generation_config.json's
// eos_token_id: engine.EOSIDs), and pad, the id padding carries
// (pairenc.ResolvePad, falling back to the first eos). A policy that declares
// no EOS at all is an error, since no completion could ever finish.
func StopTokens(dir string, cfg *model.Config, tok *tokenizer.Tokenizer) (eos []int32, pad int32, err error) {
	gc, err := engine.ReadGenerationConfig(dir)
	if err != nil {
		return nil, 0, err
	}
	eos = engine.EOSIDs(cfg, gc, tok)
	if len(eos) == 0 {
		return nil, 0, fmt.Errorf("%s declares no EOS token (eos_token_id or the tokenizer's eos_token)", dir)
	}
	return eos, int32(pairenc.ResolvePad(tok, cfg, int(eos[0]))), nil
}
