package pref

import (
	"testing"

	"github.com/align-go/align/data"
	"github.com/align-go/align/loss"
	"github.com/align-go/align/model"
	"github.com/align-go/align/pairenc"
	"github.com/align-go/align/train"
)

// ktoRows splits n polite pairs into 2n unpaired rows (desirable first).
func ktoRows(t *testing.T, m *model.Model, n int) []Unpaired {
	t.Helper()
	enc, err := pairenc.NewEncoder(byteTokenizer(t), m.Cfg)
	if err != nil {
		t.Fatal(err)
	}
	var exs []data.UnpairedExample
	for _, p := range politeSet(n, 11) {
		exs = append(exs, data.UnpairedExample{PromptText: p.PromptText, CompletionText: p.ChosenText, Label: true, Loc: "x"},
			data.UnpairedExample{PromptText: p.PromptText, CompletionText: p.RejectedText, Label: false, Loc: "x"})
	}
	rows, err := EncodeUnpaired(enc, exs)
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// With the reference equal to the policy every reward is 0 and z₀ = 0, so
// the loss is the weighted mean of 1 − σ(0) = ½: (1.5·½·3 + 0.5·½·3)/6 = ½.
func TestKTOObjectiveStepZero(t *testing.T) {
	m := tinyModel(t, "llama", 7)
	cfg := loss.KTOConfig{LossType: "kto", Beta: 0.1, DesirableWeight: 1.5, UndesirableWeight: 0.5}
	o, err := NewKTOObjective(m, m.Clone(), cfg, ktoRows(t, m, 3), 0, testPAD)
	if err != nil {
		t.Fatal(err)
	}
	met, err := o.Eval([]int{0, 1, 2, 3, 4, 5}, 6)
	if err != nil {
		t.Fatal(err)
	}
	if met["loss"] != 0.5 || met["kl"] != 0 || met["rewards/chosen"] != 0 || met["rewards/margins"] != 0 {
		t.Errorf("step zero: %v", met)
	}
	if !(met["logps/chosen"] < 0) || !(met["logps/rejected"] < 0) {
		t.Errorf("logps %v", met)
	}
}

// The objective's parameter gradient is the rows' log-prob gradient alone:
// the mismatched pairs set z₀ (here > 0) but get no gradient. The expected
// gradient runs the rows through LogProbs and back with loss.KTO's Grad.
func TestKTOObjectiveDetachesReferencePoint(t *testing.T) {
	build := func() (*KTOObjective, *model.Model, *model.Model) {
		m, ref := tinyModel(t, "llama", 7), tinyModel(t, "llama", 8)
		o, err := NewKTOObjective(m, ref, loss.KTOConfig{LossType: "kto", Beta: 0.5, DesirableWeight: 1, UndesirableWeight: 1.3},
			ktoRows(t, m, 3), 0, testPAD)
		if err != nil {
			t.Fatal(err)
		}
		return o, m, ref
	}
	idx := []int{0, 1, 2, 3, 4, 5}
	o, m, _ := build()
	ps := train.ModelParams("model", m)
	clear(ps.Grad)
	if err := o.PrepareBatch(&train.StepContext{Step: 1}, idx); err != nil {
		t.Fatal(err)
	}
	met, err := o.Accumulate(idx, 6)
	if err != nil {
		t.Fatal(err)
	}
	got := append([]float32(nil), ps.Grad...)

	o2, m2, ref2 := build()
	ps2 := train.ModelParams("model", m2)
	clear(ps2.Grad)
	lp, rp := &LogProbs{Model: m2, Pad: testPAD}, &LogProbs{Model: ref2, Pad: testPAD}
	kb := loss.KTOBatch{}
	var rows, kl []pairenc.Seq
	for _, i := range idx {
		rows = append(rows, o2.seqs[i])
		kl = append(kl, o2.kl[i])
		kb.Desirable = append(kb.Desirable, o2.desirable[i])
	}
	kb.Ref, _, _ = rp.Forward(rows)
	kb.RefKL, _, _ = rp.Forward(kl)
	kb.PolicyKL, _, _ = lp.Forward(kl)
	kb.Policy, _, _ = lp.Forward(rows)
	res, err := loss.KTO(o2.Cfg, kb)
	if err != nil {
		t.Fatal(err)
	}
	if !(res.KL > 0) {
		t.Fatalf("z₀ = %v: the test needs a reference point above the clamp", res.KL)
	}
	if met["kl"] != res.KL || met["loss"] != res.Loss {
		t.Errorf("objective kl %v loss %v, direct %v %v", met["kl"], met["loss"], res.KL, res.Loss)
	}
	if err := lp.Backward(res.Grad); err != nil {
		t.Fatal(err)
	}
	sameGrads(t, "kto", got, ps2.Grad)
}

// A mismatched pair never reuses its own row's prompt when another exists:
// split pairs put the same prompt on neighbouring rows.
func TestKTOMismatchedPairs(t *testing.T) {
	m := tinyModel(t, "llama", 7)
	rows := ktoRows(t, m, 4)
	o, err := NewKTOObjective(m, m.Clone(), loss.DefaultKTOConfig(), rows, 0, testPAD)
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range o.kl {
		if p := s.IDs[:s.Start]; string(int32s(p)) != string(int32s(rows[i].Prompt)) {
			t.Errorf("row %d: mismatched pair has another prompt", i)
		}
		c := s.IDs[s.Start:]
		for j, r := range rows {
			if string(int32s(c)) == string(int32s(r.Completion)) && string(int32s(r.Prompt)) == string(int32s(rows[i].Prompt)) {
				t.Errorf("row %d: mismatched completion is row %d's, which has the same prompt", i, j)
			}
		}
	}
	apo, err := NewKTOObjective(m, m.Clone(), loss.KTOConfig{LossType: "apo_zero_unpaired", Beta: 0.1, DesirableWeight: 1, UndesirableWeight: 1}, rows, 0, testPAD)
	if err != nil || apo.kl != nil {
		t.Errorf("apo_zero_unpaired builds mismatched pairs: %v", err)
	}
}

func int32s(x []int32) []rune {
	out := make([]rune, len(x))
	for i, v := range x {
		out[i] = rune(v)
	}
	return out
}

// PrecomputeRef gives the metrics, loss and gradient of a live reference
// (a different model, so rewards and z₀ are not 0), with the reference
// dropped; rows are precomputed in batches other than the evaluated one.
func TestKTOPrecomputeRef(t *testing.T) {
	cfg := loss.KTOConfig{LossType: "kto", Beta: 0.5, DesirableWeight: 1, UndesirableWeight: 1.3}
	run := func(precompute bool) (train.Metrics, []float32) {
		m, ref := tinyModel(t, "llama", 7), tinyModel(t, "llama", 8)
		o, err := NewKTOObjective(m, ref, cfg, ktoRows(t, m, 3), 0, testPAD)
		if err != nil {
			t.Fatal(err)
		}
		if precompute {
			if err := o.PrecomputeRef(4); err != nil {
				t.Fatal(err)
			}
			if o.ref != nil {
				t.Fatal("the reference is still held")
			}
		}
		m.EnableGrad()
		met, err := o.Accumulate([]int{5, 0, 3}, 6)
		if err != nil {
			t.Fatal(err)
		}
		return met, append([]float32(nil), m.Grad...)
	}
	live, gLive := run(false)
	pre, gPre := run(true)
	if live["kl"] == 0 || live["rewards/chosen"] == 0 {
		t.Fatalf("live metrics %v: the reference changes nothing, the test would see no difference", live)
	}
	for k, v := range live {
		// Padding to other batch widths changes float32 summation order.
		if d := pre[k] - v; d > 1e-6 || d < -1e-6 {
			t.Errorf("%s: precomputed %v, live %v", k, pre[k], v)
		}
	}
	for i := range gLive {
		if d := gPre[i] - gLive[i]; d > 1e-5 || d < -1e-5 {
			t.Fatalf("gradient %d: precomputed %v, live %v", i, gPre[i], gLive[i])
		}
	}
}
