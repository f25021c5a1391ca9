package grpo

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/align-go/align/model"
	"github.com/align-go/align/reward"
	"github.com/align-go/align/rl"
	"github.com/align-go/align/train"
)

// listReward scores the i-th completion of a step with vals[i]: the step's
// completions are prompt-major (prompt p's G completions are p·G … p·G+G−1),
// so a test chooses every group's rewards.
type listReward []float64

func (listReward) Name() string { return "list" }
func (l listReward) Score(_ context.Context, ss []reward.Sample) ([]float64, error) {
	return append([]float64(nil), l[:len(ss)]...), nil
}

// maxNew is the completion length cap of prepare's steps.
const maxNew = 10

// prepare runs PrepareBatch on two arithmetic prompts with G = 4, at most
// 10 new tokens, and the given rewards.
func prepare(t *testing.T, cfg Config, m, ref *model.Model, rewards []float64) *Objective {
	t.Helper()
	cfg.NumGenerations, cfg.MaxNewTokens = 4, maxNew
	obj, err := New(cfg, m, ref, []reward.Func{listReward(rewards)}, arithmeticPrompts()[:2], []int32{eos}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := obj.PrepareBatch(&train.StepContext{Step: 1, RNG: dataRNG()}, []int{0, 1}); err != nil {
		t.Fatal(err)
	}
	return obj
}

// TestAdvantageTable pins every advantage option against values worked by
// hand for two groups of G = 4:
//
//	group A rewards 1, 2, 3, 6:  mean 3, deviations −2, −1, 0, 3,
//	                             unbiased std √(14/3) (torch.std, as TRL)
//	group B rewards ½, ½, ½, ½:  mean ½, std 0 (a zero-std group)
//	the batch of 8:              mean 1.75, Σ(r − 1.75)² = 26.5, std √(26.5/7)
//
// scale_rewards group divides by the group's std + 1e-4 (TRL), batch by
// the batch's std + 1e-4 (each still centred on its group mean), none not
// at all (Dr. GRPO). RLOO subtracts the mean of the other three: 1 − 11/3,
// 2 − 10/3, 3 − 3, 6 − 2 (no scaling). Group B's advantages are 0 in every
// mode: 0/(0 + 1e-4), not NaN.
func TestAdvantageTable(t *testing.T) {
	m := tinyModel(t)
	rewards := []float64{1, 2, 3, 6, 0.5, 0.5, 0.5, 0.5}
	dev := []float64{-2, -1, 0, 3, 0, 0, 0, 0}
	scaled := func(s float64) []float64 {
		out := make([]float64, len(dev))
		for i, d := range dev {
			out[i] = d / s
		}
		return out
	}
	for _, c := range []struct {
		name, scale, adv string
		want             []float64
	}{
		{"group", "group", "grpo", scaled(math.Sqrt(14.0/3) + 1e-4)},
		{"batch", "batch", "grpo", scaled(math.Sqrt(26.5/7) + 1e-4)},
		{"none", "none", "grpo", dev},
		{"rloo", "group", "rloo", []float64{1 - 11.0/3, 2 - 10.0/3, 0, 4, 0, 0, 0, 0}},
		{"rloo-unscaled", "none", "rloo", []float64{1 - 11.0/3, 2 - 10.0/3, 0, 4, 0, 0, 0, 0}},
	} {
		cfg := DefaultConfig()
		cfg.ScaleRewards, cfg.Advantage = c.scale, c.adv
		obj := prepare(t, cfg, m, nil, rewards)
		for i, w := range c.want {
			if got := obj.step.adv[i]; math.Abs(got-w) > 1e-12 {
				t.Errorf("%s: advantage[%d] = %.15g, want %.15g", c.name, i, got, w)
			}
			if !obj.step.keep[i] {
				t.Errorf("%s: completion %d left out of the loss without --dynamic-sampling", c.name, i)
			}
		}
		if c.name != "group" {
			continue
		}
		met := obj.step.metrics
		for k, w := range map[string]float64{"reward": 1.75, "reward_std": math.Sqrt(14.0/3) / 2, "frac_reward_zero_std": 0.5} {
			if math.Abs(met[k]-w) > 1e-12 {
				t.Errorf("%s = %v, want %v", k, met[k], w)
			}
		}
	}
}

// TestDynamicSampling pins what --dynamic-sampling does: groups whose
// rewards are all equal (std 0, so no learning signal) are dropped from the
// loss, and not resampled (DAPO refills the batch with new prompts; here the
// step trains on fewer completions). The step's counts, the denominators of
// every loss type, count only the kept completions, so the remaining
// groups weigh as a batch of their own would.
func TestDynamicSampling(t *testing.T) {
	m := tinyModel(t)
	rewards := []float64{1, 2, 3, 6, 0.5, 0.5, 0.5, 0.5}
	for _, dyn := range []bool{false, true} {
		cfg := DefaultConfig()
		cfg.DynamicSampling = dyn
		obj := prepare(t, cfg, m, nil, rewards)
		sd := obj.step
		if len(sd.cs) != 8 {
			t.Fatalf("dynamic sampling %v: %d completions, want 8 (no resampling)", dyn, len(sd.cs))
		}
		seqs, toks := 0, 0
		for i, c := range sd.cs {
			want := !dyn || i < 4
			if sd.keep[i] != want {
				t.Errorf("dynamic sampling %v: completion %d kept %v, want %v", dyn, i, sd.keep[i], want)
			}
			if want {
				seqs++
				toks += len(c.Tokens)
			}
		}
		if sd.counts.Seqs != seqs || sd.counts.Tokens != toks {
			t.Errorf("dynamic sampling %v: counts %+v, want %d sequences and %d tokens", dyn, sd.counts, seqs, toks)
		}
		// The advantages themselves are unchanged: group A keeps its own.
		if a := sd.adv[3]; math.Abs(a-3/(math.Sqrt(14.0/3)+1e-4)) > 1e-12 {
			t.Errorf("dynamic sampling %v: advantage[3] = %v", dyn, a)
		}
	}
}

// seqLogProbs runs m over one unpadded sequence, prompt then completion,
// and returns each completion token's log-prob at temperature temp, in
// float64 from the logits: independent of the rollout's padding and of
// the policy package.
func seqLogProbs(t *testing.T, m *model.Model, prompt, comp []int32, temp float64) []float64 {
	t.Helper()
	ids := append(append([]int32(nil), prompt...), comp...)
	mask := make([]int32, len(ids))
	for i := range mask {
		mask[i] = 1
	}
	lg, _, err := m.Forward(model.Batch{B: 1, T: len(ids), IDs: ids, Mask: mask}, true)
	if err != nil {
		t.Fatal(err)
	}
	V := m.Cfg.Vocab
	out := make([]float64, len(comp))
	for j, id := range comp {
		row := lg[(len(prompt)-1+j)*V : (len(prompt)+j)*V]
		mx := math.Inf(-1)
		for _, l := range row {
			mx = math.Max(mx, float64(l)/temp)
		}
		s := 0.0
		for _, l := range row {
			s += math.Exp(float64(l)/temp - mx)
		}
		out[j] = float64(row[id])/temp - mx - math.Log(s)
	}
	return out
}

// TestStepFiniteDifferences checks one whole GRPO step — rollout, group
// advantages, loss-type weights, the clipped surrogate and β·k3 to a
// reference whose weights differ from the policy's — against central
// differences of the objective written out here:
//
//	L(θ) = Σ_c Σ_t w_ct · ( −A_c · exp(lp_ct(θ) − lp_ct(θ₀))
//	                        + β · (exp(ref_ct − lp_ct(θ)) − (ref_ct − lp_ct(θ)) − 1) )
//
// with lp the policy's log-probs at the sampling temperature (each sequence
// run on its own, unpadded), w_ct = 1/(|c|·S) for loss type grpo (S the
// step's completions) and A_c the group-normalised rewards. The ratio is 1
// at θ₀ (one update per rollout), so only its gradient enters. The model
// is float32, so the differences use a step of 2e-3 and the parameters with
// the largest gradients; the β term is required to carry a sizeable part
// of each checked gradient, so a sign error in it cannot hide.
func TestStepFiniteDifferences(t *testing.T) {
	for _, c := range []struct{ lossType, level string }{
		{"grpo", "token"}, {"dapo", "token"}, {"dr_grpo", "sequence"},
	} {
		t.Run(c.lossType+"/"+c.level, func(t *testing.T) { stepFiniteDifferences(t, c.lossType, c.level) })
	}
}

// stepFiniteDifferences is TestStepFiniteDifferences for one loss type
// (token weights w_ct: grpo 1/(|c|·S), dapo 1/(step tokens), dr_grpo
// 1/(S·max new tokens)) and importance-sampling level (sequence: every
// token's ratio is exp of its completion's mean log-ratio, GSPO).
func stepFiniteDifferences(t *testing.T, lossType, level string) {
	const temp, beta, sharpen = 0.8, 0.5, 4
	m := tinyModel(t)
	// Sharper random models than the default init, so log-probs differ
	// between policy and reference and the KL term is far from 0; some
	// tokens' k3 exceeds 10, where verl's low_var_kl would clamp it (TRL's
	// k3, which GRPO follows, does not).
	for i := range m.Data {
		m.Data[i] *= sharpen
	}
	ref := tinyModel(t)
	ref.InitRandom(8)
	for i := range ref.Data {
		ref.Data[i] *= sharpen
	}
	rewards := []float64{1, 2, 3, 6, 0, 1, 0, 0}
	cfg := DefaultConfig()
	cfg.LossType, cfg.ISLevel, cfg.Beta, cfg.Sampling.Temperature = lossType, level, beta, temp
	obj := prepare(t, cfg, m, ref, rewards)
	sd := obj.step
	m.EnableGrad()
	clear(m.Grad)
	if _, err := obj.Accumulate([]int{0, 1}, 0); err != nil {
		t.Fatal(err)
	}
	grad := append([]float32(nil), m.Grad...)

	// Advantages by hand from the rewards: (r − mean)/(std + 1e-4) per group.
	adv := make([]float64, 8)
	for g := 0; g < 2; g++ {
		r := rewards[4*g : 4*g+4]
		mean := (r[0] + r[1] + r[2] + r[3]) / 4
		ss := 0.0
		for _, v := range r {
			ss += (v - mean) * (v - mean)
		}
		for k, v := range r {
			adv[4*g+k] = (v - mean) / (math.Sqrt(ss/3) + 1e-4)
		}
	}
	prompts := arithmeticPrompts()[:2]
	refLP := make([][]float64, 8)
	lp0 := make([][]float64, 8)
	for i, c := range sd.cs {
		refLP[i] = seqLogProbs(t, ref, prompts[i/4].IDs, c.Tokens, temp)
		lp0[i] = seqLogProbs(t, m, prompts[i/4].IDs, c.Tokens, temp)
	}
	tokens := 0
	for _, c := range sd.cs {
		tokens += len(c.Tokens)
	}
	// objective returns the policy and KL parts of L at the current weights.
	objective := func() (pg, kl float64) {
		for i, c := range sd.cs {
			lp := seqLogProbs(t, m, prompts[i/4].IDs, c.Tokens, temp)
			w := map[string]float64{"grpo": 1 / (float64(len(c.Tokens)) * 8), "dapo": 1 / float64(tokens),
				"dr_grpo": 1 / (8 * float64(maxNew))}[lossType]
			seqLR := 0.0
			for j := range lp {
				seqLR += (lp[j] - lp0[i][j]) / float64(len(lp))
			}
			for j := range lp {
				logRatio := lp[j] - lp0[i][j]
				if level == "sequence" {
					logRatio = seqLR
				}
				pg += w * -adv[i] * math.Exp(logRatio)
				x := refLP[i][j] - lp[j]
				kl += w * beta * (math.Exp(x) - x - 1)
			}
		}
		return pg, kl
	}
	maxK := 0.0
	for i := range refLP {
		for j := range refLP[i] {
			x := refLP[i][j] - lp0[i][j]
			maxK = math.Max(maxK, math.Exp(x)-x-1)
		}
	}
	if maxK <= 10 {
		t.Fatalf("largest token k3 %v: want one beyond verl's clamp at 10", maxK)
	}
	pg0, kl0 := objective()
	if kl0 < 1e-3 {
		t.Fatalf("β·KL = %v at the start: the reference is too close to the policy for the test to mean anything", kl0)
	}
	order := make([]int, len(grad))
	for i := range order {
		order[i] = i
	}
	sort.Slice(order, func(a, b int) bool { return math.Abs(float64(grad[order[a]])) > math.Abs(float64(grad[order[b]])) })
	checked := 0
	for _, i := range order[:40] {
		x0 := m.Data[i]
		const h = 2e-3
		m.Data[i] = x0 + h
		up := float64(m.Data[i])
		pgU, klU := objective()
		m.Data[i] = x0 - h
		dn := float64(m.Data[i])
		pgD, klD := objective()
		m.Data[i] = x0
		fd := (pgU + klU - pgD - klD) / (up - dn)
		fdKL := (klU - klD) / (up - dn)
		if math.Abs(fdKL) < 0.2*math.Abs(fd) {
			continue // the KL part is small here: a flipped sign would hide in the tolerance
		}
		checked++
		if g := float64(grad[i]); math.Abs(g-fd) > 2e-2*math.Abs(fd)+1e-4 {
			t.Errorf("parameter %d: analytic %.6g, finite difference %.6g (of which the KL part %.6g)", i, g, fd, fdKL)
		}
		if checked == 8 {
			break
		}
	}
	if checked < 4 {
		t.Fatalf("only %d of the 40 largest gradients have a sizeable KL part", checked)
	}
	t.Logf("L(θ₀) = %.6g + β·KL %.6g; %d parameters checked", pg0, kl0, checked)
}

// TestGradAccumulationEqualsOneBatch: a step taken as two micro-batches of
// one prompt each gives the gradient and loss of the step taken at once,
// for every loss type, with β > 0 (the loss uses the step's global counts,
// so each micro-batch contributes its exact share).
func TestGradAccumulationEqualsOneBatch(t *testing.T) {
	m := tinyModel(t)
	ref := tinyModel(t)
	ref.InitRandom(8)
	rewards := []float64{1, 2, 3, 6, 0, 1, 0, 0}
	m.EnableGrad()
	for _, lt := range []string{"grpo", "bnpo", "dr_grpo", "dapo"} {
		cfg := DefaultConfig()
		cfg.LossType, cfg.Beta = lt, 0.3
		obj := prepare(t, cfg, m, ref, rewards)
		clear(m.Grad)
		met, err := obj.Accumulate([]int{0, 1}, 0)
		if err != nil {
			t.Fatal(err)
		}
		whole := append([]float32(nil), m.Grad...)
		obj = prepare(t, cfg, m, ref, rewards)
		clear(m.Grad)
		var l float64
		for _, i := range []int{0, 1} {
			mb, err := obj.Accumulate([]int{i}, 0)
			if err != nil {
				t.Fatal(err)
			}
			l += mb["loss"]
		}
		// The micro-batches pad to their own lengths, so float32 logits
		// differ in the last bits.
		if math.Abs(l-met["loss"]) > 1e-6*math.Abs(l) {
			t.Errorf("%s: loss %v in two micro-batches, %v at once", lt, l, met["loss"])
		}
		var maxAbs, maxDiff float64
		for i, g := range whole {
			maxAbs = math.Max(maxAbs, math.Abs(float64(g)))
			maxDiff = math.Max(maxDiff, math.Abs(float64(g-m.Grad[i])))
		}
		if maxAbs == 0 || maxDiff > 1e-5*maxAbs {
			t.Errorf("%s: gradients differ by up to %g (largest %g)", lt, maxDiff, maxAbs)
		}
	}
}

// TestAlarmsSeeTheLoggedValues: GRPO hands the alarms the step's kl and
// distinct-2 exactly as it logs them, so an alarm set at the logged value
// stays quiet and one set just below it fires (kl fires when > its
// threshold, distinct-2 when < its threshold; rl pins the comparisons).
func TestAlarmsSeeTheLoggedValues(t *testing.T) {
	m := tinyModel(t)
	ref := tinyModel(t)
	ref.InitRandom(8)
	rewards := []float64{1, 2, 3, 6, 0, 1, 0, 0}
	m.EnableGrad()
	step := func(a rl.Alarms) train.Metrics {
		cfg := DefaultConfig()
		cfg.Beta, cfg.Alarms = 0.1, a
		obj := prepare(t, cfg, m, ref, rewards)
		met, err := obj.Accumulate([]int{0, 1}, 0)
		if err != nil {
			t.Fatal(err)
		}
		return met
	}
	met := step(rl.Alarms{})
	kl, d2 := met["kl"], met["completions/distinct_2"]
	if !(kl > 0) || !(d2 > 0) {
		t.Fatalf("kl %v, distinct-2 %v: want both > 0", kl, d2)
	}
	for _, c := range []struct {
		a        rl.Alarms
		kl, dist float64
	}{
		{rl.Alarms{KL: kl}, 0, 0},
		{rl.Alarms{KL: math.Nextafter(kl, 0)}, 1, 0},
		{rl.Alarms{Distinct: d2}, 0, 0},
		{rl.Alarms{Distinct: math.Nextafter(d2, 1)}, 0, 1},
	} {
		met := step(c.a)
		if met["alarm/kl"] != c.kl || met["alarm/distinct"] != c.dist {
			t.Errorf("alarms %+v (kl %v, distinct-2 %v): alarm/kl %v, alarm/distinct %v; want %v, %v",
				c.a, kl, d2, met["alarm/kl"], met["alarm/distinct"], c.kl, c.dist)
		}
	}
}

// TestGradAccumulationThroughTheLoop: one optimizer step of 2 prompts, and
// of 1 prompt × --grad-accum 2, sample the same completions (the rollout is
// drawn once per step, in PrepareBatch) and leave the same gradient and
// logged loss, kl and reward.
func TestGradAccumulationThroughTheLoop(t *testing.T) {
	var g [2][]float32
	var rows [2]map[string]float64
	for k, accum := range []int{1, 2} {
		m := tinyModel(t)
		ref := tinyModel(t)
		ref.InitRandom(8)
		cfg := DefaultConfig()
		cfg.Beta, cfg.MaxNewTokens, cfg.NumGenerations, cfg.LossType = 0.3, 3, 4, "grpo"
		obj, err := New(cfg, m, ref, []reward.Func{listReward{1, 2, 3, 6, 0, 1, 0, 0}}, arithmeticPrompts()[:2], []int32{eos}, 0)
		if err != nil {
			t.Fatal(err)
		}
		s := train.DefaultSettings()
		s.Out, s.MaxSteps, s.BatchSize, s.GradAccum, s.MaxGradNorm, s.LoggingSteps = t.TempDir(), 1, 2/accum, accum, 0, 1
		s.SaveSteps = 0
		if _, err := train.Run(context.Background(), &train.Job{Settings: s, Objective: obj,
			Params: []train.ParamSet{train.ModelParams("policy", m)}, Log: io.Discard,
			Saver: train.SaverFunc(func(string) error { return nil })}); err != nil {
			t.Fatal(err)
		}
		g[k] = append([]float32(nil), m.Grad...)
		b, err := os.ReadFile(filepath.Join(s.Out, "metrics.jsonl"))
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(bytes.SplitN(b, []byte("\n"), 2)[0], &rows[k]); err != nil {
			t.Fatal(err)
		}
	}
	var scale, diff float64
	for i := range g[0] {
		scale = math.Max(scale, math.Abs(float64(g[0][i])))
		diff = math.Max(diff, math.Abs(float64(g[0][i]-g[1][i])))
	}
	if scale == 0 || diff > 1e-5*scale {
		t.Errorf("gradients differ by up to %g (largest %g)", diff, scale)
	}
	for _, k := range []string{"loss", "kl", "reward"} {
		if a, b := rows[0][k], rows[1][k]; math.Abs(a-b) > 1e-6*math.Abs(a) || a == 0 {
			t.Errorf("%s: %v at once, %v with accumulation", k, a, b)
		}
	}
}
