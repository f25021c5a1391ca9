package pref

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/align-go/align/loss"
	"github.com/align-go/align/model"
	"github.com/align-go/align/optim"
	"github.com/align-go/align/pairenc"
	"github.com/align-go/align/rewardmodel"
	"github.com/align-go/align/train"
)

// attach puts adapters on every linear and gives B random values, so the
// adapted model differs from its base.
func attach(t *testing.T, m *model.Model) train.ParamSet {
	t.Helper()
	if err := m.AttachLoRA(model.LoRAConfig{R: 2, Alpha: 8, Targets: []string{"all-linear"}}, 3); err != nil {
		t.Fatal(err)
	}
	lo := m.LoRA()
	r := rand.New(rand.NewPCG(4, 5))
	spans := make([]optim.Span, len(lo.Params))
	for i, p := range lo.Params {
		spans[i] = optim.Span{Name: p.Name, Offset: p.Offset, Size: p.Size}
		if i%2 == 1 { // lora_B
			for j := p.Offset; j < p.Offset+p.Size; j++ {
				lo.Data[j] = float32(r.NormFloat64() * 0.05)
			}
		}
	}
	return train.ParamSet{Name: "lora", Data: lo.Data, Grad: lo.Grad, Spans: spans}
}

// TestRewardModelSaveMergesLoRA: a reward model trained through adapters is
// saved with them merged, and the reloaded plain model scores as the adapted
// one did.
func TestRewardModelSaveMergesLoRA(t *testing.T) {
	for _, mt := range []string{"llama", "gpt2"} {
		t.Run(mt, func(t *testing.T) {
			m := tinyModel(t, mt, 2)
			attach(t, m)
			rm := rewardmodel.NewRewardModel(m, testPAD, 3)
			rows := [][]int32{cat(bytesOf("say cat: thanks"), []int32{testEOS}), cat(bytesOf("q"), []int32{testEOS})}
			want, err := rm.Forward(rows)
			if err != nil {
				t.Fatal(err)
			}
			m.SetLoRAEnabled(false)
			base, _ := rm.Forward(rows)
			m.SetLoRAEnabled(true)
			if math.Abs(base[0]-want[0]) < 1e-3 {
				t.Fatalf("adapters change nothing (%v vs %v): the test would not see a missing merge", base, want)
			}
			dir := t.TempDir()
			if err := rm.Save(dir, "F32"); err != nil {
				t.Fatal(err)
			}
			back, hasHead, err := rewardmodel.LoadRewardModel(dir)
			if err != nil || !hasHead {
				t.Fatal(hasHead, err)
			}
			got, err := back.Forward(rows)
			if err != nil {
				t.Fatal(err)
			}
			for i := range want {
				if math.Abs(got[i]-want[i]) > 1e-4*math.Max(1, math.Abs(want[i])) {
					t.Errorf("row %d: merged reward %.6f, adapted %.6f (base %.6f)", i, got[i], want[i], base[i])
				}
			}
		})
	}
}

// TestDPOLoRASelfReference: with adapters on the policy, the reference is
// the same model with them off. Fresh adapters (B = 0) give ln 2; the
// gradient reaches the adapters; precomputing gives the same numbers.
func TestDPOLoRASelfReference(t *testing.T) {
	tok := byteTokenizer(t)
	cfg := loss.DPOConfig{LossType: "sigmoid", Beta: 0.5}
	m := tinyModel(t, "llama", 3)
	enc, _ := pairenc.NewEncoder(tok, m.Cfg)
	pairs, err := enc.EncodePairs(politeSet(4, 6))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewDPOObjective(m, m, cfg, pairs, 0, testPAD); err == nil {
		t.Fatal("a model without adapters cannot be its own reference")
	}
	if err := m.AttachLoRA(model.LoRAConfig{R: 2, Alpha: 4, Targets: []string{"q_proj", "v_proj"}}, 1); err != nil {
		t.Fatal(err)
	}
	o, err := NewDPOObjective(m, m, cfg, pairs, 0, testPAD)
	if err != nil {
		t.Fatal(err)
	}
	idx := []int{0, 1, 2, 3}
	met, err := o.Eval(idx, len(idx))
	if err != nil {
		t.Fatal(err)
	}
	if met["loss"] != math.Ln2 {
		t.Errorf("fresh adapters: loss %.17g, want ln 2", met["loss"])
	}

	m2 := tinyModel(t, "llama", 3)
	ps := attach(t, m2)
	live, err := NewDPOObjective(m2, m2, cfg, pairs, 0, testPAD)
	if err != nil {
		t.Fatal(err)
	}
	fdCheck(t, live, []train.ParamSet{ps}, idx, 1e-2)
	a, _ := live.Eval(idx, len(idx))
	if a["rewards/margins"] == 0 {
		t.Fatal("adapters with B != 0 should move the rewards off 0")
	}
	pre, _ := NewDPOObjective(m2, nil, cfg, pairs, 0, testPAD)
	if err := pre.PrecomputeRef(m2, 3); err != nil {
		t.Fatal(err)
	}
	b, _ := pre.Eval(idx, len(idx))
	same(t, a, b, "loss", "rewards/chosen", "rewards/rejected", "rewards/margins", "logps/chosen", "logps/rejected")
	if m2.LoRA() == nil {
		t.Fatal("adapters lost")
	}
	// The adapters are back on after each reference pass: the policy's
	// log-probs are not the reference's.
	lp := &LogProbs{Model: m2, Pad: testPAD}
	on, _, err := lp.Forward(pre.seqs(idx))
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(on[0]-pre.refLogps[idx[0]][0]) < 1e-6 {
		t.Fatal("adapters left switched off after a reference pass")
	}
}
