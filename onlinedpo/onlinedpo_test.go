package onlinedpo

import (
	"context"
	"encoding/json"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/align-go/align/cai"
	"github.com/align-go/align/data"
	"github.com/align-go/align/judge"
	"github.com/align-go/align/loss"
	"github.com/align-go/align/model"
	"github.com/align-go/align/optim"
	"github.com/align-go/align/policy"
	"github.com/align-go/align/reward"
	"github.com/align-go/align/train"
)

const (
	vocab = 16
	eos   = 12
)

func tinyModel(t testing.TB) *model.Model {
	cfg, err := model.ParseConfig(map[string]any{"model_type": "llama", "vocab_size": float64(vocab), "eos_token_id": float64(eos),
		"hidden_size": 32.0, "num_hidden_layers": 2.0, "num_attention_heads": 4.0, "num_key_value_heads": 2.0,
		"intermediate_size": 64.0, "max_position_embeddings": 32.0})
	if err != nil {
		t.Fatal(err)
	}
	m := model.New(cfg)
	m.InitRandom(7)
	return m
}

func prompts() []Prompt {
	var ps []Prompt
	for a := range 8 {
		ps = append(ps, Prompt{IDs: []int32{int32(a), 10, int32(7 - a), 11}, Text: string(rune('a' + a))})
	}
	return ps
}

// scoreFunc is a reward from a function of the completion's tokens.
type scoreFunc func(ids []int32) float64

func (scoreFunc) Name() string { return "test" }
func (f scoreFunc) Score(_ context.Context, ss []reward.Sample) ([]float64, error) {
	out := make([]float64, len(ss))
	for i, s := range ss {
		out[i] = f(s.CompletionIDs)
	}
	return out, nil
}

func cand(eosEnd bool, n int) Candidate {
	toks := make([]int32, n)
	if eosEnd {
		toks[n-1] = eos
	}
	return Candidate{Tokens: toks, EOS: eosEnd}
}

// TestPairsHand orders three duels by hand-chosen scores: a plain win for
// the second completion, a tie (the first is chosen, as TRL's first ≥
// second), and a duel the first completion wins on score but loses once
// the missing-EOS penalty of 1 is subtracted. The step metrics are
// computed here from the penalised scores.
func TestPairsHand(t *testing.T) {
	o := &Objective{Cfg: Config{Loss: loss.DPOConfig{Beta: 0.25}, MissingEOSPenalty: 1}, Prompts: make([]Prompt, 3)}
	duels := []Duel{
		{Index: 0, C: [2]Candidate{cand(true, 2), cand(true, 3)}},
		{Index: 1, C: [2]Candidate{cand(true, 4), cand(true, 5)}},
		{Index: 2, C: [2]Candidate{cand(false, 6), cand(true, 7)}},
	}
	scores := [][2]float64{{0.1, 0.7}, {0.4, 0.4}, {0.9, 0.3}}
	pairs, chosen, met := o.pairs(1, duels, scores)
	if want := []int{1, 0, 1}; !slices.Equal(chosen, want) {
		t.Fatalf("chosen %v, want %v", chosen, want)
	}
	for k, p := range pairs {
		c, r := duels[k].C[chosen[k]].Tokens, duels[k].C[1-chosen[k]].Tokens
		if len(p.Chosen) != len(c) || len(p.Rejected) != len(r) {
			t.Errorf("duel %d: pair has %d/%d tokens, want chosen %d rejected %d", k, len(p.Chosen), len(p.Rejected), len(c), len(r))
		}
	}
	// Penalised scores: (0.1, 0.7), (0.4, 0.4), (-0.1, 0.3).
	want := map[string]float64{
		"objective/scores":        (0.1 + 0.7 + 0.4 + 0.4 - 0.1 + 0.3) / 6,
		"objective/scores_margin": (0.6 + 0 + 0.4) / 3,
		"val/contain_eos_token":   5.0 / 6,
		"beta":                    0.25,
	}
	for k, v := range want {
		if math.Abs(met[k]-v) > 1e-12 {
			t.Errorf("%s = %v, want %v", k, met[k], v)
		}
	}
	if s, want := scores[2][0], 0.9-o.Cfg.MissingEOSPenalty; s != want {
		t.Errorf("penalised score %v, want %v", s, want)
	}
}

// biasJudge answers each comparison with PA from a function of the request.
type biasJudge struct {
	pa   func(c judge.Comparison) float64
	seen *[]judge.Comparison
}

