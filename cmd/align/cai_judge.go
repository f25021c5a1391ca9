package main

import (
	"fmt"

	"github.com/align-go/align/engine"
	"github.com/align-go/align/judge"
	"github.com/align-go/align/llm"
	"github.com/align-go/align/model"
)

const judgeSpecHelp = "http:URL[#MODEL] (an OpenAI-compatible endpoint), local:DIR (a local model's A/B option probabilities), rule:refusal or rule:regex:PATTERN"

// openClient opens a --policy spec: a model directory, local:DIR, or
// http:URL[#MODEL]; a local model's weights load as load says (the
// command's load flags).
func openClient(spec string, batch int, load model.LoadOptions) (llm.Client, func(), error) {
	c, closeFn, err := llm.Open(spec, engine.Options{MaxBatch: batch, Load: load})
	if err != nil {
		return nil, nil, fmt.Errorf("--policy: %w", err)
	}
	return c, closeFn, nil
}

// openJudge parses a --judge spec with judge.ParseWith; a local:DIR judge's
// weights load as load says (the command's load flags, as for an rm: reward).
func openJudge(spec string, load model.LoadOptions) (judge.Judge, error) {
	j, err := judge.ParseWith(spec, engine.Options{Load: load})
	if err != nil {
		return nil, fmt.Errorf("--judge: %w", err)
	}
	return j, nil
}
