package ppo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/align-go/align/loss"
	"github.com/align-go/align/model"
	"github.com/align-go/align/optim"
	"github.com/align-go/align/pref"
	"github.com/align-go/align/reward"
	"github.com/align-go/align/rewardmodel"
	"github.com/align-go/align/rl"
	"github.com/align-go/align/train"
)

const (
	testEOS  = 1
	liked    = 5  // the token the reward model learns to like
	testV    = 16 // vocabulary
	maxNew   = 6
	testSeed = 3
)

func tinyLlama(t testing.TB, seed uint64) *model.Model {
	t.Helper()
	cfg, err := model.ParseConfig(map[string]any{"model_type": "llama", "vocab_size": float64(testV), "eos_token_id": float64(testEOS),
		"hidden_size": 32.0, "num_hidden_layers": 2.0, "num_attention_heads": 4.0, "num_key_value_heads": 2.0,
		"intermediate_size": 64.0, "max_position_embeddings": 32.0})
	if err != nil {
		t.Fatal(err)
	}
	m := model.New(cfg)
	m.InitRandom(seed)
	return m
}

// trainLikesRM regresses a tiny reward model onto "share of the completion
// that is token 5": an obvious preference the policy can only satisfy by
// moving probability onto one token.
func trainLikesRM(t testing.TB) *rewardmodel.Scorer {
	t.Helper()
	rm := rewardmodel.NewRewardModel(tinyLlama(t, 11), 0, 12)
	rm.Model.EnableGrad()
	ps := []struct {
		data, grad []float32
		spans      []optim.Span
	}{{rm.Model.Data, rm.Model.Grad, []optim.Span{{Name: "all", Size: len(rm.Model.Data)}}}, {rm.Head, nil, []optim.Span{{Name: "head", Size: len(rm.Head)}}}}
	hp := pref.HeadParams(rm)
	ps[1].grad = hp.Grad
	var opts []*optim.AdamW
	for _, p := range ps {
		o, err := optim.NewAdamW(optim.DefaultAdamWConfig(), p.spans, len(p.data))
		if err != nil {
			t.Fatal(err)
		}
		opts = append(opts, o)
	}
	r := rand.New(rand.NewPCG(4, 4))
	sample := func() ([]int32, float64) {
		row := []int32{int32(2 + r.IntN(3)), int32(2 + r.IntN(3))}
		k := 0
		p := r.Float64() // varied densities of the liked token, varied lengths
		n := 1 + r.IntN(maxNew)
		for i := 0; i < n; i++ {
			id := int32(r.IntN(testV))
			for id == testEOS {
				id = int32(r.IntN(testV))
			}
			if r.Float64() < p {
				id = liked
			}
			if id == liked {
				k++
			}
			row = append(row, id)
		}
		if r.IntN(2) == 0 {
			row = append(row, testEOS)
		}
		return row, float64(k) / maxNew
	}
	for step := 0; step < 300; step++ {
		var batch [][]int32
		var want []float64
		for i := 0; i < 16; i++ {
			s, y := sample()
			batch, want = append(batch, s), append(want, y)
		}
		clear(rm.Model.Grad)
		clear(rm.HeadGrad)
		got, err := rm.Forward(batch)
		if err != nil {
			t.Fatal(err)
		}
		d := make([]float64, len(got))
		for i := range got {
			d[i] = 2 * (got[i] - want[i]) / float64(len(got))
		}
		if err := rm.Backward(d); err != nil {
			t.Fatal(err)
		}
		for i, o := range opts {
			if err := o.Step(ps[i].data, ps[i].grad, 3e-3); err != nil {
				t.Fatal(err)
			}
		}
	}
	sc := &rewardmodel.Scorer{RM: rm}
	got, err := sc.ScoreIDs([][]int32{{2, 3, liked, liked, liked, liked, liked, liked, testEOS}, {2, 3, 7, 8, 9, 10, 11, 12, testEOS}, {2, 3, liked, 9, testEOS}})
	if err != nil {
		t.Fatal(err)
	}
	if !(got[0] > 0.7 && got[1] < 0.15 && math.Abs(got[2]-1.0/6) < 0.15) {
		t.Fatalf("the reward model did not learn the preference: scores %v for all, none and one liked token", got)
	}
	return sc
}

