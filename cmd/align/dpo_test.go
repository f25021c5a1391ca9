package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/align-go/align/model"
)

func runDPO(t *testing.T, args ...string) (out string, rows []map[string]float64) {
	t.Helper()
	out = filepath.Join(t.TempDir(), "dpo")
	_, stderr, err := runAlign(t, "", append([]string{"dpo", "--out", out, "--save-steps", "0"}, args...)...)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	rows, _ = trainRows(t, out)
	return out, rows
}

// TestDPOCommandStepZero: the first logged step, computed before any
// update with the policy equal to its reference, has the sigmoid loss ln 2
// and zero rewards; under --bf16 too, where the reference (a copy of the
// policy) must compute in bf16 as the policy does for the tie to be exact.
func TestDPOCommandStepZero(t *testing.T) {
	m, data := prefModel(t, 1), politeRows(t, 32, 1)
	for _, extra := range [][]string{nil, {"--precompute-ref"}, {"--bf16"}} {
		t.Run(strings.Join(append([]string{"live"}, extra...), " "), func(t *testing.T) {
			_, rows := runDPO(t, append([]string{"--model", m, "--data", data, "--max-steps", "1", "--logging-steps", "1",
				"--batch-size", "8", "--grad-accum", "2"}, extra...)...)
			r := rows[0]
			if math.Abs(r["loss"]-math.Ln2) > 1e-6 {
				t.Errorf("step-0 loss %.12f, want ln 2 = %.12f", r["loss"], math.Ln2)
			}
			if !slices.Contains(extra, "--precompute-ref") && r["loss"] != math.Ln2 {
				t.Errorf("live reference: loss %.17g is not exactly ln 2", r["loss"])
			}
			for _, k := range []string{"rewards/chosen", "rewards/rejected", "rewards/margins"} {
				if math.Abs(r[k]) > 1e-6 {
					t.Errorf("%s = %g at step 0", k, r[k])
				}
			}
		})
	}
}

// TestDPOCommandPrecomputeRef compares a live --ref with precomputed
// reference log-probs on the first step (the reference is another model,
// so the pairs are not all ties).
func TestDPOCommandPrecomputeRef(t *testing.T) {
	m, ref, data := prefModel(t, 1), prefModel(t, 2), politeRows(t, 32, 1)
	args := []string{"--model", m, "--ref", ref, "--data", data, "--max-steps", "1", "--logging-steps", "1", "--batch-size", "8", "--lr", "1e-3"}
	_, live := runDPO(t, args...)
	_, pre := runDPO(t, append(args, "--precompute-ref")...)
	for _, k := range []string{"loss", "grad_norm", "rewards/chosen", "rewards/rejected", "rewards/accuracies", "rewards/margins", "logps/chosen", "logps/rejected"} {
		a, ok := live[0][k]
		if !ok {
			t.Errorf("no metric %q", k)
		}
		if b := pre[0][k]; math.Abs(a-b) > 1e-6*math.Max(1, math.Abs(a)) {
			t.Errorf("%s: live %.9g, precomputed %.9g", k, a, b)
		}
	}
}

// TestDPOCommandLearns trains with DPO and checks the policy prefers the
// chosen responses, with chosen log-probs above the reference's, and that
// the saved model loads.
func TestDPOCommandLearns(t *testing.T) {
	m, data := prefModel(t, 1), politeRows(t, 128, 1)
	out, rows := runDPO(t, "--model", m, "--data", data, "--max-steps", "40", "--batch-size", "16", "--lr", "3e-3",
		"--lr-scheduler", "constant", "--logging-steps", "10", "--precompute-ref")
	last := rows[len(rows)-1]
	t.Logf("first %v\nlast %v", rows[0], last)
	if last["rewards/accuracies"] < 0.9 {
		t.Errorf("rewards/accuracies %.3f < 0.9", last["rewards/accuracies"])
	}
	if last["rewards/chosen"] <= 0 || last["rewards/margins"] <= rows[0]["rewards/margins"] {
		t.Errorf("rewards/chosen %.4f, margins %.4f -> %.4f", last["rewards/chosen"], rows[0]["rewards/margins"], last["rewards/margins"])
	}
	if _, err := model.LoadDir(out); err != nil {
		t.Fatalf("saved policy: %v", err)
	}
	if _, err := os.Stat(filepath.Join(out, "tokenizer.json")); err != nil {
		t.Error("tokenizer not copied")
	}
}

