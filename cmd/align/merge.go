package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/align-go/align/model"
	"github.com/align-go/align/train"
	"github.com/spf13/cobra"
)

func init() {
	var base, adapter, out, dtype string
	cmd := &cobra.Command{
		Use:   "merge --base DIR --adapter DIR --out DIR",
		Short: "Fold PEFT LoRA adapters into their base model and write a plain HF model",
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := train.CheckDType(dtype); err != nil {
				return fmt.Errorf("--dtype: %w", err)
			}
			m, err := model.LoadDir(base)
			if err != nil {
				return err
			}
			if err := m.LoadPEFT(adapter); err != nil {
				return err
			}
			names := m.LoRA().AdapterNames()
			m.MergeLoRA()
			if err := m.SaveDir(out, dtype); err != nil {
				return err
			}
			tokDir := base // a run that changed the tokenizer ships it with the adapter
			if _, err := os.Stat(filepath.Join(adapter, "tokenizer.json")); err == nil {
				tokDir = adapter
			}
			if err := train.CopyTokenizerFiles(tokDir, base, out); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "merged %d adapters into %s; wrote %s\n", len(names), base, out)
			return nil
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&base, "base", "", "base HF model directory")
	fs.StringVar(&adapter, "adapter", "", "PEFT adapter directory (adapter_config.json, adapter_model.safetensors)")
	fs.StringVar(&out, "out", "", "directory for the merged model")
	fs.StringVar(&dtype, "dtype", "F32", "dtype of the saved weights: F32, BF16 or F16")
	for _, f := range []string{"base", "adapter", "out"} {
		cmd.MarkFlagRequired(f)
	}
	rootCmd.AddCommand(cmd)
}