// TestPPORaisesRewardAtBoundedKL: LoRA policy and value adapters on one
// base (reference = adapters off) against a reward model that likes one
// token. The starting policy emits it about 1 time in 14 (score ≈ 0.09);
// PPO must lift the mean score by at least 0.2 (it reaches ≈ 0.45 in 30
// updates) and the KL-penalised reward with it, while the KL to the
// reference stays finite and under 8 nats per sequence: at kl_coef 0.05 that
// much KL costs 0.4, as much as the score gained, so a policy beyond it would
// be paying more penalty than it earns (it sits near 5).
func TestPPORaisesRewardAtBoundedKL(t *testing.T) {
	scorer := trainLikesRM(t)
	pol := tinyLlama(t, 21)
	// A random model's lm_head (std 0.02) after the final RMSNorm gives
	// logits of about ±0.1, which adapters on the linears (lm_head is not
	// one) cannot widen: scale it to the range a trained model has.
	for i := range pol.W.LMHead {
		pol.W.LMHead[i] *= 8
	}
	lcfg := model.LoRAConfig{R: 4, Alpha: 8, Targets: []string{"all-linear"}}
	if err := pol.AttachLoRASet("policy", lcfg, 1); err != nil {
		t.Fatal(err)
	}
	if err := pol.AttachLoRASet("value", lcfg, 2); err != nil {
		t.Fatal(err)
	}
	vm := &ValueModel{Model: pol, Set: "value", Head: append([]float32(nil), scorer.RM.Head...)} // --value-init reward
	cfg := DefaultConfig()
	cfg.BatchSize, cfg.NumMiniBatches, cfg.MaxNewTokens = 64, 4, maxNew
	cfg.KL.Coef = 0.05
	cfg.Sampling.Temperature = 1
	cfg.Seed = testSeed
	prompts := [][]int32{{2, 3}, {2, 4}, {3, 2}, {4, 4}}
	// distinct-2 is at most 1, so this alarm fires every update; the KL
	// threshold is never reached.
	var alarmLog bytes.Buffer
	cfg.Alarms, cfg.Log = rl.Alarms{Distinct: 1.01, KL: 1e9}, &alarmLog
	tr, err := New(cfg, Roles{Policy: pol, PolicySet: "policy", Ref: pol, Value: vm, Reward: &reward.RM{Scorer: scorer}}, prompts, []int32{testEOS}, 0)
	if err != nil {
		t.Fatal(err)
	}
	const updates = 15
	s := testSettings(t.TempDir(), updates)
	s.LR = 3e-3 // tiny models need a far higher rate than TRL's 3e-6
	rows := runLoop(t, tr, s)
	var scores, kls, rlhf []float64
	for u, met := range rows {
		for _, k := range []string{"objective/kl", "objective/entropy", "objective/rlhf_reward", "policy/approxkl_avg",
			"policy/clipfrac_avg", "loss/policy_avg", "loss/value_avg", "val/clipfrac_avg", "val/ratio", "val/num_eos_tokens", "lr", "episode"} {
			if _, ok := met[k]; !ok {
				t.Fatalf("metric %s missing", k)
			}
		}
		t.Logf("update %d: ent %.2f score %.3f kl %.3f rlhf %.3f approxkl %.4f clipfrac %.3f vloss %.4f", u+1, met["objective/entropy"], met["objective/scores"],
			met["objective/kl"], met["objective/rlhf_reward"], met["policy/approxkl_avg"], met["policy/clipfrac_avg"], met["loss/value_avg"])
		if met["alarm/distinct"] != 1 || met["alarm/kl"] != 0 {
			t.Fatalf("update %d: alarm/distinct %v (want 1), alarm/kl %v (want 0)", u+1, met["alarm/distinct"], met["alarm/kl"])
		}
		scores, kls = append(scores, met["objective/scores"]), append(kls, met["objective/kl"])
		rlhf = append(rlhf, met["objective/rlhf_reward"])
	}
	if len(rows) != updates {
		t.Fatalf("%d metrics rows for %d updates", len(rows), updates)
	}
	if n := strings.Count(alarmLog.String(), "distinct-2"); n != updates {
		t.Fatalf("%d distinct-2 warnings for %d updates:\n%s", n, updates, alarmLog.String())
	}
	first := (scores[0] + scores[1]) / 2
	last := (scores[len(scores)-1] + scores[len(scores)-2]) / 2
	if !(last > first+0.2) {
		t.Fatalf("score did not rise: first updates %.3f, last %.3f", first, last)
	}
	if !(rlhf[len(rlhf)-1] > rlhf[0]+0.05) {
		t.Fatalf("rlhf reward did not rise: %.3f → %.3f", rlhf[0], rlhf[len(rlhf)-1])
	}
	for u, kl := range kls {
		if math.IsNaN(kl) || math.IsInf(kl, 0) || kl > 8 {
			t.Fatalf("update %d: KL %v outside the bound", u+1, kl)
		}
	}
}