// TestDPOCommandLosses runs each loss for a few steps: each must train
// (loss falls) and log TRL's metrics.
func TestDPOCommandLosses(t *testing.T) {
	m, data := prefModel(t, 1), politeRows(t, 64, 1)
	for _, tc := range []struct {
		loss  string
		extra []string
	}{
		{"sigmoid", []string{"--label-smoothing", "0.1", "--sft-weight", "0.5"}},
		{"ipo", nil},
		{"hinge", nil},
		{"robust", []string{"--label-smoothing", "0.1"}},
		{"simpo", []string{"--beta", "2", "--simpo-gamma", "0.5"}},
	} {
		t.Run(tc.loss, func(t *testing.T) {
			t.Parallel() // independent runs of one process each
			_, rows := runDPO(t, append([]string{"--model", m, "--data", data, "--loss", tc.loss, "--max-steps", "10",
				"--batch-size", "16", "--lr", "3e-3", "--lr-scheduler", "constant", "--logging-steps", "5"}, tc.extra...)...)
			first, last := rows[0], rows[len(rows)-1]
			if !(last["loss"] < first["loss"]) || !(last["rewards/margins"] > 0) {
				t.Errorf("loss %.4f -> %.4f, margins %.4f", first["loss"], last["loss"], last["rewards/margins"])
			}
			if _, ok := last["nll_loss"]; ok != (tc.loss == "sigmoid") {
				t.Errorf("nll_loss present %v", ok)
			}
		})
	}
}

// TestPrefCommandsLoRA trains both preference commands through adapters:
// DPO (reference = the base with adapters off) writes PEFT adapters, the
// reward model a plain merged classifier that align score loads. Micro-batches
// stay under 256 token rows (2 pairs, accumulated 8 times): above that the
// adapters' backward hits a tensor.Gemm bug (ragged last panel with K > 256).
func TestPrefCommandsLoRA(t *testing.T) {
	m, data := prefModel(t, 1), politeRows(t, 128, 1)
	lora := []string{"--lora-r", "8", "--lora-alpha", "16", "--lora-dropout", "0"}
	// The reward model trains in its own process beside the DPO run.
	rmOut, rmData := filepath.Join(t.TempDir(), "rm"), politeRows(t, 64, 2)
	rmDone := make(chan error, 1)
	go func() {
		_, stderr, err := runAlign(t, "", append([]string{"rm", "--model", m, "--data", data, "--eval-data", rmData,
			"--out", rmOut, "--max-steps", "10", "--batch-size", "2", "--grad-accum", "8", "--lr", "1e-2", "--lr-scheduler", "constant",
			"--logging-steps", "10", "--save-steps", "0", "--lora-dropout", "0.05"}, lora[:4]...)...)
		if err != nil {
			err = fmt.Errorf("rm: %v\n%s", err, stderr)
		}
		rmDone <- err
	}()
	out := filepath.Join(t.TempDir(), "dpo")
	_, stderr, err := runAlign(t, "", append([]string{"dpo", "--out", out, "--save-steps", "0", "--model", m, "--data", data,
		"--max-steps", "10", "--batch-size", "2", "--grad-accum", "8", "--lr", "1e-2",
		"--lr-scheduler", "constant", "--logging-steps", "1"}, lora...)...)
	if rmErr := <-rmDone; rmErr != nil {
		t.Fatal(rmErr)
	}
	if err != nil {
		t.Fatalf("dpo: %v\n%s", err, stderr)
	}
	rows, _ := trainRows(t, out)
	first, last := rows[0], rows[len(rows)-1]
	if first["loss"] != math.Ln2 {
		t.Errorf("step-0 loss %.17g with fresh adapters, want ln 2", first["loss"])
	}
	if last["rewards/accuracies"] < 0.9 || last["rewards/margins"] <= 0 {
		t.Errorf("LoRA DPO: accuracies %.3f margins %.4f", last["rewards/accuracies"], last["rewards/margins"])
	}
	for _, f := range []string{model.PEFTConfigFile, model.PEFTWeightsFile, "tokenizer.json"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Errorf("DPO OUT lacks %s", f)
		}
	}

	_, evals := trainRows(t, rmOut)
	if acc := evals[len(evals)-1]["eval_accuracy"]; acc < 0.9 {
		t.Errorf("LoRA reward model: held-out accuracy %.3f", acc)
	}
	if _, err := os.Stat(filepath.Join(rmOut, model.PEFTConfigFile)); err == nil {
		t.Error("the reward model should be saved merged, not as adapters")
	}
	in := filepath.Join(t.TempDir(), "s.jsonl")
	os.WriteFile(in, []byte(`{"prompt":"say red:","chosen":" thanks red","rejected":" whatever red"}`+"\n"), 0o644)
	stdout, stderr, err := runAlign(t, "", "score", "--model", rmOut, "--data", in)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	var r map[string]float64
	json.Unmarshal([]byte(stdout), &r)
	if !(r["reward_chosen"] > r["reward_rejected"]) {
		t.Errorf("merged LoRA reward model: %s", stdout)
	}
}

