package quickstart

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/align-go/align/cai"
	"github.com/align-go/align/chat"
	"github.com/align-go/align/engine"
	"github.com/align-go/align/grpo"
	"github.com/align-go/align/llm"
	"github.com/align-go/align/loss"
	"github.com/align-go/align/ppo"
	"github.com/align-go/align/reward"
	"github.com/align-go/align/train"
)

// Trainers build the training jobs of the recipe's stages from what the
// recipe decides (the Spec types) and the loop's settings; Jobs is the
// default. Every stage trains all weights (no LoRA).
type Trainers interface {
	Pretrain(PretrainSpec, train.Settings, io.Writer) (*train.Job, error)
	SFT(SFTSpec, train.Settings, io.Writer) (*train.Job, error)
	RewardModel(PrefSpec, train.Settings, io.Writer) (*train.Job, error)
	DPO(DPOSpec, train.Settings, io.Writer) (*train.Job, error)
	PPO(PPOSpec, train.Settings, io.Writer) (*train.Job, error)
	GRPO(GRPOSpec, train.Settings, io.Writer) (*train.Job, error)
}

// PretrainSpec is a pretraining stage from random weights.
type PretrainSpec struct {
	ModelConfig, Tokenizer string   // config.json of the fresh model; tokenizer directory
	Text                   []string // text files
	SeqLen                 int      // window length
	DType                  string   // saved weights: F32, BF16 or F16
}

// SFTSpec is a supervised fine-tuning stage.
type SFTSpec struct {
	Model              string
	Data               []string
	LossOn, Truncation string // as sft.LossOn and sft.Truncation name them
	MaxLength          int
	DType              string
}

// PrefSpec is a stage trained on preference pairs (the reward model).
type PrefSpec struct {
	Model, Data, EvalData string
	MaxLength             int
	DType                 string
}

// DPOSpec is a DPO stage: pairs and the loss (the reference is a copy of
// the starting model).
type DPOSpec struct {
	PrefSpec
	Config loss.DPOConfig
}

// PPOSpec is a PPO stage: policy, reward model and prompts, and how
// rollouts are sampled.
type PPOSpec struct {
	Policy, RewardModel, Prompts string
	Config                       ppo.Config
	ValueInit                    string  // reward (the reward model's head) or policy
	MissingEOS                   float64 // penalty on completions that never stop (NaN: none)
	Temperature, TopP            float64
	SampleEvery                  int // append completions to samples.jsonl every N updates
	DType                        string
}

// GRPOSpec is a GRPO stage with in-process reward functions.
type GRPOSpec struct {
	Policy, Prompts string
	Rewards         []reward.Func
	Config          grpo.Config
	DType           string
}

func runJob(ctx context.Context, job *train.Job, err error) error {
	if err != nil {
		return err
	}
	_, err = train.Run(ctx, job)
	return err
}

// runPPO runs PPO from the SFT model against the reward model (RLHF proper:
// the policy only sees the learned reward, never the gold one).
func runPPO(ctx context.Context, tr Trainers, p Preset, seed uint64, dirs, files map[string]string, log io.Writer) error {
	sp := PPOSpec{Config: ppo.DefaultConfig(), Policy: dirs["sft"], RewardModel: dirs["rm"], Prompts: files["train_prompts"],
		ValueInit: "reward", DType: "F32", SampleEvery: max(p.PPOUpdates/5, 1), TopP: 1}
	c := &sp.Config
	c.NumMiniBatches, c.KL.Coef, c.MaxNewTokens = p.PPOMiniBatches, p.PPOKL, p.SeqLen/2
	// Rollouts sample at temperature 1, where the evaluation samples: at
	// TRL's 0.7 the policy is sharpened only for a distribution nobody
	// evaluates (red-team pass 93% against 97% at 1, in a sweep on this preset).
	sp.Temperature = 1
	// Completions that never stop are penalised, as TRL's examples do
	// (missing_eos_penalty), so the policy cannot gain by rambling.
	sp.MissingEOS = 1
	s := train.DefaultSettings()
	s.Out, s.MaxSteps, s.LR, s.Seed = dirs["ppo"], p.PPOUpdates, p.PPOLR, seed
	s.BatchSize, s.GradAccum = p.PPOBatch/p.PPOMiniBatches, 1 // rollouts of PPOBatch prompts
	s.LoggingSteps, s.SaveSteps, s.GroupByLength = 1, 0, false
	// Linear decay without warm-up over the optimizer updates, and AdamW's
	// weight decay 0.01: the settings this stage was tuned with.
	s.LRScheduler, s.WarmupSteps, s.WeightDecay = "linear", 0, 0.01
	job, err := tr.PPO(sp, s, log)
	return runJob(ctx, job, err)
}

