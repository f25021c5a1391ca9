package pref

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/align-go/align/loss"
	"github.com/align-go/align/pairenc"
	"github.com/align-go/align/rewardmodel"
	"github.com/align-go/align/train"
)

// readMetrics returns metrics.jsonl's training rows and eval rows.
func readMetrics(t *testing.T, dir string) (rows, evals []map[string]float64) {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, "metrics.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var m map[string]float64
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("metrics.jsonl: %v", err)
		}
		if _, ok := m["eval_loss"]; ok {
			evals = append(evals, m)
		} else {
			rows = append(rows, m)
		}
	}
	return rows, evals
}

func runJob(t *testing.T, job *train.Job) {
	t.Helper()
	job.Log = io.Discard
	if _, err := train.Run(context.Background(), job); err != nil {
		t.Fatal(err)
	}
}

func settings(t *testing.T, steps, batch int, lr float64) train.Settings {
	s := train.DefaultSettings()
	s.Out = filepath.Join(t.TempDir(), "run")
	s.MaxSteps, s.BatchSize, s.LR = steps, batch, lr
	s.LRScheduler, s.SaveSteps, s.LoggingSteps = "constant", 0, 10
	return s
}

// TestRMLearnsPoliteness trains a reward model from a random tiny model on
// pairs that differ only in one word and checks held-out accuracy.
func TestRMLearnsPoliteness(t *testing.T) {
	for _, mt := range []string{"llama", "gpt2"} {
		t.Run(mt, func(t *testing.T) {
			tok := byteTokenizer(t)
			m := tinyModel(t, mt, 1)
			enc, err := pairenc.NewEncoder(tok, m.Cfg)
			if err != nil {
				t.Fatal(err)
			}
			trainPairs, err := enc.EncodePairs(politeSet(256, 1))
			if err != nil {
				t.Fatal(err)
			}
			evalPairs, err := enc.EncodePairs(politeSet(100, 2))
			if err != nil {
				t.Fatal(err)
			}
			rm := rewardmodel.NewRewardModel(m, testPAD, 3)
			obj, _ := NewRMObjective(rm, trainPairs, 0, 0)
			ev, _ := NewRMObjective(rm, evalPairs, 0, 0)
			s := settings(t, 30, 16, 3e-3)
			s.EvalSteps = 30
			runJob(t, &train.Job{Settings: s, Objective: obj, Eval: ev,
				Params: []train.ParamSet{train.ModelParams("model", m), HeadParams(rm)},
				Saver:  train.SaverFunc(func(string) error { return nil })})
			rows, evals := readMetrics(t, s.Out)
			last := evals[len(evals)-1]
			t.Logf("train first %v last %v; eval %v", rows[0], rows[len(rows)-1], last)
			if acc := last["eval_accuracy"]; acc < 0.9 {
				t.Errorf("held-out accuracy %.3f < 0.9", acc)
			}
			if last["eval_loss"] >= rows[0]["loss"] {
				t.Errorf("eval loss %.4f did not fall below the first training loss %.4f", last["eval_loss"], rows[0]["loss"])
			}
		})
	}
}

// TestDPOLearnsPoliteness trains a policy with DPO against its own frozen
// copy and checks that it prefers the chosen responses, with the chosen
// log-probs risen above the reference's.
func TestDPOLearnsPoliteness(t *testing.T) {
	tok := byteTokenizer(t)
	m := tinyModel(t, "llama", 1)
	enc, err := pairenc.NewEncoder(tok, m.Cfg)
	if err != nil {
		t.Fatal(err)
	}
	pairs, err := enc.EncodePairs(politeSet(128, 1))
	if err != nil {
		t.Fatal(err)
	}
	obj, err := NewDPOObjective(m, m.Clone(), loss.DPOConfig{LossType: "sigmoid", Beta: 0.1}, pairs, 0, testPAD)
	if err != nil {
		t.Fatal(err)
	}
	s := settings(t, 20, 16, 3e-3)
	runJob(t, &train.Job{Settings: s, Objective: obj, Params: []train.ParamSet{train.ModelParams("model", m)},
		Saver: train.SaverFunc(func(string) error { return nil })})
	rows, _ := readMetrics(t, s.Out)
	last := rows[len(rows)-1]
	t.Logf("first %v\nlast %v", rows[0], last)
	if last["rewards/accuracies"] < 0.9 {
		t.Errorf("rewards/accuracies %.3f < 0.9", last["rewards/accuracies"])
	}
	if last["rewards/chosen"] <= 0 {
		t.Errorf("rewards/chosen %.4f: chosen log-probs did not rise above the reference", last["rewards/chosen"])
	}
	if last["rewards/margins"] <= 0 || last["loss"] >= rows[0]["loss"] {
		t.Errorf("margins %.4f, loss %.4f -> %.4f", last["rewards/margins"], rows[0]["loss"], last["loss"])
	}
}