// checkResumeExact runs common (a training command with --save-steps 3)
// for 6 steps, and again for 3 steps then resumed to 6, and requires the
// two runs' file in OUT to be byte-identical. The uninterrupted run is its
// own process with its own OUT, so it runs beside the interrupted one.
func checkResumeExact(t *testing.T, common []string, file string) {
	t.Helper()
	common = slices.Clip(common) // each append below gets its own array
	full, part := filepath.Join(t.TempDir(), "full"), filepath.Join(t.TempDir(), "part")
	fullDone := make(chan error, 1)
	go func() {
		_, stderr, err := runAlign(t, "", append(common, "--out", full, "--max-steps", "6")...)
		if err != nil {
			err = fmt.Errorf("uninterrupted run: %v\n%s", err, stderr)
		}
		fullDone <- err
	}()
	_, stderr, err := runAlign(t, "", append(common, "--out", part, "--max-steps", "3")...)
	if err == nil {
		_, stderr, err = runAlign(t, "", append(common, "--out", part, "--max-steps", "6", "--resume")...)
	}
	if fullErr := <-fullDone; fullErr != nil {
		t.Fatal(fullErr)
	}
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	a, _ := os.ReadFile(filepath.Join(full, file))
	b, _ := os.ReadFile(filepath.Join(part, file))
	if len(a) == 0 || !bytes.Equal(a, b) {
		t.Errorf("resumed run's %s differs from the uninterrupted run's", file)
	}
}

// TestPrefCommandsResume: a run stopped at a checkpoint and resumed ends
// with the same weights as an uninterrupted one — the DPO reference must be
// the starting policy, not the resumed one, and the reward head must be
// restored.
func TestPrefCommandsResume(t *testing.T) {
	m, data := prefModel(t, 1), politeRows(t, 48, 1)
	for _, tc := range []struct {
		name string
		args []string
		file string
	}{
		{"dpo", []string{"dpo", "--lr", "1e-3"}, "model.safetensors"},
		{"dpo precompute", []string{"dpo", "--lr", "1e-3", "--precompute-ref"}, "model.safetensors"},
		{"rm", []string{"rm", "--lr", "1e-3"}, "model.safetensors"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			common := append(append([]string(nil), tc.args...), "--model", m, "--data", data, "--batch-size", "8",
				"--lr-scheduler", "constant", "--save-steps", "3", "--logging-steps", "1")
			checkResumeExact(t, common, tc.file)
		})
	}
}