// runGRPO runs GRPO from the SFT model with the gold reward: a verifiable
// reward, as in RL from verifiable rewards, so there is no reward model to
// exploit.
func runGRPO(ctx context.Context, tr Trainers, p Preset, dirs, files map[string]string, log io.Writer, s train.Settings) error {
	sp := GRPOSpec{Config: grpo.DefaultConfig(), Policy: dirs["sft"], Prompts: files["train_prompts"],
		Rewards: []reward.Func{NewGold()}, DType: "F32"}
	c := &sp.Config
	c.NumGenerations, c.Beta, c.MaxNewTokens = p.GRPOGens, p.GRPOBeta, p.SeqLen/2
	c.SamplesEvery = max(p.GRPOSteps/5, 1)
	s.BatchSize = p.GRPOBatch
	s.LRScheduler, s.WarmupSteps = "constant", 0
	job, err := tr.GRPO(sp, s, log)
	return runJob(ctx, job, err)
}

// runCAI is Constitutional AI's supervised phase: the SFT model answers
// training prompts, critiques its answer under a principle drawn from the
// shipped constitution and revises it (cai.Revise over the same local
// engine `align serve` uses); the SFT model is then fine-tuned on the
// revisions. The shipped constitution's worked example is left out of the
// prompt: with it the conversation is longer than anything these models
// were trained on.
func runCAI(ctx context.Context, tr Trainers, p Preset, seed uint64, task Task, dirs map[string]string, log io.Writer, s train.Settings) error {
	con := *cai.Default()
	con.Examples = nil
	client, closeClient, err := llm.Open(dirs["sft"], engine.Options{MaxBatch: 32})
	if err != nil {
		return fmt.Errorf("policy: %w", err)
	}
	defer closeClient()
	if l, ok := client.(*llm.Local); ok {
		l.MaxTokens = p.SeqLen / 2
	}
	var prompts []cai.Prompt
	for i := 0; i < min(p.CAIPrompts, len(task.Train)); i++ {
		it := task.Train[(i*7919)%len(task.Train)] // a spread over benign and harmful requests
		prompts = append(prompts, cai.Prompt{Index: i, Messages: []chat.Message{{Role: "user", Content: it.Prompt}}})
	}
	revs, err := cai.Revise(ctx, client, &con, prompts, cai.ReviseOptions{Rounds: 1, Seed: seed,
		Sampling: cai.Sampling{MaxTokens: p.SeqLen / 2, Temperature: 0.7, TopP: 1}})
	if err != nil {
		return err
	}
	dir := filepath.Join(dirs["cai"], "revise")
	os.RemoveAll(dir)
	out, err := cai.OpenOutput(dir)
	if err != nil {
		return err
	}
	if err := out.Write(revs); err != nil {
		out.Close()
		return err
	}
	nSFT := out.SFTRows
	if err := out.Close(); err != nil {
		return err
	}
	gold := NewGold()
	var before, after float64
	for _, r := range revs {
		it, err := gold.Lookup(reward.Sample{Fields: map[string]any{"prompt": r.Prompt[0].Content}})
		if err != nil {
			return err
		}
		before += Score(it, r.Initial) / float64(len(revs))
		after += Score(it, r.Final()) / float64(len(revs))
	}
	fmt.Fprintf(log, "cai: %d prompts revised, %d sft rows; gold reward of the initial answers %.3f, of the revisions %.3f\n",
		len(revs), nSFT, before, after)
	if nSFT == 0 {
		return fmt.Errorf("the SFT model's revisions were all blank: nothing to fine-tune on (see %s)", dir)
	}
	sp := SFTSpec{Model: dirs["sft"], Data: []string{filepath.Join(dir, cai.SFTFile)}, LossOn: "completion",
		Truncation: "right", MaxLength: p.SeqLen, DType: "F32"}
	s.Out = filepath.Join(dirs["cai"], "model")
	job, err := tr.SFT(sp, s, log)
	return runJob(ctx, job, err)
}
