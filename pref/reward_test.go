package pref

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/align-go/align/checkpoint"
	"github.com/align-go/align/model"
	"github.com/align-go/align/rewardmodel"
)

// refReward scores one sequence alone (no padding, no mask) with the
// reward read at its final position, computing Head·h in the test.
func refReward(t *testing.T, rm *rewardmodel.RewardModel, ids []int32) float64 {
	t.Helper()
	_, h, err := rm.Model.Forward(model.Batch{B: 1, T: len(ids), IDs: ids}, false)
	if err != nil {
		t.Fatal(err)
	}
	C := rm.Model.Cfg.Dim
	last := h[(len(ids)-1)*C:]
	s := 0.0
	for j := 0; j < C; j++ {
		s += float64(rm.Head[j]) * float64(last[j])
	}
	return s
}

// padded lays rows out left- or right-padded with pad, always with a mask.
func padded(rows [][]int32, pad int32, left bool) model.Batch {
	T := 0
	for _, r := range rows {
		T = max(T, len(r))
	}
	b := model.Batch{B: len(rows), T: T, IDs: make([]int32, len(rows)*T), Mask: make([]int32, len(rows)*T)}
	for i, r := range rows {
		off := 0
		if left {
			off = T - len(r)
		}
		for t := 0; t < T; t++ {
			b.IDs[i*T+t] = pad
		}
		for t, id := range r {
			b.IDs[i*T+off+t] = id
			b.Mask[i*T+off+t] = 1
		}
	}
	return b
}

// TestRewardAtLastRealToken checks that the reward is read at each row's
// last real token whatever the padding side, and that padding (its id)
// cannot move it.
func TestRewardAtLastRealToken(t *testing.T) {
	for _, mt := range []string{"llama", "gpt2"} {
		t.Run(mt, func(t *testing.T) {
			rm := rewardmodel.NewRewardModel(tinyModel(t, mt, 4), testPAD, 5)
			rows := [][]int32{cat(bytesOf("short"), []int32{testEOS}), cat(bytesOf("a longer one"), []int32{testEOS}), bytesOf("mid size")}
			want := make([]float64, len(rows))
			for i, r := range rows {
				want[i] = refReward(t, rm, r)
			}
			for _, tc := range []struct {
				name string
				left bool
				pad  int32
			}{{"right pad", false, testPAD}, {"right other pad id", false, 'z'}, {"left pad", true, testPAD}, {"left other pad id", true, testEOS}} {
				got, err := rm.ForwardBatch(padded(rows, tc.pad, tc.left))
				if err != nil {
					t.Fatal(err)
				}
				for i := range rows {
					if math.Abs(got[i]-want[i]) > 1e-5*math.Max(1, math.Abs(want[i])) {
						t.Errorf("%s: row %d reward %.7f, alone %.7f", tc.name, i, got[i], want[i])
					}
				}
			}
			// Forward pads on the right itself.
			got, err := rm.Forward(rows)
			if err != nil {
				t.Fatal(err)
			}
			for i := range rows {
				if math.Abs(got[i]-want[i]) > 1e-5*math.Max(1, math.Abs(want[i])) {
					t.Errorf("Forward: row %d reward %.7f, alone %.7f", i, got[i], want[i])
				}
			}
			// Changing a pad token's id leaves every reward bit-identical.
			a, _ := rm.ForwardBatch(padded(rows, testPAD, false))
			b, _ := rm.ForwardBatch(padded(rows, 'q', false))
			if !slices.Equal(a, b) {
				t.Errorf("pad id changed rewards: %v vs %v", a, b)
			}
		})
	}
}

func TestHeadInit(t *testing.T) {
	const C = 4095
	rm := &rewardmodel.RewardModel{Head: make([]float32, C)}
	rm.InitHead(9)
	var s, s2 float64
	for _, v := range rm.Head {
		s += float64(v)
		s2 += float64(v) * float64(v)
	}
	mean, std := s/C, math.Sqrt(s2/C-(s/C)*(s/C))
	if want := 1 / math.Sqrt(C+1); math.Abs(std-want) > 0.05*want || math.Abs(mean) > 4*want/math.Sqrt(C) {
		t.Fatalf("head init mean %.5f std %.5f, want 0 and %.5f", mean, std, want)
	}
	again := &rewardmodel.RewardModel{Head: make([]float32, C)}
	again.InitHead(9)
	if !slices.Equal(rm.Head, again.Head) {
		t.Fatal("the head initialisation is not a function of the seed")
	}
}

