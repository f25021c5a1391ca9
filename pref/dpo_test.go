package pref

import (
	"math"
	"sort"
	"strings"
	"testing"

	"github.com/align-go/align/loss"
	"github.com/align-go/align/model"
	"github.com/align-go/align/pairenc"
	"github.com/align-go/align/rewardmodel"
	"github.com/align-go/align/train"
)

// refLogp sums log p(ids[t] | ids[:t]) over t >= max(start, 1) from the
// logits of the sequence run alone, with the log-softmax taken in float64
// here.
func refLogp(t *testing.T, m *model.Model, s pairenc.Seq) float64 {
	t.Helper()
	lg, _, err := m.Forward(model.Batch{B: 1, T: len(s.IDs), IDs: s.IDs}, true)
	if err != nil {
		t.Fatal(err)
	}
	V := m.Cfg.Vocab
	sum := 0.0
	for p := max(s.Start, 1); p < len(s.IDs); p++ {
		row := lg[(p-1)*V : p*V]
		mx := math.Inf(-1)
		for _, v := range row {
			mx = math.Max(mx, float64(v))
		}
		z := 0.0
		for _, v := range row {
			z += math.Exp(float64(v) - mx)
		}
		sum += float64(row[s.IDs[p]]) - mx - math.Log(z)
	}
	return sum
}

func TestLogProbs(t *testing.T) {
	for _, mt := range []string{"llama", "gpt2"} {
		t.Run(mt, func(t *testing.T) {
			m := tinyModel(t, mt, 6)
			seqs := []pairenc.Seq{
				{IDs: cat(bytesOf("prompt"), bytesOf(" answer"), []int32{testEOS}), Start: 6},
				{IDs: cat(bytesOf("p"), []int32{testEOS}), Start: 1},
				{IDs: cat(bytesOf("whole"), []int32{testEOS}), Start: 0}, // the first token has no predictor
			}
			want := make([]float64, len(seqs))
			for i, s := range seqs {
				want[i] = refLogp(t, m, s)
			}
			lp := &LogProbs{Model: m, Pad: testPAD}
			got, counts, err := lp.Forward(seqs)
			if err != nil {
				t.Fatal(err)
			}
			wantCounts := []int{8, 1, 5}
			for i := range seqs {
				if math.Abs(got[i]-want[i]) > 1e-4*math.Max(1, math.Abs(want[i])) || counts[i] != wantCounts[i] {
					t.Errorf("seq %d: logp %.6f (%d tokens), want %.6f (%d)", i, got[i], counts[i], want[i], wantCounts[i])
				}
			}
		})
	}
}

// fdCheck compares the gradients an objective accumulates (for the
// largest-gradient entries of each parameter set) with central differences
// of its evaluated loss.
func fdCheck(t *testing.T, obj train.Evaluator, sets []train.ParamSet, idx []int, h float32) {
	t.Helper()
	for _, ps := range sets {
		clear(ps.Grad)
	}
	if _, err := obj.Accumulate(idx, len(idx)); err != nil {
		t.Fatal(err)
	}
	lossAt := func() float64 {
		m, err := obj.Eval(idx, len(idx))
		if err != nil {
			t.Fatal(err)
		}
		return m["loss"]
	}
	for _, ps := range sets {
		grad := append([]float32(nil), ps.Grad...)
		order := make([]int, len(grad))
		for i := range order {
			order[i] = i
		}
		sort.Slice(order, func(a, b int) bool { return math.Abs(float64(grad[order[a]])) > math.Abs(float64(grad[order[b]])) })
		for _, i := range order[:6] {
			old := ps.Data[i]
			ps.Data[i] = old + h
			lp := lossAt()
			ps.Data[i] = old - h
			lm := lossAt()
			ps.Data[i] = old
			fd := (lp - lm) / (2 * float64(h))
			if g := float64(grad[i]); math.Abs(fd-g) > 3e-2*math.Abs(g)+1e-4 {
				t.Errorf("%s[%d]: backward %.6f, finite difference %.6f", ps.Name, i, g, fd)
			}
		}
	}
}

