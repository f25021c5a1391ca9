package main

import (
	"fmt"
	"io"

	"github.com/align-go/align/train"
	"github.com/spf13/cobra"
)

// runTrainer is every trainer command's RunE: resolve the settings (flags over
// --config), build the job, run the loop, and say where the result is.
func runTrainer(flags *trainFlags, build func(train.Settings, io.Writer) (*train.Job, error), what string) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		s, err := flags.Resolve(args)
		if err != nil {
			return err
		}
		cfgYAML, err := flags.ConfigYAML()
		if err != nil {
			return err
		}
		job, err := build(s, cmd.ErrOrStderr())
		if err != nil {
			return err
		}
		job.ConfigYAML = cfgYAML
		res, err := train.Run(cmd.Context(), job)
		if err != nil {
			return err
		}
		fmt.Fprintf(cmd.OutOrStdout(), "trained %d steps (final loss %.4f); %s in %s\n", res.Steps, res.Loss, what, res.Out)
		return nil
	}
}
