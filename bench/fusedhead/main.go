// Command fusedhead measures what the fused LM head saves: one SFT step
// (forward, cross-entropy, backward) of a randomly initialised model with a
// large vocabulary, through the fused head (train.CausalLM, nn.LMHead) or
// through full [N,V] logits and their gradient (Forward with logits,
// nn.CrossEntropyFused, Backward(dlogits)), and prints the loss, the step
// time and the process's peak RSS (VmHWM). Run each mode in its own process
// so peaks do not carry over. The default shape is Qwen2.5-0.5B's width and
// vocabulary with 2 layers, LoRA r 16 on a frozen base (no optimizer step).
//
// Usage: go run ./bench/fusedhead -fused=true|false [-B 4] [-T 512] [-V 151936] [-C 896] [-layers 2] [-lora=true] [-ckpt] [-rows 0] [-bf16]
package main

import (
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/align-go/align/internal/peakrss"
	"github.com/align-go/align/model"
	"github.com/align-go/align/nn"
	"github.com/align-go/align/tensor"
	"github.com/align-go/align/train"
)

func main() {
	fused := flag.Bool("fused", true, "fused LM head (false: full logits)")
	B := flag.Int("B", 4, "rows")
	T := flag.Int("T", 512, "tokens per row")
	V := flag.Int("V", 151936, "vocabulary")
	C := flag.Int("C", 896, "hidden size")
	layers := flag.Int("layers", 2, "layers")
	lora := flag.Bool("lora", true, "LoRA r 16 on all linear layers, base frozen (false: full gradients)")
	ckpt := flag.Bool("ckpt", false, "gradient checkpointing")
	steps := flag.Int("steps", 1, "timed steps after one warm-up step")
	rows := flag.Int("rows", 0, "fused head rows per chunk (0: the head's default)")
	bf16 := flag.Bool("bf16", false, "bf16 products with f32 sums (align's --bf16)")
	flag.Parse()
	cfg, err := model.ParseConfig(map[string]any{"model_type": "qwen2", "vocab_size": float64(*V), "hidden_size": float64(*C),
		"num_hidden_layers": float64(*layers), "num_attention_heads": 14.0, "num_key_value_heads": 2.0,
		"intermediate_size": 4864.0, "max_position_embeddings": 32768.0, "tie_word_embeddings": true})
	if err != nil {
		fail(err)
	}
	m := model.New(cfg)
	m.InitRandom(1)
	if *lora {
		if err := m.AttachLoRA(model.LoRAConfig{R: 16, Alpha: 32, Targets: []string{"all-linear"}}, 2); err != nil {
			fail(err)
		}
	}
	m.EnableGrad()
	m.SetGradientCheckpointing(*ckpt)
	if *bf16 {
		m.SetCompute(tensor.BF16)
	}
	m.LMHead().Rows = *rows
	N := *B * *T
	seqs := make([][]int32, *B)
	for b := range seqs {
		seqs[b] = make([]int32, *T)
		for t := range seqs[b] {
			seqs[b][t] = int32(((b**T+t)*7919 + 13) % *V)
		}
	}
	ids, targets := make([]int32, N), make([]int32, N)
	for i := range ids {
		ids[i] = seqs[i / *T][i%*T]
		targets[i] = -1
		if i%*T+1 < *T {
			targets[i] = seqs[i / *T][i%*T+1]
		}
	}
	lm := &train.CausalLM{Model: m}
	var losses, dloss, dlogits []float32
	if !*fused {
		losses, dloss, dlogits = make([]float32, N), make([]float32, N), make([]float32, N**V)
		for i := range dloss {
			if targets[i] >= 0 {
				dloss[i] = 1
			}
		}
	}
	step := func() float64 {
		if *fused {
			sum, n, err := lm.Run(seqs, nil, 1, true)
			if err != nil {
				fail(err)
			}
			return sum / float64(n)
		}
		logits, _, err := m.Forward(model.Batch{B: *B, T: *T, IDs: ids}, true)
		if err != nil {
			fail(err)
		}
		nn.CrossEntropyFused(losses, dlogits, logits, targets, dloss, N, *V)
		if err := m.Backward(dlogits, nil); err != nil {
			fail(err)
		}
		var s float64
		n := 0
		for i, l := range losses {
			if targets[i] >= 0 {
				s += float64(l)
				n++
			}
		}
		return s / float64(n)
	}
	loss := step()
	start := time.Now()
	for i := 0; i < *steps; i++ {
		step()
	}
	per := time.Since(start).Seconds() / float64(max(*steps, 1))
	fmt.Printf("fused=%v rows=%d lora=%v ckpt=%v B=%d T=%d V=%d C=%d layers=%d loss=%.6f step_s=%.2f vmhwm_mib=%d\n",
		*fused, m.LMHead().Rows, *lora, *ckpt, *B, *T, *V, *C, *layers, loss, per, peakMiB())
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "fusedhead:", err)
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
