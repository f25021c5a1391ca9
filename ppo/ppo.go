// Package ppo is RLHF with proximal policy optimisation (TRL's PPOTrainer):
// four roles — the policy, a frozen reference, a reward model and a value
// model — where under LoRA the policy adapters, the value adapters and the
// reference (all adapters off) share one frozen base. Each rollout batch is
// sampled, scored at its EOS, turned into per-token rewards with a KL
// penalty folded in, given GAE advantages, and trained on for several epochs
// of minibatches with the clipped policy and value losses.
package ppo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/align-go/align/generate"
	"github.com/align-go/align/loss"
	"github.com/align-go/align/model"
	"github.com/align-go/align/optim"
	"github.com/align-go/align/reward"
	"github.com/align-go/align/rl"
	"github.com/align-go/align/train"
)

// Config holds PPO's hyperparameters; DefaultConfig gives TRL's.
type Config struct {
	BatchSize      int // prompts (one completion each) per rollout batch
	NumPPOEpochs   int
	NumMiniBatches int
	Updates        int // rollout batches in the run

	KL          loss.KLController
	KLEstimator string // k1 (TRL's default), k2 or k3: loss.KLPenalty's names
	Gamma, Lam  float64
	ClipRange   float64
	VFCoef      float64
	ClipValue   float64
	// MissingEOSPenalty is subtracted from the score of completions that end
	// without EOS; NaN means none (TRL's None).
	MissingEOSPenalty float64
	WhitenRewards     bool

	LR          float64 // decays linearly to 0 over the run, TRL's default schedule
	MaxGradNorm float64
	Adam        optim.AdamWConfig

	Sampling     generate.Sampling
	MaxNewTokens int
	Seed         uint64

	// Alarms watch length, distinct-2 and KL every update; their length
	// baseline is saved in checkpoints. Warnings go to Log when set.
	Alarms rl.Alarms
	Log    io.Writer
}

// DefaultConfig is TRL's PPOConfig: kl_coef 0.05 (k1), γ 1, λ 0.95,
// cliprange 0.2, vf_coef 0.1, cliprange_value 0.2, 4 PPO epochs, 1
// minibatch, temperature 0.7, response_length 53, lr 3e-6, max_grad_norm 1.
func DefaultConfig() Config {
	return Config{
		BatchSize: 8, NumPPOEpochs: 4, NumMiniBatches: 1, Updates: 1,
		KL: loss.KLController{Coef: 0.05, Horizon: 10000}, KLEstimator: "k1",
		Gamma: 1, Lam: 0.95, ClipRange: 0.2, VFCoef: 0.1, ClipValue: 0.2,
		MissingEOSPenalty: math.NaN(), LR: 3e-6, MaxGradNorm: 1, Adam: optim.DefaultAdamWConfig(),
		Sampling: generate.Sampling{Temperature: 0.7}, MaxNewTokens: 53,
	}
}

// Roles are the four models. With PolicySet set, Policy holds LoRA sets on
// a frozen base and Ref may be Policy itself (its base, adapters off).
type Roles struct {
	Policy    *model.Model
	PolicySet string // LoRA set trained as the policy; "" trains Policy's weights
	Ref       *model.Model
	Value     *ValueModel
	Reward    reward.Func
}

// Trainer runs PPO over a fixed prompt set.
type Trainer struct {
	Cfg     Config
	Roles   Roles
	Prompts [][]int32
	// Fields are each prompt row's extra fields, passed to the reward.
	Fields []map[string]any
	EOS    []int32
	Pad    int32
	// Decode, when set, fills the samples' text for the reward and the log.
	Decode func([]int32) string

	// Update is the number of rollout batches done; everything random in
	// update u is drawn from (Seed, u), so a run resumed at Update u repeats
	// the uninterrupted run exactly given the same weights, optimizer
	// state and KL coefficient.
	Update int
	sets   []train.ParamSet
	opts   []*optim.AdamW

	dhidden []float32 // d(loss)/d(final hidden) of the last minibatch, reused

	// Last holds the last rollout's completions and their scores (after
	// the missing-EOS penalty), for samples.jsonl.
	Last       []generate.Completion
	LastScores []float64
}

// BatchPrompt is the index into Prompts of prompt k of update u's batch.
func (t *Trainer) BatchPrompt(u, k int) int { return t.batchPrompts(u)[k] }

