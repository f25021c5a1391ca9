package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/align-go/align/report"
)

func init() {
	var out string
	cmd := &cobra.Command{
		Use:   "report RUN_DIR... [--out report.html]",
		Short: "One self-contained HTML page of training curves and evaluations across runs",
		Long: `Writes one HTML file (no network, charts inline as SVG) comparing runs: loss, reward, KL,
reward against KL, completion length, gradient norm, learning rate and eval loss, every run that
logged a metric overlaid in its chart, plus tables of align eval's eval.json and the quickstart's
summary.json.

Each argument is a run directory (with metrics.jsonl and/or eval.json), a directory of runs
(searched two levels deep, e.g. the quickstart's output directory), or an eval.json or
summary.json file.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				return fmt.Errorf("--out: a file name is required")
			}
			r, err := report.Load(args)
			if err != nil {
				return err
			}
			if err := r.Save(out); err != nil {
				return err
			}
			for _, w := range r.Warnings {
				fmt.Fprintln(cmd.ErrOrStderr(), "warning:", w)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s: %d run(s), %d chart(s), %d eval file(s), %d summary table(s)\n",
				out, len(r.Runs), len(r.Charts()), len(r.Evals), len(r.Summaries))
			return nil
		},
	}
	cmd.Flags().StringVar(&out, "out", "report.html", "output HTML file")
	rootCmd.AddCommand(cmd)
}
