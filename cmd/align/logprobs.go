package main

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/align-go/align/policy"
	"github.com/align-go/align/tokenizer"
	"github.com/spf13/cobra"
)

func init() {
	var dir, text, idList string
	var asJSON, addSpecial bool
	var load *loadFlags
	cmd := &cobra.Command{
		Use:   "logprobs --model DIR (--text STR | --ids 1,2,3) [--json]",
		Short: "Per-token log-probabilities: logprobs[i] = log p(ids[i+1] | ids[0..i])",
		RunE: func(cmd *cobra.Command, args []string) error {
			if (text == "") == (idList == "") {
				return fmt.Errorf("give exactly one of --text and --ids")
			}
			m, err := load.load(dir, true)
			if err != nil {
				return err
			}
			var tok *tokenizer.Tokenizer
			var ids []int32
			if idList != "" {
				for i, f := range strings.Split(idList, ",") {
					v, err := strconv.Atoi(strings.TrimSpace(f))
					if err != nil {
						return fmt.Errorf("--ids: item %d: %q is not an integer", i+1, f)
					}
					ids = append(ids, int32(v))
				}
			} else {
				if tok, err = tokenizer.Load(dir); err != nil {
					return err
				}
				for _, id := range tok.EncodeWith(text, tokenizer.EncodeOptions{AddSpecialTokens: addSpecial}) {
					ids = append(ids, int32(id))
				}
			}
			if len(ids) == 0 {
				return fmt.Errorf("no tokens to score")
			}
			lps, err := policy.SequenceLogprobs(m, ids)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				return json.NewEncoder(out).Encode(struct {
					IDs      []int32   `json:"ids"`
					Logprobs []float64 `json:"logprobs"`
				}{ids, lps})
			}
			var sum float64
			fmt.Fprintf(out, "%6s %8s  %-20s %s\n", "pos", "id", "token", "logprob")
			for i, id := range ids {
				piece := ""
				if tok != nil {
					piece = strconv.Quote(tok.Decode([]int{int(id)}))
				}
				if i == 0 {
					fmt.Fprintf(out, "%6d %8d  %-20s %s\n", i, id, piece, "-")
					continue
				}
				sum += lps[i-1]
				fmt.Fprintf(out, "%6d %8d  %-20s %.6f\n", i, id, piece, lps[i-1])
			}
			if n := len(lps); n > 0 {
				fmt.Fprintf(out, "total %.6f over %d tokens, perplexity %.4f\n", sum, n, math.Exp(-sum/float64(n)))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "model", "", "HF model directory")
	cmd.Flags().StringVar(&text, "text", "", "text to tokenize and score")
	cmd.Flags().StringVar(&idList, "ids", "", "comma-separated token ids to score")
	cmd.Flags().BoolVar(&asJSON, "json", false, `print {"ids":[...],"logprobs":[...]}`)
	cmd.Flags().BoolVar(&addSpecial, "add-special-tokens", false, "add the tokenizer's special tokens (e.g. BOS)")
	load = addLoadFlags(cmd.Flags())
	cmd.MarkFlagRequired("model")
	rootCmd.AddCommand(cmd)
}
