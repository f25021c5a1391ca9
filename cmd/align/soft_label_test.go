package main

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// softRows is a tiny pairs file with soft labels: the second pair is
// written the wrong way round and flipped back by p_chosen 0.
const softRows = `{"prompt":"say red:","chosen":" thanks red","rejected":" whatever red"}
{"prompt":"say cat dog:","chosen":" whatever cat","rejected":" thanks cat","p_chosen":0}
{"prompt":"say sun:","chosen":" thanks sun tree","rejected":" whatever sun tree","p_chosen":0.75}
{"prompt":"say map:","chosen":" pen thanks","rejected":" pen whatever","p_chosen":0.5}
`

// TestRMCommandSoftLabel checks the logged step-0 reward-model loss against
// the value computed here from the scores of the model it starts from (a
// run with --lr 0 saves that model again, and align score reads it back):
// mean over pairs of −p·log σ(c − r) − (1−p)·log σ(r − c). The start is a
// reward model trained a little on hard labels, so that chosen and rejected
// score far enough apart for ignoring p_chosen to show in the loss.
func TestRMCommandSoftLabel(t *testing.T) {
	start := filepath.Join(t.TempDir(), "start")
	if _, stderr, err := runAlign(t, "", "rm", "--model", prefModel(t, 1), "--data", politeRows(t, 64, 3), "--out", start,
		"--max-steps", "20", "--batch-size", "16", "--lr", "3e-3", "--lr-scheduler", "constant", "--save-steps", "0"); err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	data := filepath.Join(t.TempDir(), "soft.jsonl")
	if err := os.WriteFile(data, []byte(softRows), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "rm")
	if _, stderr, err := runAlign(t, "", "rm", "--model", start, "--data", data, "--out", out, "--max-steps", "1", "--batch-size", "4",
		"--lr", "0", "--logging-steps", "1", "--save-steps", "0"); err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	rows, _ := trainRows(t, out)
	stdout, stderr, err := runAlign(t, "", "score", "--model", out, "--data", data)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	logSig := func(x float64) float64 { return -math.Log1p(math.Exp(-x)) }
	p := []float64{1, 0, 0.75, 0.5}
	var soft, hard, acc float64
	for i, line := range strings.Split(strings.TrimSpace(stdout), "\n") {
		var r struct {
			C float64 `json:"reward_chosen"`
			R float64 `json:"reward_rejected"`
		}
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatal(err)
		}
		d := r.C - r.R
		soft += (-p[i]*logSig(d) - (1-p[i])*logSig(-d)) / 4
		hard += -logSig(d) / 4
		switch {
		case p[i] == 0.5:
			acc += 0.5 / 4
		case (p[i] > 0.5) == (d > 0):
			acc += 1. / 4
		}
	}
	got := rows[0]["loss"]
	t.Logf("logged loss %.7f; soft labels %.7f; labels ignored %.7f", got, soft, hard)
	if math.Abs(got-soft) > 1e-5 {
		t.Errorf("step-0 loss %.7f, want %.7f from the scores", got, soft)
	}
	if math.Abs(hard-soft) < 0.05 {
		t.Fatalf("the check cannot tell the labels apart: %.7f vs %.7f", hard, soft)
	}
	if math.Abs(rows[0]["accuracy"]-acc) > 1e-12 {
		t.Errorf("accuracy %v, want %v", rows[0]["accuracy"], acc)
	}
}

// TestDPOCommandSoftLabel trains on the polite pairs and on the same pairs
// written the other way round with p_chosen 0 on every row. The second run
// must say the same thing: equal losses and accuracies at every step, and
// margins of the opposite sign, the chosen column now losing after the
// first update.
func TestDPOCommandSoftLabel(t *testing.T) {
	m, data := prefModel(t, 1), politeRows(t, 32, 1)
	b, err := os.ReadFile(data)
	if err != nil {
		t.Fatal(err)
	}
	var flipped strings.Builder
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var r map[string]any
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatal(err)
		}
		r["chosen"], r["rejected"], r["p_chosen"] = r["rejected"], r["chosen"], 0
		row, _ := json.Marshal(r)
		flipped.Write(row)
		flipped.WriteByte('\n')
	}
	flip := filepath.Join(t.TempDir(), "flipped.jsonl")
	if err := os.WriteFile(flip, []byte(flipped.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"--model", m, "--max-steps", "4", "--logging-steps", "1", "--batch-size", "8", "--lr", "3e-3",
		"--lr-scheduler", "constant", "--precompute-ref"}
	_, a := runDPO(t, append(args, "--data", data)...)
	_, f := runDPO(t, append(args, "--data", flip)...)
	if len(a) != 4 || len(f) != 4 {
		t.Fatalf("%d and %d metric rows", len(a), len(f))
	}
	for s := range a {
		for _, k := range []string{"loss", "grad_norm", "rewards/accuracies"} {
			if math.Abs(a[s][k]-f[s][k]) > 1e-5*math.Max(1, math.Abs(a[s][k])) {
				t.Errorf("step %d: %s %.8g, flipped with p_chosen 0: %.8g", s+1, k, a[s][k], f[s][k])
			}
		}
		if math.Abs(a[s]["rewards/margins"]+f[s]["rewards/margins"]) > 1e-5 {
			t.Errorf("step %d: margins %.8g and %.8g are not opposite", s+1, a[s]["rewards/margins"], f[s]["rewards/margins"])
		}
	}
	if !(f[1]["rewards/margins"] < 0) || !(f[3]["rewards/margins"] < f[1]["rewards/margins"]) {
		t.Errorf("with p_chosen 0 the margin should fall below 0 and keep falling: %v", []float64{f[0]["rewards/margins"],
			f[1]["rewards/margins"], f[2]["rewards/margins"], f[3]["rewards/margins"]})
	}
}

// TestDPOCommandSoftLabelErrors: a loss without a soft-label form refuses
// soft rows, naming the row; a bad p_chosen is a row error.
func TestDPOCommandSoftLabelErrors(t *testing.T) {
	m := prefModel(t, 1)
	dir := t.TempDir()
	soft := filepath.Join(dir, "soft.jsonl")
	os.WriteFile(soft, []byte(softRows), 0o644)
	bad := filepath.Join(dir, "bad.jsonl")
	os.WriteFile(bad, []byte(`{"prompt":"p","chosen":"a","rejected":"b","p_chosen":1.5}`+"\n"), 0o644)
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"hinge", []string{"dpo", "--loss", "hinge", "--data", soft}, "soft.jsonl:2: p_chosen 0 is a soft label, which the hinge loss has no form for"},
		{"simpo", []string{"dpo", "--loss", "simpo", "--beta", "2", "--data", soft}, "simpo loss has no form"},
		{"dpo out of range", []string{"dpo", "--data", bad}, `bad.jsonl:1: field "p_chosen": 1.5 is outside [0, 1]`},
		{"rm out of range", []string{"rm", "--data", bad}, `bad.jsonl:1: field "p_chosen": 1.5 is outside [0, 1]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, stderr, err := runAlign(t, "", append(tc.args, "--model", m, "--out", filepath.Join(t.TempDir(), "o"))...)
			if err == nil || !strings.Contains(stderr, tc.want) {
				t.Fatalf("err %v, stderr %q; want it to mention %q", err, stderr, tc.want)
			}
		})
	}
}