// TestRewardModelSaveLoad checks the HF sequence-classification layout and
// that a reloaded model scores identically.
func TestRewardModelSaveLoad(t *testing.T) {
	for _, tc := range []struct{ mt, arch, embed string }{
		{"gpt2", "GPT2ForSequenceClassification", "transformer.wte.weight"},
		{"llama", "LlamaForSequenceClassification", "model.embed_tokens.weight"},
		{"qwen2", "Qwen2ForSequenceClassification", "model.embed_tokens.weight"},
	} {
		t.Run(tc.mt, func(t *testing.T) {
			rm := rewardmodel.NewRewardModel(tinyModel(t, tc.mt, 2), testPAD, 3)
			dir := t.TempDir()
			if err := rm.Save(dir, "F32"); err != nil {
				t.Fatal(err)
			}
			if err := byteTokenizer(t).Save(dir); err != nil {
				t.Fatal(err)
			}
			var cfg map[string]any
			b, _ := os.ReadFile(filepath.Join(dir, "config.json"))
			if err := json.Unmarshal(b, &cfg); err != nil {
				t.Fatal(err)
			}
			if a, _ := cfg["architectures"].([]any); len(a) != 1 || a[0] != tc.arch {
				t.Errorf("architectures %v, want [%s]", cfg["architectures"], tc.arch)
			}
			if cfg["num_labels"] != 1.0 || cfg["pad_token_id"] != float64(testPAD) || cfg["model_type"] != tc.mt {
				t.Errorf("config: num_labels %v pad_token_id %v model_type %v", cfg["num_labels"], cfg["pad_token_id"], cfg["model_type"])
			}
			set, err := checkpoint.OpenDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			names := set.Names()
			sort.Strings(names)
			info, ok := set.Info(rewardmodel.ScoreTensor)
			if !ok || !slices.Equal(info.Shape, []int{1, 32}) {
				t.Errorf("score.weight: %v %+v", ok, info)
			}
			if _, ok := set.Info(tc.embed); !ok {
				t.Errorf("no %s among %v", tc.embed, names)
			}
			sc, err := rewardmodel.LoadScorer(dir, "")
			if err != nil {
				t.Fatal(err)
			}
			prompts, responses := []string{"say cat:", "say dog dog:", "x"}, []string{" thanks", " whatever cat", " y"}
			ref := &rewardmodel.Scorer{RM: rm, Enc: sc.Enc, BatchSize: 1}
			want, err := ref.Score(prompts, responses)
			if err != nil {
				t.Fatal(err)
			}
			got, err := sc.Score(prompts, responses)
			if err != nil {
				t.Fatal(err)
			}
			for i := range want {
				if math.Abs(got[i]-want[i]) > 1e-6*math.Max(1, math.Abs(want[i])) {
					t.Errorf("response %d: reloaded reward %.7f, original %.7f", i, got[i], want[i])
				}
			}
			if !slices.Equal(sc.RM.Head, rm.Head) || sc.RM.Pad != testPAD {
				t.Errorf("reloaded head or pad differ (pad %d)", sc.RM.Pad)
			}
		})
	}
}

func TestLoadRewardModelErrors(t *testing.T) {
	m := tinyModel(t, "llama", 2)
	lm := t.TempDir()
	if err := m.SaveDir(lm, "F32"); err != nil {
		t.Fatal(err)
	}
	rm, hasHead, err := rewardmodel.LoadRewardModel(lm)
	if err != nil || hasHead || len(rm.Head) != 32 {
		t.Fatalf("causal LM: head %v, %v", hasHead, err)
	}
	if _, err := rewardmodel.LoadScorer(lm, ""); err == nil || !strings.Contains(err.Error(), "not a reward model") {
		t.Fatalf("scoring with a causal LM: %v", err)
	}
	two := t.TempDir()
	if err := m.SaveDirWith(two, "F32", []model.NamedTensor{{Name: rewardmodel.ScoreTensor, Shape: []int{2, 32}, Data: make([]float32, 64)}}, nil); err != nil {
		t.Fatal(err)
	}
	if _, _, err := rewardmodel.LoadRewardModel(two); err == nil || !strings.Contains(err.Error(), "2 labels") {
		t.Fatalf("two-label classifier: %v", err)
	}
}
