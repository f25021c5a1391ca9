package pref

import (
	"math"
	"testing"

	"github.com/align-go/align/loss"
	"github.com/align-go/align/model"
	"github.com/align-go/align/pairenc"
	"github.com/align-go/align/rewardmodel"
	"github.com/align-go/align/train"
)

// Gradient accumulation equals one big batch for the pairwise objectives:
// each pair's loss is weighted 1/(pairs in the whole step), and DPO's RPO
// term (rpo_alpha) is a mean over the whole step's chosen tokens, so a step
// taken in micro-batches of any sizes sums to the step taken at once. TRL's
// DPOTrainer and RewardTrainer average each micro-batch (its pairs; for the
// RPO term, its chosen tokens) and divide by the accumulation steps
// instead, which agrees only when the micro-batches hold equally many
// pairs and tokens; the uneven split (3 + 1) below is where the two differ,
// and here it still equals the whole batch.

// accumCase builds a fresh objective and its parameter sets.
type accumCase struct {
	name  string
	build func(t *testing.T) (train.Objective, []train.ParamSet)
}

func accumCases(t *testing.T) []accumCase {
	pairs := func(m *model.Model) []pairenc.Pair {
		enc, _ := pairenc.NewEncoder(byteTokenizer(t), m.Cfg)
		p, err := enc.EncodePairs(politeSet(4, 11))
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	var cs []accumCase
	for _, lt := range []string{"sigmoid", "ipo", "hinge", "robust", "simpo"} {
		cs = append(cs, accumCase{"dpo " + lt, func(t *testing.T) (train.Objective, []train.ParamSet) {
			m := tinyModel(t, "llama", 7)
			ref := tinyModel(t, "llama", 8) // differs from the policy, so every pair's logit is away from 0
			cfg := loss.DPOConfig{LossType: lt, Beta: 0.5, SimPOGamma: 0.5, RPOAlpha: 0.2, LabelSmoothing: 0.1}
			if lt != "robust" {
				cfg.LabelSmoothing = 0
			}
			obj, err := NewDPOObjective(m, ref, cfg, pairs(m), 0, testPAD)
			if err != nil {
				t.Fatal(err)
			}
			return obj, []train.ParamSet{train.ModelParams("model", m)}
		}})
	}
	cs = append(cs, accumCase{"orpo", func(t *testing.T) (train.Objective, []train.ParamSet) {
		m := tinyModel(t, "llama", 7)
		obj, err := NewORPOObjective(m, 0.5, pairs(m), 0, testPAD)
		if err != nil {
			t.Fatal(err)
		}
		return obj, []train.ParamSet{train.ModelParams("model", m)}
	}})
	for _, lt := range []string{"sigmoid", "simpo"} {
		cs = append(cs, accumCase{"cpo " + lt, func(t *testing.T) (train.Objective, []train.ParamSet) {
			m := tinyModel(t, "llama", 7)
			obj, err := NewCPOObjective(m, loss.CPOConfig{LossType: lt, Beta: 0.5, SimPOGamma: 0.5, Alpha: 1}, pairs(m), 0, testPAD)
			if err != nil {
				t.Fatal(err)
			}
			return obj, []train.ParamSet{train.ModelParams("model", m)}
		}})
	}
	// apo_zero_unpaired's loss is per row, so micro-batches add up to the
	// step exactly (kto's z₀ is a per-micro-batch estimate, as in TRL).
	cs = append(cs, accumCase{"kto apo_zero_unpaired", func(t *testing.T) (train.Objective, []train.ParamSet) {
		m := tinyModel(t, "llama", 7)
		rows := ktoRows(t, m, 2)
		obj, err := NewKTOObjective(m, tinyModel(t, "llama", 8), loss.KTOConfig{LossType: "apo_zero_unpaired", Beta: 0.5,
			DesirableWeight: 1.2, UndesirableWeight: 0.8}, rows, 0, testPAD)
		if err != nil {
			t.Fatal(err)
		}
		return obj, []train.ParamSet{train.ModelParams("model", m)}
	}})
	cs = append(cs, accumCase{"rm", func(t *testing.T) (train.Objective, []train.ParamSet) {
		m := tinyModel(t, "llama", 7)
		p := pairs(m)
		mg := 0.3
		p[2].Margin = &mg
		rm := rewardmodel.NewRewardModel(m, testPAD, 1)
		obj, _ := NewRMObjective(rm, p, 0, 0.05) // with TRL's center_rewards_coefficient term
		return obj, []train.ParamSet{train.ModelParams("model", m), HeadParams(rm)}
	}})
	return cs
}

func allGrads(sets []train.ParamSet) []float32 {
	var g []float32
	for _, ps := range sets {
		g = append(g, ps.Grad...)
	}
	return g
}

func sameGrads(t *testing.T, what string, got, want []float32) {
	t.Helper()
	var scale, diff float64
	for i := range want {
		scale = math.Max(scale, math.Abs(float64(want[i])))
		diff = math.Max(diff, math.Abs(float64(got[i]-want[i])))
	}
	if scale == 0 || diff > 1e-5*scale {
		t.Errorf("%s: gradients differ by up to %g (largest %g)", what, diff, scale)
	}
}

// TestAccumulationUnevenMicroBatches: micro-batches of 3 and 1 pairs give
// the gradient and loss of the 4 pairs at once.
func TestAccumulationUnevenMicroBatches(t *testing.T) {
	for _, c := range accumCases(t) {
		obj, sets := c.build(t)
		// As the loop does before a step's micro-batches.
		prepare := func() {
			if p, ok := obj.(train.BatchPreparer); ok {
				if err := p.PrepareBatch(&train.StepContext{Step: 1}, []int{0, 1, 2, 3}); err != nil {
					t.Fatal(err)
				}
			}
		}
		for _, ps := range sets {
			clear(ps.Grad)
		}
		prepare()
		whole, err := obj.Accumulate([]int{0, 1, 2, 3}, 4)
		if err != nil {
			t.Fatal(err)
		}
		want := allGrads(sets)
		for _, ps := range sets {
			clear(ps.Grad)
		}
		prepare()
		var l float64
		for _, idx := range [][]int{{0, 1, 2}, {3}} {
			met, err := obj.Accumulate(idx, 4)
			if err != nil {
				t.Fatal(err)
			}
			l += met["loss"]
		}
		sameGrads(t, c.name, allGrads(sets), want)
		if math.Abs(l-whole["loss"]) > 1e-6*math.Abs(whole["loss"]) {
			t.Errorf("%s: loss %v in micro-batches of 3 and 1, %v at once", c.name, l, whole["loss"])
		}
	}
}

// TestAccumulationThroughTheLoop: one optimizer step of batch 4, and of
// batch 2 × --grad-accum 2, leave the same gradient and log the same loss.
func TestAccumulationThroughTheLoop(t *testing.T) {
	for _, c := range accumCases(t) {
		var g [2][]float32
		var l [2]float64
		for k, accum := range []int{1, 2} {
			obj, sets := c.build(t)
			s := settings(t, 1, 4/accum, 1e-3)
			s.GradAccum, s.MaxGradNorm, s.LoggingSteps = accum, 0, 1
			runJob(t, &train.Job{Settings: s, Objective: obj, Params: sets,
				Saver: train.SaverFunc(func(string) error { return nil })})
			rows, _ := readMetrics(t, s.Out)
			g[k], l[k] = allGrads(sets), rows[0]["loss"]
		}
		sameGrads(t, c.name+" through the loop", g[1], g[0])
		if math.Abs(l[1]-l[0]) > 1e-6*math.Abs(l[0]) {
			t.Errorf("%s: logged loss %v with accumulation, %v without", c.name, l[1], l[0])
		}
	}
}
