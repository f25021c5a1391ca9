package quickstart

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestRunTwiceSameTable: two runs with the same seed, side by side, print the
// same table and write the same summary.json but for wall times and paths
// (README: the same seed gives the same table), and every stage's weights
// are the same bytes. It runs the micro preset with the extra stages (every
// stage for two steps: what differs between two runs shows within the first
// steps and in the sampled evaluation); cmd/align's TestQuickstartCLI runs
// the same preset through the command and checks what it leaves.
func TestRunTwiceSameTable(t *testing.T) {
	type result struct {
		res *Result
		err error
	}
	dirs := []string{filepath.Join(t.TempDir(), "a"), filepath.Join(t.TempDir(), "b")}
	done := make(chan result, 1)
	go func() {
		r, err := Run(context.Background(), Options{Out: dirs[1], Preset: Presets["micro"], Seed: 3, Stages: ExtraStages})
		done <- result{r, err}
	}()
	first, err := Run(context.Background(), Options{Out: dirs[0], Preset: Presets["micro"], Seed: 3, Stages: ExtraStages})
	second := <-done
	if err != nil {
		t.Fatal(err)
	}
	if second.err != nil {
		t.Fatal(second.err)
	}
	table := func(res *Result, out string) string {
		rows := append([]Row(nil), res.Rows...)
		for i := range rows {
			rows[i].Took, rows[i].Where = time.Second, strings.TrimPrefix(rows[i].Where, out)
		}
		var b strings.Builder
		WriteTable(&b, rows)
		return b.String()
	}
	a, b := table(first, dirs[0]), table(second.res, dirs[1])
	t.Log("\n" + a)
	if a != b {
		t.Errorf("two runs with the same seed print different tables (wall times left out):\n%s\n---\n%s", a, b)
	}
	if len(first.Rows) != 8+len(ExtraStages) || !first.Rows[1].HasEval || first.Rows[1].Eval.Gold == 0 && first.Rows[1].Eval.Length == 0 {
		t.Fatalf("rows %+v: want %d stages with the SFT model evaluated", first.Rows, 8+len(ExtraStages))
	}
	summary := func(out string) string {
		raw, err := os.ReadFile(filepath.Join(out, "summary.json"))
		if err != nil {
			t.Fatal(err)
		}
		s := strings.ReplaceAll(string(raw), out, "OUT")
		var keep []string
		for _, l := range strings.Split(s, "\n") {
			if !strings.Contains(l, `"seconds"`) {
				keep = append(keep, l)
			}
		}
		return strings.Join(keep, "\n")
	}
	if a, b := summary(dirs[0]), summary(dirs[1]); a != b {
		t.Errorf("two runs with the same seed write different summary.json (seconds and paths left out):\n%s\n---\n%s", a, b)
	}
	for _, st := range append([]string{"base", "sft", "rm", "dpo", "ppo", "grpo", "cai/model"}, ExtraStages...) {
		a, err := os.ReadFile(filepath.Join(dirs[0], st, "model.safetensors"))
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(dirs[1], st, "model.safetensors"))
		if err != nil {
			t.Fatal(err)
		}
		if string(a) != string(b) {
			t.Errorf("%s: the two runs' weights differ", st)
		}
	}
}
