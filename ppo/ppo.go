// Package ppo is RLHF with proximal policy optimisation (TRL's PPOTrainer):
// four roles — the policy, a frozen reference, a reward model and a value
// model — where under LoRA the policy adapters, the value adapters and the
// reference (all adapters off) share one frozen base. Each rollout batch is
// sampled, scored at its EOS, turned into per-token rewards with a KL
// penalty folded in, given GAE advantages, and trained on for several epochs
// of minibatches with the clipped policy and value losses. The math is
// loss's (KLPenalty, TokenRewards, GAE, MaskedWhiten, PPOPolicyLoss,
// ValueLoss), the per-token log-probs policy's, and the optimizer, schedule
// and checkpoints the shared loop's: Trainer is a train.RolloutObjective.
package ppo

import (
	"context"
	"encoding/json"
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
	"github.com/align-go/align/reward"
	"github.com/align-go/align/rl"
	"github.com/align-go/align/train"
)

// Config holds PPO's hyperparameters; DefaultConfig gives TRL's. The
// optimizer, learning-rate schedule, clipping and the number of rollouts are
// the shared loop's (train.Settings); Trainer is a train.RolloutObjective.
type Config struct {
	// BatchSize is the number of prompts (one completion each) per rollout,
	// TRL's batch_size: per_device_train_batch_size × gradient_accumulation_steps
	// × num_mini_batches.
	BatchSize      int
	NumPPOEpochs   int
	NumMiniBatches int
	// GradAccum splits each minibatch into this many micro-batches whose
	// gradients add up to the minibatch's (TRL's gradient_accumulation_steps).
	GradAccum int

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

	Sampling     generate.Sampling
	MaxNewTokens int
	// Seed draws the prompts and samples of each rollout and the minibatch
	// order: everything random in step s comes from (Seed, s).
	Seed uint64

	// Alarms watch length, distinct-2 and KL every update; their length
	// baseline is saved in checkpoints. Warnings go to Log when set.
	Alarms rl.Alarms
	Log    io.Writer
	// Samples, when set, is the samples.jsonl path that every SamplesEvery
	// steps gets the rollout's prompts, completions and scores.
	Samples      string
	SamplesEvery int
}