// testSettings are the loop's settings for a PPO test: TRL's linear decay,
// AdamW with weight decay 0.01, a metrics row every update.
func testSettings(out string, updates int) train.Settings {
	s := train.DefaultSettings()
	s.Out, s.MaxSteps, s.LoggingSteps, s.SaveSteps, s.GroupByLength = out, updates, 1, 0, false
	s.WeightDecay = 0.01
	return s
}

// runLoop trains tr on the shared loop and returns its metrics rows.
func runLoop(t *testing.T, tr *Trainer, s train.Settings) []map[string]float64 {
	t.Helper()
	tr.Cfg.Seed = s.Seed
	if _, err := train.Run(context.Background(), loopJob(tr, s)); err != nil {
		t.Fatal(err)
	}
	return readMetrics(t, filepath.Join(s.Out, "metrics.jsonl"))
}

func loopJob(obj train.RolloutObjective, s train.Settings) *train.Job {
	tr := obj.(interface{ trainer() *Trainer }).trainer()
	return &train.Job{Settings: s, Objective: obj, Params: tr.ParamSets(), Log: io.Discard, ResumeCommand: "resume",
		Saver: train.SaverFunc(func(dir string) error { return tr.Roles.Value.Save(filepath.Join(dir, "value"), "", "F32") })}
}

func (t *Trainer) trainer() *Trainer { return t }

// stopAfter cancels the run's context once step has been taken.
type stopAfter struct {
	*Trainer
	step   int
	cancel func()
}

func (s stopAfter) AfterStep(ctx *train.StepContext) error {
	if ctx.Step == s.step {
		s.cancel()
	}
	return nil
}

func readMetrics(t *testing.T, path string) []map[string]float64 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var rows []map[string]float64
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var r map[string]float64
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		rows = append(rows, r)
	}
	return rows
}

