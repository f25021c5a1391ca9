package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/align-go/align/export"
	"github.com/align-go/align/model"
	"github.com/align-go/align/tokenizer"
	"github.com/spf13/cobra"
)

func init() {
	var dir, adapter, format, typ, out, name string
	cmd := &cobra.Command{
		Use:   "export --model DIR [--adapter DIR] --format gguf --type TYPE --out FILE.gguf",
		Short: "Write a model (LoRA adapters merged) as a GGUF file for llama.cpp, Ollama and LM Studio",
		Long: "Write a model (LoRA adapters merged) as a GGUF file for llama.cpp, Ollama and LM Studio.\n" +
			"--type: f32 (exact), f16 or bf16 (half the size), q8_0 (~8.5 bits a weight),\n" +
			"q4_0 (~4.5) or q4_k_m (~4.9, llama-quantize's Q4_K_M mixture).",
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "gguf" {
				return fmt.Errorf("--format %q: only gguf is supported", format)
			}
			t, err := export.ParseGGUFType(typ)
			if err != nil {
				return err
			}
			m, err := model.LoadDir(dir)
			if err != nil {
				return err
			}
			tokDir := dir
			if adapter != "" {
				if err := m.LoadPEFT(adapter); err != nil {
					return err
				}
				m.MergeLoRA()
				if _, err := os.Stat(filepath.Join(adapter, "tokenizer.json")); err == nil {
					tokDir = adapter // a run that changed the tokenizer ships it with the adapter
				}
			}
			tok, err := tokenizer.Load(tokDir)
			if err != nil {
				return err
			}
			if name == "" {
				name = filepath.Base(strings.TrimRight(dir, "/"))
			}
			if err := export.WriteGGUF(out, m, tok, export.GGUFOptions{Type: t, Name: name}); err != nil {
				return err
			}
			st, err := os.Stat(out)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s (%s, %s, %.1f MB)\n", out, m.Cfg.ModelType, t, float64(st.Size())/1e6)
			return nil
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&dir, "model", "", "HF model directory (config.json, safetensors, tokenizer.json)")
	fs.StringVar(&adapter, "adapter", "", "PEFT adapter directory to merge first")
	fs.StringVar(&format, "format", "gguf", "output format: gguf")
	fs.StringVar(&typ, "type", "f16", "tensor type: "+strings.Join(export.GGUFTypes, ", "))
	fs.StringVar(&out, "out", "", "output file")
	fs.StringVar(&name, "name", "", "general.name (default: the model directory's name)")
	for _, f := range []string{"model", "out"} {
		cmd.MarkFlagRequired(f)
	}
	rootCmd.AddCommand(cmd)
}
