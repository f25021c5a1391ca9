// Command align is the command-line front end of the Align toolkit. Each
// subcommand lives in its own file and registers itself on rootCmd in init.
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

var rootCmd = &cobra.Command{
	Use:           "align",
	Short:         "Align language models: SFT, reward models, DPO, PPO, GRPO, Constitutional AI, judges, serving, evaluation",
	SilenceUsage:  true,
	SilenceErrors: true,
}

func main() {
	if err := rootCmd.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "align:", flagError(err))
		os.Exit(1)
	}
}
