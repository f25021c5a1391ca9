package ppo

import (
	"bufio"
	"context"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/align-go/align/generate"
	"github.com/align-go/align/reward"
)

// The hand-built rollout of testdata/gen/rollout.py (T = 5, pad 0, EOS 1):
//
//	row 0: prompt [2 3],               completion [7 1] (ends in EOS), then one pad
//	row 1: prompt [4], left-padded,    completion [8 9 6] (truncated: no EOS)
//
// with policy and reference log-probs and (shifted) values on the completion
// tokens. Worked by hand for k1, β = 0.1, γ = 0.9, λ = 0.8, missing-EOS
// penalty 1:
//
//	scores:   row 0 ends in EOS → 0.8; row 1 does not → 0.6 − 1 = −0.4
//	k1:       row 0 (0.5, −0.25); row 1 (−1, 0, 1)
//	rewards:  row 0 (−0.05, 0.025 + 0.8 at the EOS token, 0 on the pad);
//	          row 1 (0.1, 0, −0.1 − 0.4 on its last token)
//	GAE row 0: δ₃ = 0.825 − 0.4 = 0.425 = A₃; δ₂ = −0.05 + 0.9·0.4 − 0.5 = −0.19,
//	          A₂ = −0.19 + 0.72·0.425 = 0.116; returns A + V = (0.616, 0.825)
//	GAE row 1: A₄ = −0.5 − 0.3 = −0.8; A₃ = 0.9·0.3 − 0.2 + 0.72·(−0.8) = −0.506;
//	          A₂ = 0.1 + 0.9·0.2 − 0.1 + 0.72·(−0.506) = −0.18432;
//	          returns (−0.08432, −0.306, −0.5)
//
// The other cases (k3, whitened advantages, --whiten-rewards) are in
// testdata/rollout.txt, printed by the script with plain Python loops.
var (
	handPrompts = [][]int32{{2, 3}, {4}}
	handCs      = []generate.Completion{
		{Prompt: 0, Tokens: []int32{7, testEOS}, FinishReason: generate.FinishStop},
		{Prompt: 1, Tokens: []int32{8, 9, 6}, FinishReason: generate.FinishLength},
	}
	handLogp   = []float64{0, 0, -1.0, -0.5, 0, 0, 0, -2.0, -0.2, -1.0}
	handRef    = []float64{0, 0, -1.5, -0.25, 0, 0, 0, -1.0, -0.2, -2.0}
	handValues = []float64{0, 0, 0.5, 0.4, 0, 0, 0, 0.1, 0.2, 0.3}
)

// fixedReward returns its scores whatever the samples, and records them.
type fixedReward struct {
	scores []float64
	seen   []reward.Sample
}

func (f *fixedReward) Name() string { return "fixed" }
func (f *fixedReward) Score(_ context.Context, s []reward.Sample) ([]float64, error) {
	f.seen = s
	return append([]float64(nil), f.scores...), nil
}

// handExpected reads testdata/rollout.txt: key → values.
func handExpected(t *testing.T) map[string][]float64 {
	t.Helper()
	f, err := os.Open("testdata/rollout.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string][]float64{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		key := []string{}
		var vals []float64
		for _, w := range fs {
			if v, err := strconv.ParseFloat(w, 64); err == nil {
				vals = append(vals, v)
			} else {
				key = append(key, w)
			}
		}
		out[strings.Join(key, " ")] = vals
	}
	return out
}

func handTrainer(t *testing.T, kind string, whiten bool) (*Trainer, *generate.Rollout) {
	t.Helper()
	cfg := DefaultConfig()
	cfg.KL.Coef, cfg.KLEstimator, cfg.Gamma, cfg.Lam = 0.1, kind, 0.9, 0.8
	cfg.MissingEOSPenalty, cfg.WhitenRewards = 1, whiten
	ro, err := generate.NewRollout(handPrompts, handCs, 0)
	if err != nil {
		t.Fatal(err)
	}
	if ro.T != 5 {
		t.Fatalf("rollout T = %d, want 5", ro.T)
	}
	tr := &Trainer{Cfg: cfg, Prompts: handPrompts, EOS: []int32{testEOS}, Pad: 0,
		Roles: Roles{Reward: &fixedReward{scores: []float64{0.8, 0.6}}}}
	return tr, ro
}