// New checks the configuration and builds one AdamW per parameter set.
func New(cfg Config, roles Roles, prompts [][]int32, eos []int32, pad int32) (*Trainer, error) {
	switch {
	case cfg.BatchSize <= 0 || cfg.NumPPOEpochs <= 0 || cfg.NumMiniBatches <= 0:
		return nil, fmt.Errorf("ppo: batch size %d, ppo epochs %d, minibatches %d: want > 0", cfg.BatchSize, cfg.NumPPOEpochs, cfg.NumMiniBatches)
	case cfg.BatchSize%cfg.NumMiniBatches != 0:
		return nil, fmt.Errorf("ppo: batch size %d is not a multiple of --num-mini-batches %d", cfg.BatchSize, cfg.NumMiniBatches)
	case !slices.Contains(loss.KLKinds(), cfg.KLEstimator):
		return nil, fmt.Errorf("ppo: --kl-estimator %q: want one of %v", cfg.KLEstimator, loss.KLKinds())
	case cfg.Sampling.Temperature <= 0:
		return nil, fmt.Errorf("ppo: temperature %v: PPO samples, want > 0", cfg.Sampling.Temperature)
	case cfg.MaxNewTokens <= 0:
		return nil, fmt.Errorf("ppo: max new tokens %d: want > 0", cfg.MaxNewTokens)
	case len(prompts) == 0:
		return nil, errors.New("ppo: no prompts")
	case roles.Policy == nil || roles.Ref == nil || roles.Value == nil || roles.Reward == nil:
		return nil, errors.New("ppo: policy, reference, value model and reward are all required")
	}
	if err := cfg.KL.Validate(); err != nil {
		return nil, fmt.Errorf("ppo: %w", err)
	}
	if err := cfg.Sampling.Validate(); err != nil {
		return nil, fmt.Errorf("ppo: %w", err)
	}
	t := &Trainer{Cfg: cfg, Roles: roles, Prompts: prompts, EOS: eos, Pad: pad}
	var pol train.ParamSet
	if roles.PolicySet != "" {
		lo := roles.Policy.LoRASet(roles.PolicySet)
		if lo == nil {
			return nil, fmt.Errorf("ppo: policy has no LoRA set %q", roles.PolicySet)
		}
		roles.Policy.EnableGrad()
		pol = loraParams("policy", lo)
	} else {
		pol = train.ModelParams("policy", roles.Policy)
	}
	t.sets = append([]train.ParamSet{pol}, roles.Value.Params()...)
	for _, ps := range t.sets {
		o, err := optim.NewAdamW(cfg.Adam, ps.Spans, len(ps.Data))
		if err != nil {
			return nil, fmt.Errorf("ppo: parameter set %s: %w", ps.Name, err)
		}
		t.opts = append(t.opts, o)
	}
	return t, nil
}

// ParamSets are the trained sets (policy, value, value head), each with its
// own AdamW (Optimizers, same order).
func (t *Trainer) ParamSets() []train.ParamSet { return t.sets }

// Optimizers are the sets' AdamW states, for checkpoints.
func (t *Trainer) Optimizers() []*optim.AdamW { return t.opts }

func (t *Trainer) usePolicy() error {
	if t.Roles.PolicySet == "" {
		return nil
	}
	return t.Roles.Policy.UseLoRA(t.Roles.PolicySet)
}

// batchPrompts picks update u's prompts: consecutive slices of a seeded
// permutation of the prompt set, a fresh permutation per pass.
func (t *Trainer) batchPrompts(u int) []int {
	n := len(t.Prompts)
	out := make([]int, t.Cfg.BatchSize)
	var perm []int
	pass := -1
	for k := range out {
		g := u*t.Cfg.BatchSize + k
		if p := g / n; p != pass {
			pass = p
			perm = rand.New(rand.NewPCG(t.Cfg.Seed, 0x9901+uint64(p))).Perm(n)
		}
		out[k] = perm[g%n]
	}
	return out
}

// rolloutData is everything one rollout batch trains on, [B,T] per token.
type rolloutData struct {
	r                     *generate.Rollout
	mask                  []float64 // completion mask
	logp, values, adv, rt []float64
	ref                   []float64 // reference log-probs, until prepare
	rewards               []float64 // per-token rewards (KL penalty + score at EOS), before any whitening
}