func (j biasJudge) Compare(_ context.Context, reqs []judge.Comparison) ([]judge.Preference, error) {
	out := make([]judge.Preference, len(reqs))
	for i, r := range reqs {
		out[i].PA = j.pa(r)
		if j.seen != nil {
			*j.seen = append(*j.seen, r)
		}
	}
	return out, nil
}
func (biasJudge) Grade(context.Context, []judge.Grading) ([]judge.Grade, error) { return nil, nil }

// TestJudgeOrders: the judge is asked each duel in both orders and the
// order-averaged probability becomes the scores. A judge that always picks
// the first position ties every duel and never agrees with itself; one
// that prefers the shorter text whatever its position agrees everywhere;
// one that gives the shorter text 0.9 when it is first and 0.6 when it is
// second scores it (0.9+0.6)/2.
func TestJudgeOrders(t *testing.T) {
	duels := []Duel{
		{Index: 0, Prompt: Prompt{Text: "p0"}, C: [2]Candidate{{Text: "long answer"}, {Text: "short"}}},
		{Index: 1, Prompt: Prompt{Text: "p1"}, C: [2]Candidate{{Text: "tiny"}, {Text: "much longer"}}},
	}
	shorter := func(c judge.Comparison) bool { return len(c.A) < len(c.B) }
	for _, tc := range []struct {
		name        string
		pa          func(c judge.Comparison) float64
		scores      [][2]float64
		agree, ties float64
	}{
		{"first position", func(judge.Comparison) float64 { return 1 }, [][2]float64{{0.5, 0.5}, {0.5, 0.5}}, 0, 1},
		{"shorter", func(c judge.Comparison) float64 {
			if shorter(c) {
				return 1
			}
			return 0
		}, [][2]float64{{0, 1}, {1, 0}}, 1, 0},
		{"shorter, position-biased", func(c judge.Comparison) float64 {
			if shorter(c) {
				return 0.9
			}
			return 0.4 // B (the shorter) gets 0.6
		}, [][2]float64{{0.25, 0.75}, {0.75, 0.25}}, 1, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var seen []judge.Comparison
			scores, met, err := Judge{J: biasJudge{pa: tc.pa, seen: &seen}}.Rank(context.Background(), duels)
			if err != nil {
				t.Fatal(err)
			}
			for k := range scores {
				for g := range 2 {
					if math.Abs(scores[k][g]-tc.scores[k][g]) > 1e-12 {
						t.Errorf("scores %v, want %v", scores, tc.scores)
					}
				}
			}
			if met["judge/agreement"] != tc.agree || met["judge/ties"] != tc.ties {
				t.Errorf("metrics %v, want agreement %v ties %v", met, tc.agree, tc.ties)
			}
			if len(seen) != 4 || seen[0].A != seen[2].B || seen[0].B != seen[2].A || seen[0].Prompt != "p0" {
				t.Errorf("comparisons asked %+v: want both orders of each duel", seen)
			}
		})
	}
}

// TestConstitutionJudge: under a constitution each duel is judged in both
// orders under one of its principles, drawn by cai.LabelPairs from the
// seed and the duel's index (so the same duel gets the same principle on a
// resumed run, and different duels draw independently).
func TestConstitutionJudge(t *testing.T) {
	con := cai.Default()
	var duels []Duel
	for i := range 12 {
		duels = append(duels, Duel{Index: i, Prompt: Prompt{Text: "q"}, C: [2]Candidate{{Text: "a"}, {Text: "bb"}}})
	}
	run := func() []judge.Comparison {
		var seen []judge.Comparison
		j := Judge{J: biasJudge{pa: func(judge.Comparison) float64 { return 0.5 }, seen: &seen}, Constitution: con, Seed: 3}
		if _, _, err := j.Rank(context.Background(), duels); err != nil {
			t.Fatal(err)
		}
		return seen
	}
	a, b := run(), run()
	crit := map[string]bool{}
	for _, p := range con.Principles {
		crit[p.Criterion()] = true
	}
	used := map[string]bool{}
	for i, c := range a {
		if !crit[c.Criterion] {
			t.Fatalf("comparison %d criterion %q is none of the constitution's", i, c.Criterion)
		}
		if c != b[i] {
			t.Fatalf("comparison %d differs between runs", i)
		}
		if i < len(duels) && (a[len(duels)+i].Criterion != c.Criterion || a[len(duels)+i].A != c.B) {
			t.Errorf("duel %d: swapped order %+v does not match %+v", i, a[len(duels)+i], c)
		}
		used[c.Criterion] = true
	}
	if len(con.Principles) > 1 && len(used) < 2 {
		t.Errorf("12 duels all drew one principle")
	}
}

