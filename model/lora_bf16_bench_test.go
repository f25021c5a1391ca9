package model

import (
	"testing"
	"time"

	"github.com/align-go/align/tensor"
)

// BenchmarkLoRABlocksBF16 times a LoRA step's blocks (forward and backward,
// no head: the head's share is the fused-head benchmark's) on an f32 base at
// Qwen2.5-0.5B's width (d 896, ffn 4864, 14 heads, 2 KV heads), 2 layers,
// 4 rows of 256 tokens, at f32 and at bf16 compute (--bf16), in one process,
// reporting CPU seconds and minor page faults per step beside wall time, so
// that the --bf16/f32 ratio can be read on a shared machine, e.g.
//
//	go test ./model -run '^$' -bench LoRABlocksBF16 -count 3 -benchtime 4x
func BenchmarkLoRABlocksBF16(b *testing.B) {
	raw := map[string]any{"model_type": "qwen2", "vocab_size": 512.0, "hidden_size": 896.0,
		"num_hidden_layers": 2.0, "num_attention_heads": 14.0, "num_key_value_heads": 2.0,
		"intermediate_size": 4864.0, "max_position_embeddings": 512.0, "tie_word_embeddings": true}
	cfg, err := ParseConfig(raw)
	if err != nil {
		b.Fatal(err)
	}
	m := New(cfg)
	m.InitRandom(1)
	if err := m.AttachLoRA(LoRAConfig{R: 16, Alpha: 32, Targets: []string{"all-linear"}}, 3); err != nil {
		b.Fatal(err)
	}
	m.EnableGrad()
	const B, T = 4, 256
	ids := make([]int32, B*T)
	for i := range ids {
		ids[i] = int32((i*7919 + 13) % cfg.Vocab)
	}
	dh := make([]float32, B*T*cfg.Dim)
	for i := range dh {
		dh[i] = float32((i%17)-8) * 1e-3
	}
	for _, p := range []tensor.Prec{tensor.F32, tensor.BF16} {
		b.Run(p.String(), func(b *testing.B) {
			m.SetCompute(p)
			step := func() {
				if _, _, err := m.Forward(Batch{B: B, T: T, IDs: ids}, false); err != nil {
					b.Fatal(err)
				}
				if err := m.Backward(nil, dh); err != nil {
					b.Fatal(err)
				}
			}
			step() // warm: buffers
			b.ResetTimer()
			f0 := minorFaults()
			c0, t0 := cpuSeconds(), time.Now()
			for i := 0; i < b.N; i++ {
				step()
			}
			b.ReportMetric((cpuSeconds()-c0)/float64(b.N), "cpu-s/op")
			b.ReportMetric(float64(minorFaults()-f0)/float64(b.N), "faults/op")
			b.ReportMetric(float64(B*T*b.N)/time.Since(t0).Seconds(), "tokens/s")
		})
	}
}
