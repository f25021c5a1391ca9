// Command ppo_memory measures the peak resident memory (VmHWM) of one PPO
// update with all four roles against the policy's own footprint, on a random
// Llama-shaped model large enough that its weights dominate. Each -mode runs
// in its own process (VmHWM is per process; run.sh runs them all):
//
//	policy      the LoRA policy alone: the same rollout, then one forward,
//	            backward and AdamW step per minibatch (what a policy-only
//	            trainer holds)
//	ppo-shared  one ppo.Trainer update: policy and value LoRA sets, the
//	            reference (adapters off) and the reward model as a third LoRA
//	            set with its score head, all on one base
//	ppo-rm-copy the same with the reward model a separate full model (what
//	            align rm writes today: adapters merged)
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"runtime"

	"github.com/align-go/align/generate"
	"github.com/align-go/align/internal/peakrss"
	"github.com/align-go/align/model"
	"github.com/align-go/align/optim"
	"github.com/align-go/align/ppo"
	"github.com/align-go/align/reward"
	"github.com/align-go/align/rewardmodel"
	"github.com/align-go/align/train"
)

func main() {
	mode := flag.String("mode", "ppo-shared", "policy, ppo-shared or ppo-rm-copy")
	dim := flag.Int("dim", 512, "hidden size")
	layers := flag.Int("layers", 8, "transformer blocks")
	ffn := flag.Int("ffn", 1376, "MLP intermediate size")
	vocab := flag.Int("vocab", 8192, "vocabulary size")
	batch := flag.Int("batch-size", 8, "prompts per rollout")
	promptLen := flag.Int("prompt-len", 32, "prompt tokens")
	newTok := flag.Int("max-new-tokens", 32, "completion tokens")
	rank := flag.Int("lora-r", 16, "LoRA rank of every set")
	flag.Parse()
	if err := run(*mode, *dim, *layers, *ffn, *vocab, *batch, *promptLen, *newTok, *rank); err != nil {
		fmt.Fprintln(os.Stderr, "ppo_memory:", err)
		os.Exit(1)
	}
	fmt.Printf("mode %s\nVmHWM_MiB %.1f\n", *mode, vmHWM())
}

// vmHWM is the peak resident set size in MiB, or -1 where it cannot be read.
func vmHWM() float64 {
	kb, err := peakrss.KiB()
	if err != nil {
		return -1
	}
	return float64(kb) / 1024
}

func newModel(dim, layers, ffn, vocab int, seed uint64) (*model.Model, error) {
	heads := dim / 64
	cfg, err := model.ParseConfig(map[string]any{"model_type": "llama", "vocab_size": float64(vocab),
		"hidden_size": float64(dim), "num_hidden_layers": float64(layers), "num_attention_heads": float64(heads),
		"num_key_value_heads": float64(heads), "intermediate_size": float64(ffn), "max_position_embeddings": 256.0,
		"eos_token_id": 1.0, "tie_word_embeddings": false})
	if err != nil {
		return nil, err
	}
	m := model.New(cfg)
	m.InitRandom(seed)
	return m, nil
}