// uniformModel is a model whose every weight is zero: each position's
// logits are all 0, so every token has probability 1/vocab and a
// completion of n tokens has log-probability −n·ln(vocab) — a value this
// test knows without running the code under test.
func uniformModel(t testing.TB) *model.Model {
	m := tinyModel(t)
	clear(m.Data)
	return m
}

// TestStepMetricsHand runs one step on the uniform model with the
// reference a copy of it and a reward that prefers longer completions,
// and checks every metric against values computed here from the sampled
// lengths: the loss is ln 2 with zero rewards and KL, logps/chosen is
// −ln(16)·(mean length of the longer completion), entropy ln(16)·(mean
// length), and the step's scores are the lengths.
func TestStepMetricsHand(t *testing.T) {
	m := uniformModel(t)
	ref := policy.Reference(m, false)
	ps := prompts()
	length := scoreFunc(func(ids []int32) float64 { return float64(len(ids)) })
	cfg := DefaultConfig()
	cfg.Sampling.Temperature, cfg.MaxNewTokens, cfg.Loss.Beta = 1, 6, 0.5
	o, err := New(cfg, m, ref, Rewards{F: length}, ps, []int32{eos}, 0)
	if err != nil {
		t.Fatal(err)
	}
	idx := []int{0, 1, 2, 3, 4, 5, 6, 7}
	if err := o.PrepareBatch(&train.StepContext{Step: 1, RNG: data.NewRNG(4, 0)}, idx); err != nil {
		t.Fatal(err)
	}
	m.EnableGrad()
	got := train.Metrics{}
	for _, mb := range [][]int{{3, 1, 0}, {2, 7, 6, 5, 4}} { // two micro-batches, out of order
		met, err := o.Accumulate(mb, len(idx))
		if err != nil {
			t.Fatal(err)
		}
		got.Add(met)
	}
	// The sampled lengths, read back from the step's duels.
	lnV := math.Log(vocab)
	var longer, all, eosN, margin float64
	n := float64(len(idx))
	for _, d := range o.step.duels {
		a, b := float64(len(d.C[0].Tokens)), float64(len(d.C[1].Tokens))
		longer += max(a, b) / n
		all += (a + b) / (2 * n)
		margin += math.Abs(a-b) / n
		for _, c := range d.C {
			if c.EOS {
				eosN += 1 / (2 * n)
			}
		}
	}
	if margin == 0 {
		t.Fatal("every duel sampled equal lengths: the test checks nothing about which is chosen")
	}
	want := map[string]float64{
		"loss": math.Ln2, "rewards/chosen": 0, "rewards/rejected": 0, "rewards/margins": 0, "rewards/accuracies": 0,
		"logps/chosen": -lnV * longer, "logps/rejected": -lnV * (2*all - longer),
		"objective/kl": 0, "objective/entropy": lnV * all, "objective/non_score_reward": 0,
		"objective/scores": all, "objective/scores_margin": margin, "objective/rlhf_reward": all,
		"val/contain_eos_token": eosN, "beta": 0.5,
	}
	for k, v := range want {
		g, ok := got[k]
		if !ok || math.Abs(g-v) > 1e-4*max(1, math.Abs(v)) {
			t.Errorf("%s = %v (present %v), want %v", k, g, ok, v)
		}
	}
}

// TestMissingEOSPenaltyStep: with a reward of 0 for everything, the
// penalty alone decides; every pair whose completions differ in ending
// with EOS must have chosen the one that does.
func TestMissingEOSPenaltyStep(t *testing.T) {
	m := uniformModel(t)
	zero := scoreFunc(func([]int32) float64 { return 0 })
	cfg := DefaultConfig()
	cfg.Sampling.Temperature, cfg.MaxNewTokens, cfg.MissingEOSPenalty = 1, 3, 2
	o, err := New(cfg, m, policy.Reference(m, false), Rewards{F: zero}, prompts(), []int32{eos}, 0)
	if err != nil {
		t.Fatal(err)
	}
	mixed := 0
	for step := 1; step <= 6; step++ {
		if err := o.PrepareBatch(&train.StepContext{Step: step, RNG: data.NewRNG(uint64(step), 0)}, []int{0, 1, 2, 3, 4, 5, 6, 7}); err != nil {
			t.Fatal(err)
		}
		for k, d := range o.step.duels {
			if d.C[0].EOS != d.C[1].EOS {
				mixed++
				if !d.C[o.step.chosen[k]].EOS {
					t.Errorf("step %d duel %d: chose the completion without EOS", step, k)
				}
			}
		}
	}
	if mixed == 0 {
		t.Fatal("no duel had one finished and one unfinished completion")
	}
}