func closeTo(t *testing.T, what string, got, want []float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	for i := range want {
		if math.Abs(got[i]-want[i]) > 1e-9 {
			t.Errorf("%s[%d] (row %d, column %d) = %.12g, want %.12g", what, i, i/5, i%5, got[i], want[i])
		}
	}
}

// TestHandRolloutScores: the reward sees each prompt with its completion, the
// row without EOS loses the missing-EOS penalty, the one with EOS keeps its
// score, and val/num_eos_tokens counts 1.
func TestHandRolloutScores(t *testing.T) {
	tr, ro := handTrainer(t, "k1", false)
	scores, eos, err := tr.score(context.Background(), ro, []int{0, 1})
	if err != nil {
		t.Fatal(err)
	}
	closeTo(t, "scores", scores, handExpected(t)["scores"])
	if scores[0] != 0.8 || math.Abs(scores[1]-(-0.4)) > 1e-15 || eos != 1 {
		t.Fatalf("scores %v (want 0.8 and 0.6 − 1), EOS count %d (want 1)", scores, eos)
	}
	seen := tr.Roles.Reward.(*fixedReward).seen
	if len(seen) != 2 || seen[1].PromptIDs[0] != 4 || len(seen[1].CompletionIDs) != 3 || !seen[1].Truncated || seen[0].Truncated {
		t.Fatalf("reward samples %+v", seen)
	}
}

// TestHandRollout: per-token rewards (k1 and k3), GAE returns and whitened
// advantages, with and without --whiten-rewards, and the objective metrics.
func TestHandRollout(t *testing.T) {
	want := handExpected(t)
	for _, kind := range []string{"k1", "k3"} {
		for _, wr := range []bool{false, true} {
			tr, ro := handTrainer(t, kind, wr)
			mask := make([]float64, len(ro.CompletionMask))
			for i, m := range ro.CompletionMask {
				mask[i] = float64(m)
			}
			d := &rolloutData{r: ro, mask: mask, logp: handLogp, ref: handRef, values: handValues}
			met, err := tr.prepare(d, []float64{0.8, -0.4})
			if err != nil {
				t.Fatal(err)
			}
			name := kind + " raw"
			if wr {
				name = kind + " whiten_rewards"
			}
			closeTo(t, kind+" rewards", d.rewards, want[kind+" rewards"])
			closeTo(t, name+" advantages", d.adv, want[name+" advantages"])
			rt := make([]float64, len(d.rt))
			for i := range rt {
				rt[i] = d.rt[i] * mask[i] // returns outside the completion are never read
			}
			closeTo(t, name+" returns", rt, want[name+" returns"])
			if kl := want[kind+" objective/kl"][0]; math.Abs(met["objective/kl"]-kl) > 1e-12 {
				t.Errorf("%s: objective/kl %v, want %v", name, met["objective/kl"], kl)
			}
			// Non-score reward −β·Σkl/B; entropy −Σlogp/B = 4.7/2; mean score 0.2.
			if ns := -0.1 * want[kind+" objective/kl"][0]; math.Abs(met["objective/non_score_reward"]-ns) > 1e-12 ||
				math.Abs(met["objective/entropy"]-2.35) > 1e-12 || math.Abs(met["objective/scores"]-0.2) > 1e-12 ||
				math.Abs(met["objective/rlhf_reward"]-(0.2+ns)) > 1e-12 {
				t.Errorf("%s: metrics %v", name, met)
			}
		}
	}
}
