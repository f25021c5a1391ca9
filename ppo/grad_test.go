package ppo

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/align-go/align/generate"
	"github.com/align-go/align/model"
	"github.com/align-go/align/train"
)

// TestMinibatchLossGrad: the gradient one PPO minibatch leaves in the policy
// adapters, the value adapters and the value head is that of
// loss/policy + vf_coef · loss/value (at temperature 0.7, with the
// left-padded, EOS-ended and truncated rows of a real rollout) by central
// differences of the loss itself.
func TestMinibatchLossGrad(t *testing.T) {
	m := tinyLlama(t, 9)
	for i := range m.W.LMHead {
		m.W.LMHead[i] *= 8
	}
	lcfg := model.LoRAConfig{R: 2, Alpha: 4, Targets: []string{"all-linear"}}
	for i, set := range []string{"policy", "value"} {
		if err := m.AttachLoRASet(set, lcfg, uint64(i+1)); err != nil {
			t.Fatal(err)
		}
		lo := m.LoRASet(set)
		r := rand.New(rand.NewPCG(uint64(i), 7))
		for j := range lo.Data { // adapters away from B = 0, so every LoRA weight matters
			lo.Data[j] += float32(r.NormFloat64() * 0.1)
		}
	}
	cfg := DefaultConfig()
	cfg.BatchSize, cfg.NumMiniBatches, cfg.MaxNewTokens = 3, 1, 4
	cfg.Sampling.Temperature = 0.7
	cfg.VFCoef = 0.3
	vm := &ValueModel{Model: m, Set: "value", Head: NewValueHead(m.Cfg.Dim, 4)}
	prompts := [][]int32{{2, 3, 4}, {5}, {6, 7}}
	tr, err := New(cfg, Roles{Policy: m, PolicySet: "policy", Ref: m, Value: vm, Reward: &fixedReward{}}, prompts, []int32{testEOS}, 0)
	if err != nil {
		t.Fatal(err)
	}
	cs := []generate.Completion{
		{Prompt: 0, Tokens: []int32{8, 9, testEOS}, FinishReason: generate.FinishStop},
		{Prompt: 1, Tokens: []int32{10, 11, 12, 13}, FinishReason: generate.FinishLength},
		{Prompt: 2, Tokens: []int32{14, testEOS}, FinishReason: generate.FinishStop},
	}
	ro, err := generate.NewRollout(prompts, cs, 0)
	if err != nil {
		t.Fatal(err)
	}
	d, err := tr.passes(ro)
	if err != nil {
		t.Fatal(err)
	}
	// Old log-probs and values a little off the current ones (ratios and
	// predictions well inside both clip ranges, so the loss is smooth there);
	// advantages and returns drawn at random.
	r := rand.New(rand.NewPCG(3, 3))
	d.adv, d.rt = make([]float64, len(d.mask)), make([]float64, len(d.mask))
	for i, mk := range d.mask {
		if mk != 0 {
			d.logp[i] += 0.05 * r.NormFloat64()
			d.values[i] += 0.05 * r.NormFloat64()
			d.adv[i], d.rt[i] = r.NormFloat64(), r.NormFloat64()
		}
	}
	idx := []int{2, 0, 1}
	f := func() float64 {
		st, err := tr.accumulate(d, idx, 1)
		if err != nil {
			t.Fatal(err)
		}
		return st[2] + cfg.VFCoef*st[3]
	}
	sets := tr.ParamSets()
	for _, ps := range sets {
		clear(ps.Grad)
	}
	st, err := tr.accumulate(d, idx, 0.5) // half the loss, as one of two micro-batches would carry
	if err != nil {
		t.Fatal(err)
	}
	if st[4] != 0 || st[1] != 0 {
		t.Fatalf("clip fractions %v, %v: the test wants both losses unclipped", st[1], st[4])
	}
	grads := map[string][]float32{}
	for _, ps := range sets {
		grads[ps.Name] = append([]float32(nil), ps.Grad...)
	}
	checked := map[string]int{}
	for _, ps := range sets {
		for k := 0; k < 8; k++ {
			i := r.IntN(len(ps.Data))
			old := ps.Data[i]
			const h = 2e-3
			ps.Data[i] = old + h
			p := f()
			ps.Data[i] = old - h
			q := f()
			ps.Data[i] = old
			fd := 0.5 * (p - q) / (2 * h)
			g := float64(grads[ps.Name][i])
			if math.Abs(g-fd) > 2e-3+2e-2*math.Abs(fd) {
				t.Errorf("%s[%d]: backward %.6f, finite difference %.6f", ps.Name, i, g, fd)
			}
			if fd != 0 {
				checked[ps.Name]++
			}
		}
	}
	for _, name := range []string{"policy", "value", "value_head"} {
		if checked[name] < 4 {
			t.Errorf("set %s: only %d of 8 probes moved the loss", name, checked[name])
		}
	}
	// Gradient accumulation: micro-batches {2} and {0, 1} weighted by their
	// share of the update's completion tokens add up to the whole minibatch.
	tr.cur = d
	U := tr.Units(idx)
	if U != 3+4+2 {
		t.Fatalf("units %d, want 9 completion tokens", U)
	}
	one := func(parts ...[]int) ([][]float32, train.Metrics) {
		for _, ps := range sets {
			clear(ps.Grad)
		}
		sum := train.Metrics{}
		for _, p := range parts {
			m, err := tr.Accumulate(p, U)
			if err != nil {
				t.Fatal(err)
			}
			sum.Add(m)
		}
		var gs [][]float32
		for _, ps := range sets {
			gs = append(gs, append([]float32(nil), ps.Grad...))
		}
		return gs, sum
	}
	whole, wm := one(idx)
	split, sm := one([]int{2}, []int{0, 1})
	for k, ps := range sets {
		for i := range whole[k] {
			if a, b := float64(whole[k][i]), float64(split[k][i]); math.Abs(a-b) > 1e-6+1e-4*math.Abs(a) {
				t.Fatalf("%s[%d]: one micro-batch %v, two %v", ps.Name, i, a, b)
			}
		}
	}
	for k, v := range wm {
		if math.Abs(sm[k]-v) > 1e-6*math.Max(1, math.Abs(v)) { // float32 forwards of other batch shapes
			t.Errorf("metric %s: one micro-batch %v, two %v", k, v, sm[k])
		}
	}
}
