package model

import (
	"testing"

	"github.com/align-go/align/nn"
	"github.com/align-go/align/optim"
)

// benchConfig is the bench model: GPT-2 layout, d_model 256, 4 layers,
// 4 heads, vocab 8192 (7.6M parameters with 1024 positions).
func benchConfig() *Config {
	c, err := ParseConfig(map[string]any{"model_type": "gpt2", "vocab_size": 8192.0, "n_embd": 256.0,
		"n_layer": 4.0, "n_head": 4.0, "n_positions": 1024.0})
	if err != nil {
		panic(err)
	}
	return c
}

// BenchmarkTrainStep times one full training step of the bench model at batch 8 ×
// sequence 128: forward, cross-entropy, backward, AdamW. bench/trainstep/run.sh
// runs the same step in PyTorch for the ratio in BENCHMARKS.md.
func BenchmarkTrainStep(b *testing.B) {
	m := New(benchConfig())
	m.InitRandom(1)
	m.EnableGrad()
	const B, T = 8, 128
	N, V := B*T, m.Cfg.Vocab
	ids := make([]int32, N)
	targets := make([]int32, N)
	for i := range ids {
		ids[i] = int32((i*7919 + 13) % V)
	}
	for i := range targets {
		targets[i] = ids[(i+1)%N]
	}
	spans := make([]optim.Span, len(m.Params))
	for i, p := range m.Params {
		spans[i] = optim.Span{Name: p.Name, Offset: p.Offset, Size: p.Size, Decay: p.Decay}
	}
	opt, err := optim.NewAdamW(optim.DefaultAdamWConfig(), spans, len(m.Data))
	if err != nil {
		b.Fatal(err)
	}
	losses := make([]float32, N)
	dloss := make([]float32, N)
	for i := range dloss {
		dloss[i] = 1 / float32(N)
	}
	var dlogits []float32
	step := func() {
		logits, _, err := m.Forward(Batch{B: B, T: T, IDs: ids}, true)
		if err != nil {
			b.Fatal(err)
		}
		if dlogits == nil {
			dlogits = make([]float32, N*V)
		}
		nn.CrossEntropyFused(losses, dlogits, logits, targets, dloss, N, V)
		m.ZeroGrad()
		if err := m.Backward(dlogits, nil); err != nil {
			b.Fatal(err)
		}
		optim.ClipGradNorm(m.Grad, spans, 1.0)
		if err := opt.Step(m.Data, m.Grad, 1e-4); err != nil {
			b.Fatal(err)
		}
	}
	step() // warm: activation buffers are allocated once
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		step()
	}
	b.ReportMetric(float64(N*b.N)/b.Elapsed().Seconds(), "tokens/s")
}