// Step samples, scores and trains on one rollout batch and returns its
// metrics with TRL's names.
func (t *Trainer) Step(ctx context.Context) (map[string]float64, error) {
	cfg := &t.Cfg
	u := t.Update
	idx := t.batchPrompts(u)
	prompts := make([][]int32, len(idx))
	for k, i := range idx {
		prompts[k] = t.Prompts[i]
	}
	if err := t.usePolicy(); err != nil {
		return nil, err
	}
	cs, err := generate.Generate(t.Roles.Policy, prompts, generate.Options{Sampling: cfg.Sampling,
		MaxNewTokens: cfg.MaxNewTokens, Seed: cfg.Seed ^ (uint64(u+1) * 0x9e3779b97f4a7c15), EOS: t.EOS, Decode: t.Decode})
	if err != nil {
		return nil, fmt.Errorf("ppo: rollout: %w", err)
	}
	t.Last = cs
	ro, err := generate.NewRollout(prompts, cs, t.Pad)
	if err != nil {
		return nil, err
	}
	d, err := t.passes(ro)
	if err != nil {
		return nil, err
	}
	scores, eosCount, err := t.score(ctx, ro, idx)
	if err != nil {
		return nil, err
	}
	t.LastScores = scores
	met, err := t.prepare(d, scores)
	if err != nil {
		return nil, err
	}
	met["val/num_eos_tokens"] = float64(eosCount)
	if err := t.train(d, u, met); err != nil {
		return nil, err
	}
	met["objective/kl_coef"] = cfg.KL.Coef
	cfg.KL.Update(met["objective/kl"], cfg.BatchSize)
	t.Update++
	met["episode"] = float64(t.Update * cfg.BatchSize)
	toks := make([][]int32, len(cs))
	for i, c := range cs {
		toks[i] = c.Tokens
	}
	for k, v := range rl.Monitors(toks) {
		met[k] = v
	}
	am := map[string]float64{"completions/mean_length": met["completions/mean_length"]}
	if d, ok := met["completions/distinct_2"]; ok {
		am["completions/distinct_2"] = d
	}
	log := cfg.Log
	if log == nil {
		log = io.Discard
	}
	cfg.Alarms.Check(t.Update, am, met["objective/kl"], log)
	for k, v := range am {
		if strings.HasPrefix(k, "alarm/") {
			met[k] = v
		}
	}
	return met, nil
}

// score asks the reward for one score per completion and applies the
// missing-EOS penalty.
func (t *Trainer) score(ctx context.Context, ro *generate.Rollout, idx []int) ([]float64, int, error) {
	samples := make([]reward.Sample, ro.B)
	eos := 0
	for i, c := range ro.Completions {
		s := reward.Sample{PromptIDs: t.Prompts[idx[c.Prompt]], CompletionIDs: c.Tokens, Completion: c.Text,
			Truncated: c.FinishReason != generate.FinishStop}
		if t.Decode != nil {
			s.Prompt = t.Decode(s.PromptIDs)
		}
		if t.Fields != nil {
			s.Fields = t.Fields[idx[c.Prompt]]
		}
		samples[i] = s
		if n := len(c.Tokens); n > 0 && t.isEOS(c.Tokens[n-1]) {
			eos++
		}
	}
	scores, err := t.Roles.Reward.Score(ctx, samples)
	if err != nil {
		return nil, 0, fmt.Errorf("ppo: reward %s: %w", t.Roles.Reward.Name(), err)
	}
	if len(scores) != ro.B {
		return nil, 0, fmt.Errorf("ppo: reward %s returned %d scores for %d completions", t.Roles.Reward.Name(), len(scores), ro.B)
	}
	if !math.IsNaN(t.Cfg.MissingEOSPenalty) {
		for i, c := range ro.Completions {
			if n := len(c.Tokens); n == 0 || !t.isEOS(c.Tokens[n-1]) {
				scores[i] -= t.Cfg.MissingEOSPenalty
			}
		}
	}
	return scores, eos, nil
}

func (t *Trainer) isEOS(id int32) bool {
	for _, e := range t.EOS {
		if e == id {
			return true
		}
	}
	return false
}
