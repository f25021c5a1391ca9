package pref

import (
	"math"
	"strings"
	"testing"

	"github.com/align-go/align/loss"
	"github.com/align-go/align/model"
	"github.com/align-go/align/pairenc"
	"github.com/align-go/align/rewardmodel"
	"github.com/align-go/align/train"
)

func f64(x float64) *float64 { return &x }

// swapPairs returns a copy of pairs in which the pairs at swap have their
// responses exchanged and their soft label p replaced by 1 − p (nil counting
// as 1): the same preferences, written the other way round.
func swapPairs(pairs []pairenc.Pair, swap ...int) []pairenc.Pair {
	out := append([]pairenc.Pair(nil), pairs...)
	for _, i := range swap {
		p := 1.0
		if out[i].PChosen != nil {
			p = *out[i].PChosen
		}
		out[i].Chosen, out[i].Rejected = out[i].Rejected, out[i].Chosen
		out[i].PChosen = f64(1 - p)
	}
	return out
}

// gradsOf clears the sets' gradients, accumulates obj on idx and returns
// copies of the gradients with the metrics.
func gradsOf(t *testing.T, obj train.Objective, sets []train.ParamSet, idx []int) (train.Metrics, [][]float32) {
	t.Helper()
	for _, ps := range sets {
		clear(ps.Grad)
	}
	m, err := obj.Accumulate(idx, len(idx))
	if err != nil {
		t.Fatal(err)
	}
	var g [][]float32
	for _, ps := range sets {
		g = append(g, append([]float32(nil), ps.Grad...))
	}
	return m, g
}

func closeGrads(t *testing.T, name string, a, b [][]float32) {
	t.Helper()
	for s := range a {
		var diff, norm float64
		for i := range a[s] {
			d := float64(a[s][i] - b[s][i])
			diff += d * d
			norm += float64(a[s][i]) * float64(a[s][i])
		}
		if norm == 0 || math.Sqrt(diff) > 1e-4*math.Sqrt(norm) {
			t.Errorf("%s: set %d: gradients differ by %.3g (norm %.3g)", name, s, math.Sqrt(diff), math.Sqrt(norm))
		}
	}
}

// sameMetrics compares a's metrics with b's.
func sameMetrics(t *testing.T, name string, a, b train.Metrics) {
	t.Helper()
	for k, v := range a {
		if math.Abs(v-b[k]) > 1e-6*math.Max(1, math.Abs(v)) {
			t.Errorf("%s: %s = %.9g, swapped %.9g", name, k, v, b[k])
		}
	}
}

// TestRMSoftLabels: a pair written the other way round with p → 1 − p is
// the same preference, so on a shuffled micro-batch the reward model's
// loss, accuracy and gradients match; ignoring the labels would not. This
// also checks that labels travel with their pairs through idx.
func TestRMSoftLabels(t *testing.T) {
	m := tinyModel(t, "llama", 7)
	enc, _ := pairenc.NewEncoder(byteTokenizer(t), m.Cfg)
	pairs, err := enc.EncodePairs(politeSet(6, 3))
	if err != nil {
		t.Fatal(err)
	}
	pairs[2].PChosen, pairs[4].PChosen, pairs[5].PChosen = f64(0.5), f64(0.8), f64(0.3)
	mg := 0.3
	pairs[1].Margin = &mg
	swapped := swapPairs(pairs, 0, 1, 4)
	rm := rewardmodel.NewRewardModel(m, testPAD, 1)
	sets := []train.ParamSet{train.ModelParams("model", m), HeadParams(rm)}
	idx := []int{4, 1, 5, 0, 3, 2}
	a, _ := NewRMObjective(rm, pairs, 0, 0.05)
	b, _ := NewRMObjective(rm, swapped, 0, 0.05)
	ma, ga := gradsOf(t, a, sets, idx)
	mb, gb := gradsOf(t, b, sets, idx)
	// Per-pair rewards are swapped on three pairs only, so compare the
	// swap-invariant metrics.
	sameMetrics(t, "rm", train.Metrics{"loss": ma["loss"], "accuracy": ma["accuracy"]}, mb)
	closeGrads(t, "rm", ga, gb)

	// The same swap with the labels dropped is a different objective.
	ignored := swapPairs(pairs, 0, 1, 4)
	for i := range ignored {
		ignored[i].PChosen = nil
	}
	c, _ := NewRMObjective(rm, ignored, 0, 0.05)
	mc, _ := gradsOf(t, c, sets, idx)
	if math.Abs(mc["loss"]-ma["loss"]) < 1e-3 {
		t.Errorf("dropping the soft labels left the loss at %v", mc["loss"])
	}

	// Gradients through the model against finite differences, with labels.
	fdCheck(t, a, sets, []int{5, 2, 4, 0}, 1e-2)
}

