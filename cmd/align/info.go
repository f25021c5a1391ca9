package main

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	"github.com/align-go/align/checkpoint"
	"github.com/align-go/align/model"
	"github.com/spf13/cobra"
)

func init() {
	var dir string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "info --model DIR | info FILE.gguf",
		Short: "Describe a model directory (architecture, parameters, dtype, vocabulary, context) or a GGUF file (metadata, tensors)",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 || strings.HasSuffix(dir, ".gguf") {
				if len(args) == 1 && dir != "" {
					return fmt.Errorf("give either --model DIR or a GGUF file, not both")
				}
				path := dir
				if len(args) == 1 {
					path = args[0]
				}
				return ggufInfo(cmd.OutOrStdout(), path, asJSON)
			}
			if dir == "" {
				return fmt.Errorf("--model DIR or a GGUF file is required")
			}
			cfg, err := model.LoadConfig(filepath.Join(dir, "config.json"))
			if err != nil {
				return err
			}
			set, err := checkpoint.OpenDir(dir)
			if err != nil {
				return err
			}
			dtypes := map[string]int{}
			stored := 0
			for _, n := range set.Names() {
				in, _ := set.Info(n)
				dtypes[in.DType] += in.NumElements()
				stored += in.NumElements()
			}
			var dts []string
			for d := range dtypes {
				dts = append(dts, d)
			}
			sort.Strings(dts)
			arch := cfg.ModelType
			if a, ok := cfg.Raw["architectures"].([]any); ok && len(a) > 0 {
				arch = fmt.Sprint(a[0])
			}
			info := map[string]any{
				"model_type": cfg.ModelType, "architecture": arch, "parameters": cfg.NumParams(),
				"stored_elements": stored, "dtype": dts, "vocab_size": cfg.Vocab, "context_length": cfg.MaxPos,
				"layers": cfg.Layers, "hidden_size": cfg.Dim, "heads": cfg.Heads, "kv_heads": cfg.KVHeads,
				"head_dim": cfg.HeadDim, "intermediate_size": cfg.FFN, "tied_embeddings": cfg.Tied,
				"files": set.Files(),
			}
			out := cmd.OutOrStdout()
			if asJSON {
				return json.NewEncoder(out).Encode(info)
			}
			fmt.Fprintf(out, "architecture    %s (model_type %s)\n", arch, cfg.ModelType)
			fmt.Fprintf(out, "parameters      %d (%s)\n", cfg.NumParams(), humanCount(cfg.NumParams()))
			fmt.Fprintf(out, "dtype           %v\n", dts)
			fmt.Fprintf(out, "vocab           %d\n", cfg.Vocab)
			fmt.Fprintf(out, "context length  %d\n", cfg.MaxPos)
			fmt.Fprintf(out, "layers          %d, hidden %d, heads %d (kv %d, head_dim %d), ffn %d, tied head %v\n",
				cfg.Layers, cfg.Dim, cfg.Heads, cfg.KVHeads, cfg.HeadDim, cfg.FFN, cfg.Tied)
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "model", "", "HF model directory (config.json + safetensors)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object")
	rootCmd.AddCommand(cmd)
}

func humanCount(n int) string {
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.2fB", float64(n)/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.2fM", float64(n)/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%.1fK", float64(n)/1e3)
	}
	return fmt.Sprint(n)
}
