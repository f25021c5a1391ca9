// Command attn_memory runs SFT-style training steps (forward, cross-entropy,
// backward, AdamW) of a randomly initialised GPT-2-small-shaped model at one
// sequence length and prints the step time and the process's peak RSS
// (VmHWM). Run each T in its own process so that peaks do not carry over.
//
// Usage: go run ./bench/attn_memory -T 1024 [-B 1] [-steps 2]
package main

import (
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/align-go/align/internal/peakrss"
	"github.com/align-go/align/model"
	"github.com/align-go/align/nn"
	"github.com/align-go/align/optim"
)

func main() {
	T := flag.Int("T", 512, "sequence length")
	B := flag.Int("B", 1, "batch size")
	steps := flag.Int("steps", 2, "timed steps after one warm-up step")
	layers := flag.Int("layers", 12, "layers (GPT-2 small: 12)")
	flag.Parse()
	cfg, err := model.ParseConfig(map[string]any{"model_type": "gpt2", "vocab_size": 50257.0, "n_embd": 768.0,
		"n_layer": float64(*layers), "n_head": 12.0, "n_positions": 2048.0})
	if err != nil {
		fail(err)
	}
	m := model.New(cfg)
	m.InitRandom(1)
	m.EnableGrad()
	N, V := *B**T, cfg.Vocab
	ids, targets := make([]int32, N), make([]int32, N)
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
		fail(err)
	}
	losses, dloss := make([]float32, N), make([]float32, N)
	for i := range dloss {
		dloss[i] = 1 / float32(N)
	}
	dlogits := make([]float32, N*V)
	step := func() {
		logits, _, err := m.Forward(model.Batch{B: *B, T: *T, IDs: ids}, true)
		if err != nil {
			fail(err)
		}
		nn.CrossEntropyFused(losses, dlogits, logits, targets, dloss, N, V)
		m.ZeroGrad()
		if err := m.Backward(dlogits, nil); err != nil {
			fail(err)
		}
		optim.ClipGradNorm(m.Grad, spans, 1.0)
		if err := opt.Step(m.Data, m.Grad, 1e-4); err != nil {
			fail(err)
		}
	}
	step()
	start := time.Now()
	for i := 0; i < *steps; i++ {
		step()
	}
	per := time.Since(start).Seconds() / float64(max(*steps, 1))
	fmt.Printf("B=%d T=%d layers=%d step_s=%.3f tokens_per_s=%.0f vmhwm_mib=%d\n", *B, *T, *layers, per, float64(N)/per, peakMiB())
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "attn_memory:", err)
	os.Exit(1)
}

// peakMiB is the process's peak resident set size so far.
func peakMiB() int {
	kb, err := peakrss.KiB()
	if err != nil {
		fail(err)
	}
	return kb / 1024
}
