package quickstart

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/align-go/align/eval"
)

// TestTable pins the table's verdicts (SFT against base, later stages
// against SFT, a ±0.005 dead band), its cells and summary.json's keys on
// rows written by hand.
func TestTable(t *testing.T) {
	ev := func(gold float64) StageEval {
		return StageEval{Gold: gold, Correct: 0.5, Polite: 0.25, RedTeam: 1, KL: 0.125, Length: 12.5}
	}
	rows := []Row{
		{Stage: "base", Where: "b", Eval: ev(-0.5), HasEval: true, Took: 1500 * time.Millisecond},
		{Stage: "sft", Where: "s", Eval: StageEval{Gold: 0.25, Baseline: true, HasRM: true, RMScore: -1}, HasEval: true},
		{Stage: "rm", Where: "r", Accuracy: 0.875, HasAccuracy: true},
		{Stage: "dpo", Where: "d", Eval: ev(0.256), HasEval: true},
		{Stage: "ppo", Where: "p", Eval: ev(0.254), HasEval: true},
		{Stage: "grpo", Where: "g", Eval: ev(0.2), HasEval: true},
		{Stage: "cai", NotRun: "no judge"},
		{Stage: "orpo", Where: "o", Eval: ev(-0.4), HasEval: true},
		{Stage: "kto", Where: "k", Eval: ev(0.3), HasEval: true},
	}
	rows[3].Eval.HasWin, rows[3].Eval.Win = true, eval.WinRate{Rate: 0.75, Wins: 3, Ties: 0, Losses: 1}
	want := map[string]string{
		"base": "",
		"sft":  "better than base (+0.750)",
		"rm":   "",
		"dpo":  "better than sft (+0.006)",
		"ppo":  "no gain over sft (+0.004)",
		"grpo": "WORSE than sft (-0.050)",
		"cai":  "not run (no judge)",
		"orpo": "better than base (+0.100)", // ORPO starts from base, not SFT
		"kto":  "better than sft (+0.050)",
	}
	for _, r := range rows {
		if got := Verdict(r, rows); got != want[r.Stage] {
			t.Errorf("%s: verdict %q, want %q", r.Stage, got, want[r.Stage])
		}
	}
	var b strings.Builder
	WriteTable(&b, rows)
	lines := strings.Split(b.String(), "\n")
	for i, want := range []string{
		"stage gold reward correct polite red-team pass KL to SFT win vs SFT RM score RM acc mean length time verdict",
		"base -0.500 50% 25% 100% 0.125 - - - 12.5 1.5s",
		"sft +0.250 0% 0% 0% 0 (ref) - -1.000 - 0.0 0s better than base (+0.750)",
		"rm - - - - - - - 88% - 0s",
		"dpo +0.256 50% 25% 100% 0.125 75% - - 12.5 0s better than sft (+0.006)",
	} {
		if got := strings.Join(strings.Fields(lines[i]), " "); got != want {
			t.Errorf("table line %d:\n got %q\nwant %q", i, got, want)
		}
	}
	if got := strings.Join(strings.Fields(lines[7]), " "); got != "cai - - - - - - - - - - not run (no judge)" {
		t.Errorf("not-run line %q", got)
	}

	path := filepath.Join(t.TempDir(), "summary.json")
	if err := WriteSummary(path, rows); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var got []map[string]any
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(rows) {
		t.Fatalf("%d summary rows, want %d", len(got), len(rows))
	}
	if g := got[0]; g["gold_reward"] != -0.5 || g["seconds"] != 1.5 || g["outputs"] != "b" || g["rm_score"] != nil {
		t.Errorf("base summary %v", g)
	}
	if g := got[2]; g["reward_accuracy"] != 0.875 || g["gold_reward"] != nil {
		t.Errorf("rm summary %v", g)
	}
	if g := got[3]; g["win_rate_vs_sft"] != 0.75 || g["wins"] != 3.0 || g["losses"] != 1.0 {
		t.Errorf("dpo summary %v", g)
	}
	if g := got[6]; len(g) != 2 || g["not_run"] != "no judge" {
		t.Errorf("not-run summary %v", g)
	}
}