func TestRMGradient(t *testing.T) {
	m := tinyModel(t, "llama", 7)
	enc, _ := pairenc.NewEncoder(byteTokenizer(t), m.Cfg)
	pairs, err := enc.EncodePairs(politeSet(4, 3))
	if err != nil {
		t.Fatal(err)
	}
	mg := 0.3
	pairs[1].Margin = &mg
	rm := rewardmodel.NewRewardModel(m, testPAD, 1)
	obj, _ := NewRMObjective(rm, pairs, 0, 0.05)
	fdCheck(t, obj, []train.ParamSet{train.ModelParams("model", m), HeadParams(rm)}, []int{0, 1, 2, 3}, 1e-2)
}

func TestDPOGradient(t *testing.T) {
	for _, lt := range []string{"sigmoid", "ipo", "simpo"} {
		t.Run(lt, func(t *testing.T) {
			m := tinyModel(t, "llama", 7)
			ref := tinyModel(t, "llama", 8) // a different reference, so z != 0
			enc, _ := pairenc.NewEncoder(byteTokenizer(t), m.Cfg)
			pairs, err := enc.EncodePairs(politeSet(3, 4))
			if err != nil {
				t.Fatal(err)
			}
			cfg := loss.DPOConfig{LossType: lt, Beta: 0.5, SimPOGamma: 0.5, RPOAlpha: 0.2}
			obj, err := NewDPOObjective(m, ref, cfg, pairs, 0, testPAD)
			if err != nil {
				t.Fatal(err)
			}
			fdCheck(t, obj, []train.ParamSet{train.ModelParams("model", m)}, []int{0, 1, 2}, 1e-2)
		})
	}
}

// firstStep runs one optimizer step and returns its metrics row.
func firstStep(t *testing.T, obj train.Objective, m *model.Model, batch int) map[string]float64 {
	t.Helper()
	s := settings(t, 1, batch, 1e-3)
	s.LoggingSteps = 1
	s.GradAccum = 2
	runJob(t, &train.Job{Settings: s, Objective: obj, Params: []train.ParamSet{train.ModelParams("model", m)},
		Saver: train.SaverFunc(func(string) error { return nil })})
	rows, _ := readMetrics(t, s.Out)
	if len(rows) != 1 {
		t.Fatalf("%d metric rows", len(rows))
	}
	return rows[0]
}

