package generate

import (
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/align-go/align/model"
	"github.com/align-go/align/nn"
)

// benchModel is GPT-2 small's shape (12 layers, d_model 768, 12 heads, vocab
// 50257, 124M parameters) with random weights. bench/generate/torch_generate.py
// builds the same model in PyTorch for the ratio in BENCHMARKS.md.
func benchModel(b testing.TB) *model.Model {
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

// BenchmarkBF16Logprobs measures, on BenchmarkGenerate's model, how far
// decoding from bf16 weights moves the log-probabilities of every vocabulary
// entry: 4 prompts of 32 tokens, then 31 steps teacher-forced with the f32
// greedy continuation, so both dtypes see the same tokens. It reports max and
// mean |Δ log p| over all positions' full distributions and how often the
// greedy choice agrees, and fails above the bound TestBF16DecodeLogprobs
// asserts on the tiny models (max 0.05, mean 0.005).
func BenchmarkBF16Logprobs(b *testing.B) {
	m := benchModel(b)
	for _, R := range []int{4, 64} {
		b.Run(fmt.Sprintf("rows=%d", R), func(b *testing.B) { bf16Logprobs(b, m, R) })
	}
}

func bf16Logprobs(b *testing.B, m *model.Model, R int) {
	const promptLen, steps = 32, 32
	V := m.Cfg.Vocab
	prompts := make([][]int32, R)
	ids := make([]int32, 0, R*promptLen)
	for i := range prompts {
		for j := 0; j < promptLen; j++ {
			prompts[i] = append(prompts[i], int32((i*7919+j*104729+13)%V))
		}
		ids = append(ids, prompts[i]...)
	}
	cs, err := Generate(m, prompts, Options{MaxNewTokens: steps, BatchSize: R})
	if err != nil {
		b.Fatal(err)
	}
	// run returns the log-softmax of every position's logits after the prompt.
	run := func() [][]float64 {
		c, err := model.NewKVCache(m.Cfg, R, promptLen+steps)
		if err != nil {
			b.Fatal(err)
		}
		var out [][]float64
		lg, err := m.ForwardCached(c, nil, ids, nil, promptLen, false)
		for s := 0; ; s++ {
			if err != nil {
				b.Fatal(err)
			}
			for r := 0; r < R; r++ {
				out = append(out, logSoftmax(lg[r*V:(r+1)*V]))
			}
			if s == steps-1 {
				return out
			}
			next := make([]int32, R)
			for r := range next {
				next[r] = cs[r].Tokens[s]
			}
			lg, err = m.ForwardCached(c, nil, next, nil, 1, false)
		}
	}
	for i := 0; i < b.N; i++ {
		if err := m.SetDecodeDType("f32"); err != nil {
			b.Fatal(err)
		}
		want := run()
		if err := m.SetDecodeDType("bf16"); err != nil {
			b.Fatal(err)
		}
		got := run()
		worst, sum, same := 0.0, 0.0, 0
		for p := range got {
			gb, wb := 0, 0
			for j := range got[p] {
				d := math.Abs(got[p][j] - want[p][j])
				worst, sum = math.Max(worst, d), sum+d
				if got[p][j] > got[p][gb] {
					gb = j
				}
				if want[p][j] > want[p][wb] {
					wb = j
				}
			}
			if gb == wb {
				same++
			}
		}
		mean := sum / float64(len(got)*V)
		b.Logf("bf16 kernel %s: %d positions × %d entries", nn.BF16Kernel(), len(got), V)
		b.ReportMetric(worst, "max|Δlogp|")
		b.ReportMetric(mean, "mean|Δlogp|")
		b.ReportMetric(float64(same)/float64(len(got)), "argmax-agree")
		if worst > 0.05 || mean > 0.005 {
			b.Fatalf("|Δ log p| max %g mean %g: above 0.05 / 0.005", worst, mean)
		}
	}
	m.SetDecodeDType("f32")
}

// logSoftmax is log softmax(row) in float64.
func logSoftmax(row []float32) []float64 {
	mx := math.Inf(-1)
	for _, v := range row {
		mx = math.Max(mx, float64(v))
	}
	s := 0.0
	for _, v := range row {
		s += math.Exp(float64(v) - mx)
	}
	lse := mx + math.Log(s)
	out := make([]float64, len(row))
	for j, v := range row {
		out[j] = float64(v) - lse
	}
	return out
}
