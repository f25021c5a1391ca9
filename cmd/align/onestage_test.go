package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestORPOCPOCommandsLearn trains each reference-free command for a few
// steps on the tiny model (a high learning rate: the model is tiny) and
// checks that the loss falls, the policy comes to prefer the chosen
// responses, and metrics.jsonl carries TRL's names.
func TestORPOCPOCommandsLearn(t *testing.T) {
	m, data := prefModel(t, 1), politeRows(t, 64, 1)
	for _, tc := range []struct {
		name string
		args []string
		keys []string
	}{
		{"orpo", []string{"orpo", "--beta", "0.5"}, []string{"nll_loss", "log_odds_ratio", "log_odds_chosen", "rewards/chosen", "rewards/margins", "logps/rejected"}},
		{"cpo", []string{"cpo"}, []string{"nll_loss", "rewards/chosen", "rewards/rejected", "rewards/accuracies", "logps/chosen"}},
		{"cpo simpo", []string{"cpo", "--loss", "simpo", "--beta", "2", "--cpo-alpha", "0"}, []string{"rewards/margins", "logps/chosen"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "o")
			args := append(append([]string(nil), tc.args...), "--model", m, "--data", data, "--out", out, "--save-steps", "0",
				"--max-steps", "10", "--batch-size", "16", "--lr", "3e-3", "--lr-scheduler", "constant", "--logging-steps", "5")
			if _, stderr, err := runAlign(t, "", args...); err != nil {
				t.Fatalf("%v\n%s", err, stderr)
			}
			rows, _ := trainRows(t, out)
			first, last := rows[0], rows[len(rows)-1]
			t.Logf("first %v\nlast %v", first, last)
			if !(last["loss"] < first["loss"]) || !(last["rewards/margins"] > first["rewards/margins"]) || !(last["rewards/margins"] > 0) {
				t.Errorf("loss %.4f -> %.4f, margins %.4f -> %.4f", first["loss"], last["loss"], first["rewards/margins"], last["rewards/margins"])
			}
			for _, k := range tc.keys {
				if _, ok := last[k]; !ok {
					t.Errorf("metrics.jsonl has no %q", k)
				}
			}
			if _, ok := last["nll_loss"]; ok != (tc.name != "cpo simpo") {
				t.Errorf("nll_loss present %v", ok)
			}
		})
	}
}

// TestORPOCPOCommandsResume: stopped at a checkpoint and resumed, a run
// ends with the weights of an uninterrupted one, full and with LoRA.
func TestORPOCPOCommandsResume(t *testing.T) {
	m, data := prefModel(t, 1), politeRows(t, 48, 1)
	for _, tc := range []struct {
		name string
		args []string
		file string
	}{
		{"orpo", []string{"orpo"}, "model.safetensors"},
		{"cpo lora", []string{"cpo", "--loss", "ipo", "--lora-r", "4"}, "adapter_model.safetensors"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			common := append(append([]string(nil), tc.args...), "--model", m, "--data", data, "--batch-size", "8", "--lr", "1e-3",
				"--lr-scheduler", "constant", "--save-steps", "3", "--logging-steps", "1")
			checkResumeExact(t, common, tc.file)
		})
	}
}

func TestORPOCPOCommandErrors(t *testing.T) {
	m := prefModel(t, 1)
	dir := t.TempDir()
	soft := filepath.Join(dir, "soft.jsonl")
	os.WriteFile(soft, []byte(`{"prompt":"a","chosen":"b","rejected":"c"}`+"\n"+`{"prompt":"a","chosen":"b","rejected":"c","p_chosen":0.7}`+"\n"), 0o644)
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"orpo soft", []string{"orpo", "--data", soft}, "soft.jsonl:2: p_chosen 0.7 is a soft label, which ORPO has no form for"},
		{"cpo hinge soft", []string{"cpo", "--loss", "hinge", "--data", soft}, "soft.jsonl:2: p_chosen 0.7"},
		{"cpo robust", []string{"cpo", "--loss", "robust", "--data", soft}, "--loss: loss: unknown CPO loss type"},
		{"orpo beta", []string{"orpo", "--beta", "-1", "--data", soft}, "beta"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, stderr, err := runAlign(t, "", append(tc.args, "--model", m, "--out", filepath.Join(t.TempDir(), "o"))...)
			if err == nil || !strings.Contains(err.Error()+stderr, tc.want) {
				t.Errorf("error %v %s, want %q", err, stderr, tc.want)
			}
		})
	}
}