// TestDPOStepZero: with the policy equal to its reference every pair's
// logit is 0, so the sigmoid loss is ln 2 and every reward 0, as the loop
// logs them over two accumulated micro-batches.
func TestDPOStepZero(t *testing.T) {
	tok := byteTokenizer(t)
	pairs := func(m *model.Model) []pairenc.Pair {
		enc, _ := pairenc.NewEncoder(tok, m.Cfg)
		p, err := enc.EncodePairs(politeSet(16, 5))
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	cfg := loss.DPOConfig{LossType: "sigmoid", Beta: 0.1}

	m := tinyModel(t, "llama", 9)
	live, err := NewDPOObjective(m, m.Clone(), cfg, pairs(m), 0, testPAD)
	if err != nil {
		t.Fatal(err)
	}
	a := firstStep(t, live, m, 3)
	if math.Abs(a["loss"]-math.Ln2) > 1e-12 {
		t.Errorf("step-0 loss %.15f, want ln 2 = %.15f", a["loss"], math.Ln2)
	}
	for _, k := range []string{"rewards/chosen", "rewards/rejected", "rewards/margins", "rewards/accuracies"} {
		if a[k] != 0 {
			t.Errorf("%s = %g at step 0, want 0", k, a[k])
		}
	}
	if a["logps/chosen"] >= 0 || a["logps/rejected"] >= 0 {
		t.Errorf("log-probs must be negative: %v %v", a["logps/chosen"], a["logps/rejected"])
	}

	// The same run with reference log-probs computed up front. Step 0 is a
	// tie for every pair, which float rounding from other padding may break
	// either way, so the accuracy is left out here; the continuous metrics
	// must agree.
	m2 := tinyModel(t, "llama", 9)
	pre, err := NewDPOObjective(m2, nil, cfg, pairs(m2), 0, testPAD)
	if err != nil {
		t.Fatal(err)
	}
	if err := pre.PrecomputeRef(m2.Clone(), 5); err != nil {
		t.Fatal(err)
	}
	b := firstStep(t, pre, m2, 3)
	same(t, a, b, "loss", "grad_norm", "rewards/chosen", "rewards/rejected", "rewards/margins", "logps/chosen", "logps/rejected")
}

// TestDPOPrecomputedReference compares a live reference with precomputed
// log-probs away from the step-0 tie: the reference is another model.
func TestDPOPrecomputedReference(t *testing.T) {
	tok := byteTokenizer(t)
	cfg := loss.DPOConfig{LossType: "sigmoid", Beta: 0.1}
	run := func(precompute bool) map[string]float64 {
		m, ref := tinyModel(t, "llama", 9), tinyModel(t, "llama", 10)
		enc, _ := pairenc.NewEncoder(tok, m.Cfg)
		pairs, err := enc.EncodePairs(politeSet(16, 5))
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < len(pairs); i += 2 { // a mix of accurate and inaccurate pairs
			pairs[i].Chosen, pairs[i].Rejected = pairs[i].Rejected, pairs[i].Chosen
		}
		live := ref
		if precompute {
			live = nil
		}
		o, err := NewDPOObjective(m, live, cfg, pairs, 0, testPAD)
		if err != nil {
			t.Fatal(err)
		}
		if precompute {
			if err := o.PrecomputeRef(ref, 4); err != nil {
				t.Fatal(err)
			}
		}
		return firstStep(t, o, m, 3)
	}
	a, b := run(false), run(true)
	if a["rewards/accuracies"] == 0 || a["rewards/accuracies"] == 1 {
		t.Fatalf("degenerate accuracy %v: the test needs a mix", a["rewards/accuracies"])
	}
	same(t, a, b, "loss", "grad_norm", "rewards/chosen", "rewards/rejected", "rewards/margins", "rewards/accuracies", "logps/chosen", "logps/rejected")
}

func same(t *testing.T, a, b map[string]float64, keys ...string) {
	t.Helper()
	for _, k := range keys {
		if _, ok := a[k]; !ok {
			t.Errorf("no metric %q", k)
		}
		if math.Abs(a[k]-b[k]) > 1e-6*math.Max(1, math.Abs(a[k])) {
			t.Errorf("%s: live reference %.9g, precomputed %.9g", k, a[k], b[k])
		}
	}
}

func TestDPOErrors(t *testing.T) {
	m := tinyModel(t, "llama", 1)
	enc, _ := pairenc.NewEncoder(byteTokenizer(t), m.Cfg)
	pairs, _ := enc.EncodePairs(politeSet(2, 1))
	for _, tc := range []struct {
		name   string
		cfg    loss.DPOConfig
		maxLen int
		want   string
	}{
		{"unknown loss", loss.DPOConfig{LossType: "kto", Beta: 0.1}, 0, "unknown preference loss"},
		{"zero beta", loss.DPOConfig{LossType: "sigmoid"}, 0, "beta"},
		{"smoothing on hinge", loss.DPOConfig{LossType: "hinge", Beta: 0.1, LabelSmoothing: 0.1}, 0, "label smoothing"},
		{"max length 1", loss.DPOConfig{LossType: "sigmoid", Beta: 0.1}, 1, "gen:1: no response token"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewDPOObjective(m, m.Clone(), tc.cfg, pairs, tc.maxLen, testPAD)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
	// No reference for a loss that needs one fails at the first batch.
	o, err := NewDPOObjective(m, nil, loss.DPOConfig{LossType: "sigmoid", Beta: 0.1}, pairs, 0, testPAD)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := o.Eval([]int{0}, 1); err == nil || !strings.Contains(err.Error(), "reference") {
		t.Fatalf("missing reference: %v", err)
	}
	// simpo needs none.
	o, err = NewDPOObjective(m, nil, loss.DPOConfig{LossType: "simpo", Beta: 2, SimPOGamma: 0.5}, pairs, 0, testPAD)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := o.Eval([]int{0, 1}, 2); err != nil {
		t.Fatal(err)
	}
}
