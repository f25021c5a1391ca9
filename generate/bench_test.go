package generate

import (
	"fmt"
	"testing"

	"github.com/align-go/align/model"
)

// benchModel is GPT-2 small's shape (12 layers, d_model 768, 12 heads, vocab
// 50257, 124M parameters) with random weights. bench/generate/torch_generate.py
// builds the same model in PyTorch for the ratio in BENCHMARKS.md.
func benchModel(b *testing.B) *model.Model {
	cfg, err := model.ParseConfig(map[string]any{"model_type": "gpt2", "vocab_size": 50257.0, "n_embd": 768.0,
		"n_layer": 12.0, "n_head": 12.0, "n_positions": 1024.0})
	if err != nil {
		b.Fatal(err)
	}
	m := model.New(cfg)
	m.InitRandom(1)
	return m
}

// BenchmarkGenerate times greedy generation of 64 new tokens after 32-token
// prompts, batch 1 and 16: prefill, 63 cached decode steps, sampling.
// tokens/s counts generated tokens only.
func BenchmarkGenerate(b *testing.B) {
	m := benchModel(b)
	const promptLen, newTokens = 32, 64
	for _, B := range []int{1, 16} {
		b.Run(fmt.Sprintf("batch=%d", B), func(b *testing.B) {
			prompts := make([][]int32, B)
			for i := range prompts {
				prompts[i] = make([]int32, promptLen)
				for j := range prompts[i] {
					prompts[i][j] = int32((i*7919 + j*104729 + 13) % m.Cfg.Vocab)
				}
			}
			opt := Options{MaxNewTokens: newTokens, BatchSize: B}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				cs, err := Generate(m, prompts, opt)
				if err != nil {
					b.Fatal(err)
				}
				for _, c := range cs {
					if len(c.Tokens) != newTokens {
						b.Fatalf("%d tokens generated, want %d", len(c.Tokens), newTokens)
					}
				}
			}
			b.ReportMetric(float64(B*newTokens*b.N)/b.Elapsed().Seconds(), "tokens/s")
		})
	}
}