// DefaultConfig is TRL's PPOConfig: kl_coef 0.05 (k1), γ 1, λ 0.95,
// cliprange 0.2, vf_coef 0.1, cliprange_value 0.2, 4 PPO epochs, 1
// minibatch, temperature 0.7, response_length 53 (lr 3e-6 and
// max_grad_norm 1 are the loop's settings).
func DefaultConfig() Config {
	return Config{
		BatchSize: 8, NumPPOEpochs: 4, NumMiniBatches: 1, GradAccum: 1,
		KL: loss.KLController{Coef: 0.05, Horizon: 10000}, KLEstimator: "k1",
		Gamma: 1, Lam: 0.95, ClipRange: 0.2, VFCoef: 0.1, ClipValue: 0.2,
		MissingEOSPenalty: math.NaN(),
		Sampling:          generate.Sampling{Temperature: 0.7}, MaxNewTokens: 53,
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

// Trainer is PPO over a fixed prompt set, as a train.RolloutObjective: each
// loop step samples one completion for BatchSize prompts, scores them,
// computes advantages, and plans NumPPOEpochs × NumMiniBatches updates of
// GradAccum micro-batches each. Run it with train.Run and ParamSets.
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

	sets    []train.ParamSet
	cur     *rolloutData // the rollout being trained on
	trimmed bool         // samples.jsonl cut back to where this run starts

	dhidden []float32 // d(loss)/d(final hidden) of the last micro-batch, reused

	// Last holds the last rollout's completions and their scores (after
	// the missing-EOS penalty).
	Last       []generate.Completion
	LastScores []float64
}

// New checks the configuration and gathers the trained parameter sets.
func New(cfg Config, roles Roles, prompts [][]int32, eos []int32, pad int32) (*Trainer, error) {
	switch {
	case cfg.BatchSize <= 0 || cfg.NumPPOEpochs <= 0 || cfg.NumMiniBatches <= 0 || cfg.GradAccum <= 0:
		return nil, fmt.Errorf("ppo: batch size %d, ppo epochs %d, minibatches %d, gradient accumulation %d: want > 0",
			cfg.BatchSize, cfg.NumPPOEpochs, cfg.NumMiniBatches, cfg.GradAccum)
	case cfg.BatchSize%(cfg.NumMiniBatches*cfg.GradAccum) != 0:
		return nil, fmt.Errorf("ppo: rollout batch %d is not a multiple of --num-mini-batches %d × --grad-accum %d",
			cfg.BatchSize, cfg.NumMiniBatches, cfg.GradAccum)
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
	return t, nil
}

// ParamSets are the trained sets (policy, value, value head), for the
// loop's Job.Params: each gets its own AdamW, clipped together.
func (t *Trainer) ParamSets() []train.ParamSet { return t.sets }

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

// Len is the number of prompts.
func (t *Trainer) Len() int { return len(t.Prompts) }

// Length is prompt i's length.
func (t *Trainer) Length(i int) int { return len(t.Prompts[i]) }

// RolloutSize: BatchSize prompts per rollout, NumPPOEpochs × NumMiniBatches
// optimizer updates on it.
func (t *Trainer) RolloutSize() (int, int) {
	return t.Cfg.BatchSize, t.Cfg.NumPPOEpochs * t.Cfg.NumMiniBatches
}

// Rollout samples, scores and prepares step ctx.Step's batch and plans its
// updates: per PPO epoch a fresh permutation of the rows cut into
// NumMiniBatches minibatches of GradAccum micro-batches. Its metrics carry
// TRL's names.
func (t *Trainer) Rollout(ctx *train.StepContext) ([][][]int, train.Metrics, error) {
	cfg := &t.Cfg
	u := ctx.Step - 1
	idx := t.batchPrompts(u)
	prompts := make([][]int32, len(idx))
	for k, i := range idx {
		prompts[k] = t.Prompts[i]
	}
	if err := t.usePolicy(); err != nil {
		return nil, nil, err
	}
	cs, err := generate.Generate(t.Roles.Policy, prompts, generate.Options{Sampling: cfg.Sampling,
		MaxNewTokens: cfg.MaxNewTokens, Seed: cfg.Seed ^ (uint64(u+1) * 0x9e3779b97f4a7c15), EOS: t.EOS, Decode: t.Decode})
	if err != nil {
		return nil, nil, fmt.Errorf("ppo: rollout: %w", err)
	}
	t.Last = cs
	ro, err := generate.NewRollout(prompts, cs, t.Pad)
	if err != nil {
		return nil, nil, err
	}
	d, err := t.passes(ro)
	if err != nil {
		return nil, nil, err
	}
	scores, eosCount, err := t.score(context.Background(), ro, idx)
	if err != nil {
		return nil, nil, err
	}
	t.LastScores = scores
	met, err := t.prepare(d, scores)
	if err != nil {
		return nil, nil, err
	}
	t.cur = d
	met["val/num_eos_tokens"] = float64(eosCount)
	met["objective/kl_coef"] = cfg.KL.Coef
	// The new coefficient applies from the next rollout: this one's rewards
	// are already folded.
	cfg.KL.Update(met["objective/kl"], cfg.BatchSize)
	met["episode"] = float64(ctx.Step * cfg.BatchSize)
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
	cfg.Alarms.Check(ctx.Step, am, met["objective/kl"], log)
	for k, v := range am {
		if strings.HasPrefix(k, "alarm/") {
			met[k] = v
		}
	}
	if err := t.writeSamples(ctx.Step, idx); err != nil {
		return nil, nil, err
	}
	return t.plan(u), met, nil
}

// plan is update u's minibatch order: per epoch a permutation of the rows
// from (Seed, u), cut into minibatches and those into micro-batches.
func (t *Trainer) plan(u int) [][][]int {
	cfg := &t.Cfg
	B := cfg.BatchSize
	mb := B / cfg.NumMiniBatches
	micro := mb / cfg.GradAccum
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x3b0+uint64(u)))
	var plan [][][]int
	for ep := 0; ep < cfg.NumPPOEpochs; ep++ {
		perm := rng.Perm(B)
		for lo := 0; lo < B; lo += mb {
			var upd [][]int
			for m := lo; m < lo+mb; m += micro {
				upd = append(upd, perm[m:m+micro])
			}
			plan = append(plan, upd)
		}
	}
	return plan
}

