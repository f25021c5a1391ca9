package generate

import (
	"fmt"
	"os"
	"strconv"
	"strings"
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
// prompts, batch 1, 16 and 64, with f32 and with bf16 decode weights:
// prefill, 63 cached decode steps, sampling. tokens/s counts generated tokens
// only. ALIGN_BENCH_BATCHES (e.g. "16,64") picks batch sizes.
func BenchmarkGenerate(b *testing.B) {
	m := benchModel(b)
	const promptLen, newTokens = 32, 64
	batches := []int{1, 16, 64}
	if env := os.Getenv("ALIGN_BENCH_BATCHES"); env != "" {
		batches = nil
		for _, f := range strings.Split(env, ",") {
			n, err := strconv.Atoi(f)
			if err != nil {
				b.Fatalf("ALIGN_BENCH_BATCHES: %v", err)
			}
			batches = append(batches, n)
		}
	}
	for _, dtype := range []string{"f32", "bf16"} {
		if err := m.SetDecodeDType(dtype); err != nil {
			b.Fatal(err)
		}
		for _, B := range batches {
			b.Run(fmt.Sprintf("dtype=%s/batch=%d", dtype, B), func(b *testing.B) {
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
}