// TestResumeBitExact: on the shared loop, 2 updates with a checkpoint, then
// a fresh trainer (new models, as a new process would build) resumed from it
// for 2 more ends with exactly the parameters, KL coefficient, alarm
// baseline and metrics rows of 4 uninterrupted updates, with the adaptive
// controller on, two PPO epochs of two minibatches of two micro-batches.
func TestResumeBitExact(t *testing.T) {
	scorer := trainLikesRM(t)
	build := func() *Trainer {
		pol := tinyLlama(t, 21)
		for i := range pol.W.LMHead {
			pol.W.LMHead[i] *= 8
		}
		lcfg := model.LoRAConfig{R: 2, Alpha: 4, Targets: []string{"all-linear"}}
		if err := pol.AttachLoRASet("policy", lcfg, 1); err != nil {
			t.Fatal(err)
		}
		if err := pol.AttachLoRASet("value", lcfg, 2); err != nil {
			t.Fatal(err)
		}
		cfg := DefaultConfig()
		cfg.BatchSize, cfg.NumMiniBatches, cfg.GradAccum, cfg.NumPPOEpochs, cfg.MaxNewTokens = 8, 2, 2, 2, maxNew
		cfg.KL = loss.KLController{Coef: 0.1, Target: 0.5, Horizon: 20}
		cfg.MissingEOSPenalty = 0.5
		cfg.Alarms = rl.Alarms{BaselineSteps: 3} // its length baseline spans the save point
		tr, err := New(cfg, Roles{Policy: pol, PolicySet: "policy", Ref: pol,
			Value: &ValueModel{Model: pol, Set: "value", Head: NewValueHead(32, 4)}, Reward: &reward.RM{Scorer: scorer}},
			[][]int32{{2, 3}, {2, 4}, {3, 3}}, []int32{testEOS}, 0)
		if err != nil {
			t.Fatal(err)
		}
		return tr
	}
	settings := func(out string) train.Settings {
		s := testSettings(out, 4)
		s.LR, s.Seed, s.WarmupSteps = 3e-3, 5, 5 // warm-up counts optimizer updates: 4 per step here
		return s
	}
	full := build()
	fullRows := runLoop(t, full, settings(t.TempDir()))
	// The same run stopped after step 2, as SIGINT would stop it.
	out := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	half := stopAfter{Trainer: build(), step: 2, cancel: cancel}
	half.Cfg.Seed = 5
	_, err := train.Run(ctx, loopJob(half, settings(out)))
	var ie *train.InterruptedError
	if !errors.As(err, &ie) || ie.Step != 2 {
		t.Fatalf("the interrupted run: %v", err)
	}
	if _, err := os.Stat(filepath.Join(out, "checkpoint-2", "trainer_state.json")); err != nil {
		t.Fatal(err)
	}
	s := settings(out)
	resumed := build()
	s = settings(out)
	s.Resume = train.ResumeLatest
	rows := runLoop(t, resumed, s)
	if full.Cfg.KL.Coef != resumed.Cfg.KL.Coef || full.Cfg.KL.Coef == 0.1 {
		t.Fatalf("kl coef: uninterrupted %v, resumed %v (start 0.1)", full.Cfg.KL.Coef, resumed.Cfg.KL.Coef)
	}
	if fa, ra := full.Cfg.Alarms, resumed.Cfg.Alarms; fa.Seen != ra.Seen || fa.LengthSum != ra.LengthSum || fa.Seen != 3 {
		t.Fatalf("alarm baseline: uninterrupted %+v, resumed %+v", fa, ra)
	}
	for i, ps := range full.ParamSets() {
		got := resumed.ParamSets()[i].Data
		for j := range ps.Data {
			if ps.Data[j] != got[j] {
				t.Fatalf("set %s[%d]: uninterrupted %v, resumed %v", ps.Name, j, ps.Data[j], got[j])
			}
		}
	}
	if len(rows) != 4 || len(fullRows) != 4 {
		t.Fatalf("%d and %d metrics rows, want 4", len(rows), len(fullRows))
	}
	for i := range rows {
		for k, v := range fullRows[i] {
			if k != "tokens_per_second" && rows[i][k] != v {
				t.Errorf("row %d %s: uninterrupted %v, resumed %v", i+1, k, v, rows[i][k])
			}
		}
	}
	// Warm-up over the first 5 of the 16 updates (4 per step), then linear
	// decay to 0: step 1's last update (index 3) runs at 3e-3·3/5, step 2's
	// (index 7) at 3e-3·(16−7)/(16−5).
	for i, want := range []float64{3e-3 * 3 / 5, 3e-3 * 9 / 11} {
		if lr := fullRows[i]["lr"]; math.Abs(lr-want) > 1e-15 || fullRows[i]["learning_rate"] != lr {
			t.Errorf("step %d lr %v, want %v", i+1, lr, want)
		}
	}
}
