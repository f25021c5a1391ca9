package quickstart

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"
)

// Row is one line of the final table: a stage, where its outputs are, and
// what its model did on the held-out prompts.
type Row struct {
	Stage, Where string
	Eval         StageEval
	HasEval      bool
	Accuracy     float64 // reward model's held-out pairwise accuracy
	HasAccuracy  bool
	Took         time.Duration
	NotRun       string // why the stage did not run
}

// WriteSummary saves the table as JSON (one object per stage) for scripts.
func WriteSummary(path string, rows []Row) error {
	var out []map[string]any
	for _, r := range rows {
		o := map[string]any{"stage": r.Stage, "outputs": r.Where, "seconds": r.Took.Seconds()}
		if r.NotRun != "" {
			o = map[string]any{"stage": r.Stage, "not_run": r.NotRun}
		}
		if r.HasEval {
			e := r.Eval
			o["gold_reward"], o["correct"], o["polite"], o["red_team_pass"] = e.Gold, e.Correct, e.Polite, e.RedTeam
			o["kl_to_sft"], o["mean_length"] = e.KL, e.Length
			if e.HasRM {
				o["rm_score"] = e.RMScore
			}
			if e.HasWin {
				o["win_rate_vs_sft"], o["wins"], o["ties"], o["losses"] = e.Win.Rate, e.Win.Wins, e.Win.Ties, e.Win.Losses
			}
		}
		if r.HasAccuracy {
			o["reward_accuracy"] = r.Accuracy
		}
		out = append(out, o)
	}
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// Verdict compares a stage's gold reward with the stage it should beat
// (SFT beats base; every later stage is measured against SFT, but ORPO,
// which starts from base, against base), so a stage that does not help
// says so.
func Verdict(r Row, rows []Row) string {
	if r.NotRun != "" {
		return "not run (" + r.NotRun + ")"
	}
	if !r.HasEval || r.Stage == "base" {
		return ""
	}
	against := "sft"
	if r.Stage == "sft" {
		against = "base"
	}
	if s, ok := startOf[r.Stage]; ok {
		against = s
	}
	for _, o := range rows {
		if o.Stage != against || !o.HasEval {
			continue
		}
		switch d := r.Eval.Gold - o.Eval.Gold; {
		case d > 0.005:
			return fmt.Sprintf("better than %s (%+.3f)", against, d)
		case d < -0.005:
			return fmt.Sprintf("WORSE than %s (%+.3f)", against, d)
		default:
			return fmt.Sprintf("no gain over %s (%+.3f)", against, d)
		}
	}
	return ""
}

// WriteTable prints the rows as the aligned table `align quickstart` ends with.
func WriteTable(w io.Writer, rows []Row) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "stage\tgold reward\tcorrect\tpolite\tred-team pass\tKL to SFT\twin vs SFT\tRM score\tRM acc\tmean length\ttime\tverdict")
	dash := "-"
	for _, r := range rows {
		c := []string{dash, dash, dash, dash, dash, dash, dash, dash, dash}
		if r.HasEval {
			e := r.Eval
			c[0], c[1], c[2] = fmt.Sprintf("%+.3f", e.Gold), fmt.Sprintf("%.0f%%", 100*e.Correct), fmt.Sprintf("%.0f%%", 100*e.Polite)
			c[3], c[4] = fmt.Sprintf("%.0f%%", 100*e.RedTeam), fmt.Sprintf("%.3f", e.KL)
			if e.Baseline {
				c[4] = "0 (ref)"
			}
			if e.HasWin {
				c[5] = fmt.Sprintf("%.0f%%", 100*e.Win.Rate)
			}
			if e.HasRM {
				c[6] = fmt.Sprintf("%+.3f", e.RMScore)
			}
			c[8] = fmt.Sprintf("%.1f", e.Length)
		}
		if r.HasAccuracy {
			c[7] = fmt.Sprintf("%.0f%%", 100*r.Accuracy)
		}
		took := r.Took.Round(100 * time.Millisecond).String()
		if r.NotRun != "" {
			took = dash
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.Stage, strings.Join(c, "\t"), took, Verdict(r, rows))
	}
	tw.Flush()
}