// writeSamples appends the rollout to Samples every SamplesEvery steps,
// after cutting rows a killed run wrote past this run's start.
func (t *Trainer) writeSamples(step int, idx []int) error {
	cfg := &t.Cfg
	if cfg.Samples == "" {
		return nil
	}
	if !t.trimmed {
		if err := rl.TrimSteps(cfg.Samples, step-1); err != nil {
			return fmt.Errorf("ppo: samples: %w", err)
		}
		t.trimmed = true
	}
	if cfg.SamplesEvery <= 0 || step%cfg.SamplesEvery != 0 {
		return nil
	}
	for i, c := range t.Last {
		row := map[string]any{"step": step, "completion": c.Text, "finish_reason": c.FinishReason, "score": t.LastScores[i]}
		if t.Decode != nil {
			row["prompt"] = t.Decode(t.Prompts[idx[c.Prompt]])
		}
		if err := rl.AppendJSONL(cfg.Samples, row); err != nil {
			return fmt.Errorf("ppo: samples: %w", err)
		}
	}
	return nil
}

// Units is the number of completion tokens in rows idx of the rollout.
func (t *Trainer) Units(idx []int) int {
	T, n := t.cur.r.T, 0
	for _, r := range idx {
		for _, m := range t.cur.r.CompletionMask[r*T : (r+1)*T] {
			n += int(m)
		}
	}
	return n
}

// Accumulate adds the gradients of rows idx of the rollout, their losses
// weighted by their share of totalUnits completion tokens, so that the
// micro-batches of an update add up to token means over the whole
// minibatch. TRL averages its micro-batches' token means instead; the two
// agree without accumulation.
func (t *Trainer) Accumulate(idx []int, totalUnits int) (train.Metrics, error) {
	scale := float64(t.Units(idx)) / float64(totalUnits)
	st, err := t.accumulate(t.cur, idx, scale)
	if err != nil {
		return nil, err
	}
	m := train.Metrics{"loss": scale * (st[2] + t.Cfg.VFCoef*st[3])}
	for i, k := range minibatchMetrics {
		m[k] = scale * st[i]
	}
	return m, nil
}

// state is what a checkpoint must restore beyond the loop's own state.
type state struct {
	KLCoef         float64         `json:"kl_coef"`
	BatchSize      int             `json:"batch_size"`
	NumMiniBatches int             `json:"num_mini_batches"`
	NumPPOEpochs   int             `json:"num_ppo_epochs"`
	Alarms         json.RawMessage `json:"alarms,omitempty"`
}

// State is the adaptive KL coefficient and the alarms' length baseline.
func (t *Trainer) State() ([]byte, error) {
	st := state{KLCoef: t.Cfg.KL.Coef, BatchSize: t.Cfg.BatchSize, NumMiniBatches: t.Cfg.NumMiniBatches, NumPPOEpochs: t.Cfg.NumPPOEpochs}
	var err error
	if st.Alarms, err = t.Cfg.Alarms.State(); err != nil {
		return nil, err
	}
	return json.Marshal(st)
}

// LoadState restores State's output, refusing one from a run with another
// rollout shape.
func (t *Trainer) LoadState(b []byte) error {
	if b == nil {
		return errors.New("ppo: the checkpoint holds no PPO state")
	}
	var st state
	if err := json.Unmarshal(b, &st); err != nil {
		return err
	}
	if st.BatchSize != t.Cfg.BatchSize || st.NumMiniBatches != t.Cfg.NumMiniBatches || st.NumPPOEpochs != t.Cfg.NumPPOEpochs {
		return fmt.Errorf("written by a run with rollout batch %d, %d minibatches, %d PPO epochs; this one has %d, %d and %d",
			st.BatchSize, st.NumMiniBatches, st.NumPPOEpochs, t.Cfg.BatchSize, t.Cfg.NumMiniBatches, t.Cfg.NumPPOEpochs)
	}
	if len(st.Alarms) > 0 {
		if err := t.Cfg.Alarms.LoadState(st.Alarms); err != nil {
			return fmt.Errorf("alarms: %w", err)
		}
	}
	t.Cfg.KL.Coef = st.KLCoef
	return nil
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