func run(mode string, dim, layers, ffn, vocab, batch, promptLen, newTok, rank int) error {
	pol, err := newModel(dim, layers, ffn, vocab, 1)
	if err != nil {
		return err
	}
	r := rand.New(rand.NewPCG(3, 4))
	prompts := make([][]int32, batch)
	for i := range prompts {
		for j := 0; j < promptLen; j++ {
			prompts[i] = append(prompts[i], int32(2+r.IntN(vocab-2)))
		}
	}
	lc := model.LoRAConfig{R: rank, Alpha: float64(2 * rank), Targets: []string{"all-linear"}}
	cfg := ppo.DefaultConfig()
	cfg.BatchSize, cfg.NumMiniBatches, cfg.NumPPOEpochs, cfg.MaxNewTokens = batch, 2, 1, newTok
	// Completions run to --max-new-tokens (EOS id 0 is never sampled from a
	// random model in practice), so every role sees the full shape.
	eos := []int32{0}
	switch mode {
	case "policy":
		return policyOnly(pol, lc, prompts, cfg, eos)
	case "ppo-shared", "ppo-rm-copy":
	default:
		return fmt.Errorf("-mode %q: want policy, ppo-shared or ppo-rm-copy", mode)
	}
	for i, set := range []string{"policy", "value"} {
		if err := pol.AttachLoRASet(set, lc, uint64(i)); err != nil {
			return err
		}
	}
	var rw *reward.RM
	if mode == "ppo-shared" {
		if err := pol.AttachLoRASet("reward", lc, 9); err != nil {
			return err
		}
		rw = &reward.RM{Scorer: &rewardmodel.Scorer{RM: rewardmodel.NewRewardModel(pol, 0, 5), BatchSize: batch / cfg.NumMiniBatches}, Set: "reward"}
	} else {
		rm, err := newModel(dim, layers, ffn, vocab, 2)
		if err != nil {
			return err
		}
		rw = &reward.RM{Scorer: &rewardmodel.Scorer{RM: rewardmodel.NewRewardModel(rm, 0, 5), BatchSize: batch / cfg.NumMiniBatches}}
	}
	roles := ppo.Roles{Policy: pol, PolicySet: "policy", Ref: pol, Reward: rw,
		Value: &ppo.ValueModel{Model: pol, Set: "value", Head: ppo.NewValueHead(dim, 1)}}
	tr, err := ppo.New(cfg, roles, prompts, eos, 0)
	if err != nil {
		return err
	}
	// One update on the shared loop, as align ppo runs it.
	out, err := os.MkdirTemp("", "ppo_memory")
	if err != nil {
		return err
	}
	defer os.RemoveAll(out)
	s := train.DefaultSettings()
	s.Out, s.MaxSteps, s.BatchSize, s.SaveSteps, s.LoggingSteps, s.GroupByLength = out, 1, batch/cfg.NumMiniBatches, 0, 1, false
	job := &train.Job{Settings: s, Objective: tr, Params: tr.ParamSets(), Log: io.Discard,
		Saver: train.SaverFunc(func(string) error { return nil })}
	if _, err := train.Run(context.Background(), job); err != nil {
		return err
	}
	n := 0
	for _, c := range tr.Last {
		n += len(c.Tokens)
	}
	fmt.Printf("completion_tokens %d\n", n)
	return nil
}

// policyOnly is the policy's own footprint: the same rollout, then the
// training passes of the same minibatches with one AdamW, nothing else.
func policyOnly(pol *model.Model, lc model.LoRAConfig, prompts [][]int32, cfg ppo.Config, eos []int32) error {
	if err := pol.AttachLoRASet("policy", lc, 0); err != nil {
		return err
	}
	pol.EnableGrad()
	lo := pol.LoRA()
	spans := make([]optim.Span, len(lo.Params))
	for i, p := range lo.Params {
		spans[i] = optim.Span{Name: p.Name, Offset: p.Offset, Size: p.Size, Decay: p.Decay}
	}
	opt, err := optim.NewAdamW(optim.DefaultAdamWConfig(), spans, len(lo.Data))
	if err != nil {
		return err
	}
	cs, err := generate.Generate(pol, prompts, generate.Options{Sampling: cfg.Sampling, MaxNewTokens: cfg.MaxNewTokens, EOS: eos, Seed: 1})
	if err != nil {
		return err
	}
	ro, err := generate.NewRollout(prompts, cs, 0)
	if err != nil {
		return err
	}
	mb := ro.B / cfg.NumMiniBatches
	var dl []float32
	for lo0 := 0; lo0 < ro.B; lo0 += mb {
		b := model.Batch{B: mb, T: ro.T, IDs: ro.IDs[lo0*ro.T : (lo0+mb)*ro.T], Mask: ro.Mask[lo0*ro.T : (lo0+mb)*ro.T]}
		lg, _, err := pol.Forward(b, true)
		if err != nil {
			return err
		}
		if dl == nil {
			dl = make([]float32, len(lg))
		}
		for i := range dl {
			dl[i] = 1e-6 * float32(i%7)
		}
		if err := pol.Backward(dl, nil); err != nil {
			return err
		}
		if err := opt.Step(lo.Data, lo.Grad, 1e-4); err != nil {
			return err
		}
	}
	runtime.KeepAlive(dl)
	return nil
}