// TestOnlineDPOLearns: on a tiny random model a reward for each token 3 in
// the completion rises under online DPO (β 0.1, lr 1e-2: tiny models need
// far more than TRL's 5e-7), with the full model against a frozen copy and
// with LoRA adapters against their own adapters-off base.
func TestOnlineDPOLearns(t *testing.T) {
	for _, lora := range []bool{false, true} {
		name := map[bool]string{false: "full", true: "lora"}[lora]
		t.Run(name, func(t *testing.T) {
			m := tinyModel(t)
			params := []train.ParamSet{train.ModelParams("model", m)}
			lr := 1e-2
			if lora {
				// A random model's LM head is so small (std 0.02) that the
				// normalised final hidden state cannot move its logits, and
				// adapters on the layers below could not either; a full
				// fine-tune grows the head itself. Scale the head up.
				for _, name := range []string{"embed", "lm_head.weight"} {
					if e := m.Param(name); e != nil {
						for i := e.Offset; i < e.Offset+e.Size; i++ {
							m.Data[i] *= 50
						}
					}
				}
				if err := m.AttachLoRA(model.LoRAConfig{R: 8, Alpha: 16, Targets: []string{"all-linear"}}, 1); err != nil {
					t.Fatal(err)
				}
				m.EnableGrad()
				lo := m.LoRA()
				spans := make([]optim.Span, len(lo.Params))
				for i, p := range lo.Params {
					spans[i] = optim.Span{Name: p.Name, Offset: p.Offset, Size: p.Size, Decay: p.Decay}
				}
				params = []train.ParamSet{{Name: "lora", Data: lo.Data, Grad: lo.Grad, Spans: spans}}
				lr = 1e-2
			}
			threes := scoreFunc(func(ids []int32) float64 {
				n := 0.0
				for _, id := range ids {
					if id == 3 {
						n++
					}
				}
				return n
			})
			cfg := DefaultConfig()
			cfg.Sampling.Temperature, cfg.MaxNewTokens = 1, 4
			o, err := New(cfg, m, policy.Reference(m, lora), Rewards{F: threes}, prompts(), []int32{eos}, 0)
			if err != nil {
				t.Fatal(err)
			}
			s := train.DefaultSettings()
			s.Out, s.MaxSteps, s.LR, s.BatchSize, s.LoggingSteps, s.SaveSteps = t.TempDir(), 60, lr, 8, 1, 0
			s.LRScheduler, s.GroupByLength = "constant", false
			if _, err := train.Run(context.Background(), &train.Job{Settings: s, Objective: o, Params: params, Log: io.Discard,
				Saver: train.SaverFunc(func(string) error { return nil })}); err != nil {
				t.Fatal(err)
			}
			rows := readMetrics(t, filepath.Join(s.Out, "metrics.jsonl"))
			mean := func(lo, hi int) float64 {
				v := 0.0
				for _, r := range rows[lo:hi] {
					v += r["objective/scores"] / float64(hi-lo)
				}
				return v
			}
			first, last := mean(0, 10), mean(len(rows)-10, len(rows))
			t.Logf("mean score of the first 10 steps %.3f, of the last 10 %.3f", first, last)
			if last < first+0.5 {
				t.Errorf("score went from %.3f to %.3f: online DPO did not learn", first, last)
			}
		})
	}
}

func readMetrics(t *testing.T, path string) []map[string]float64 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var rows []map[string]float64
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var r map[string]any
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatal(err)
		}
		row := map[string]float64{}
		for k, v := range r {
			if f, ok := v.(float64); ok {
				row[k] = f
			}
		}
		if _, ok := row["objective/scores"]; ok {
			rows = append(rows, row)
		}
	}
	return rows
}