// TestDPOSoftLabels is TestRMSoftLabels for DPO, against a different
// reference (so z ≠ 0), live and with precomputed reference log-probs.
func TestDPOSoftLabels(t *testing.T) {
	tok := byteTokenizer(t)
	for _, tc := range []struct {
		cfg        loss.DPOConfig
		precompute bool
	}{
		{loss.DPOConfig{LossType: "sigmoid", Beta: 0.5}, false},
		{loss.DPOConfig{LossType: "sigmoid", Beta: 0.5, LabelSmoothing: 0.1, RPOAlpha: 0}, true},
		{loss.DPOConfig{LossType: "robust", Beta: 0.5, LabelSmoothing: 0.1}, false},
		{loss.DPOConfig{LossType: "ipo", Beta: 0.5}, true},
	} {
		name := tc.cfg.LossType
		if tc.precompute {
			name += " precomputed"
		}
		t.Run(name, func(t *testing.T) {
			m, ref := tinyModel(t, "llama", 7), tinyModel(t, "llama", 8)
			enc, _ := pairenc.NewEncoder(tok, m.Cfg)
			pairs, err := enc.EncodePairs(politeSet(5, 4))
			if err != nil {
				t.Fatal(err)
			}
			pairs[1].PChosen, pairs[3].PChosen, pairs[4].PChosen = f64(0.7), f64(0.5), f64(0.2)
			build := func(ps []pairenc.Pair) *DPOObjective {
				live := ref
				if tc.precompute {
					live = nil
				}
				o, err := NewDPOObjective(m, live, tc.cfg, ps, 0, testPAD)
				if err != nil {
					t.Fatal(err)
				}
				if tc.precompute {
					if err := o.PrecomputeRef(ref, 2); err != nil {
						t.Fatal(err)
					}
				}
				return o
			}
			a, b := build(pairs), build(swapPairs(pairs, 0, 1, 3))
			sets := []train.ParamSet{train.ModelParams("model", m)}
			idx := []int{3, 0, 4, 2, 1}
			ma, ga := gradsOf(t, a, sets, idx)
			mb, gb := gradsOf(t, b, sets, idx)
			sameMetrics(t, "dpo", train.Metrics{"loss": ma["loss"], "rewards/accuracies": ma["rewards/accuracies"]}, mb)
			closeGrads(t, "dpo", ga, gb)
			fdCheck(t, a, sets, []int{4, 1, 3}, 1e-2)
		})
	}
}

// TestDPOSoftLabelRefused: losses without a soft-label form refuse a pair
// with p < 1 when the objective is built, naming the row.
func TestDPOSoftLabelRefused(t *testing.T) {
	m := tinyModel(t, "llama", 1)
	enc, _ := pairenc.NewEncoder(byteTokenizer(t), m.Cfg)
	pairs, _ := enc.EncodePairs(politeSet(3, 1))
	pairs[0].PChosen, pairs[1].PChosen = f64(1), f64(0.75)
	for _, cfg := range []loss.DPOConfig{{LossType: "hinge", Beta: 0.1}, {LossType: "simpo", Beta: 2, SimPOGamma: 0.5}} {
		var ref *model.Model
		if cfg.LossType == "hinge" {
			ref = m.Clone()
		}
		_, err := NewDPOObjective(m, ref, cfg, pairs, 0, testPAD)
		if err == nil || !strings.Contains(err.Error(), "gen:2: p_chosen 0.75") || !strings.Contains(err.Error(), cfg.LossType+" loss has no form") {
			t.Errorf("%s: %v", cfg.LossType, err)
		}
		if _, err := NewDPOObjective(m, ref, cfg, pairs[:1], 0, testPAD); err != nil {
			t.Errorf("%s with p_chosen 1: %v", cfg.LossType, err)
		}
	}
}
