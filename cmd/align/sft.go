package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sort"

	"github.com/align-go/align/data"
	"github.com/align-go/align/sft"
	"github.com/align-go/align/tokenizer"
	"github.com/align-go/align/train"
	"github.com/spf13/cobra"
)

type sftOpts struct {
	model, tokenizer, chatTemplate string
	data, evalData                 []string
	format, lossOn, truncation     string
	maxLength                      int
	skipBad, packing               bool
	dtype                          string
	lora                           *loraFlags
}

func init() {
	var o sftOpts
	cmd := &cobra.Command{
		Use:   "sft --model DIR --data FILE --out DIR",
		Short: "Supervised fine-tuning on demonstrations (loss on completion / assistant tokens)",
		Long: `Fine-tunes a causal LM on (prompt, response) demonstrations. Each file's format is detected
from its rows ({"prompt","completion"}, {"messages"}, ShareGPT {"conversations"}, Alpaca
{"instruction","input","output"}, {"text"}; JSONL, JSON or Parquet) unless --format says.
Conversations are rendered with the model's chat template (ChatML when it has none). By
default only completion / assistant tokens carry loss, including the end-of-turn or EOS
token that closes each response. --packing packs whole sequences into rows of --max-length
with attention and positions confined to each sequence, so the loss is unchanged and only the
padding goes. OUT ends up an HF model directory (or PEFT adapters with --lora-r) next to
config.yaml, metrics.jsonl and checkpoints.`,
	}
	def := train.DefaultSettings()
	def.LR, def.Epochs, def.LRScheduler, def.WarmupRatio = 2e-5, 3, "linear", 0
	flags := addTrainFlags(cmd, def)
	fs := cmd.Flags()
	fs.StringVar(&o.model, "model", "", "HF model directory to fine-tune")
	fs.StringVar(&o.tokenizer, "tokenizer", "", "tokenizer directory (default: --model)")
	fs.StringVar(&o.chatTemplate, "chat-template", "", "Jinja chat template file to use instead of the tokenizer's")
	fs.StringSliceVar(&o.data, "data", nil, "training data files (JSONL, JSON or Parquet)")
	fs.StringSliceVar(&o.evalData, "eval-data", nil, "held-out data files evaluated every --eval-steps")
	fs.StringVar(&o.format, "format", "", "row format: prompt_completion, messages, sharegpt, alpaca, text (default: detect)")
	fs.StringVar(&o.lossOn, "loss-on", "completion", "tokens with loss: completion (completions and assistant turns), assistant, all")
	fs.IntVar(&o.maxLength, "max-length", 1024, "longest sequence in tokens (0: the model's context)")
	fs.StringVar(&o.truncation, "truncation", "right", "rows longer than --max-length: right (keep the start), left (keep the end), skip")
	fs.BoolVar(&o.skipBad, "skip-bad-rows", false, "skip malformed rows (counted and reported) instead of stopping at the first")
	fs.BoolVar(&o.packing, "packing", false, "pack whole sequences into rows of --max-length (first-fit decreasing); attention and positions stay within each sequence, --batch-size counts packed rows")
	fs.StringVar(&o.dtype, "dtype", "F32", "dtype of the saved weights: F32, BF16 or F16")
	o.lora = addLoRAFlags(fs)
	cmd.RunE = runTrainer(flags, o.job, "model")
	rootCmd.AddCommand(cmd)
}

func (o *sftOpts) job(s train.Settings, log io.Writer) (*train.Job, error) {
	if o.model == "" {
		return nil, errors.New("--model is required")
	}
	if len(o.data) == 0 {
		return nil, errors.New("--data: at least one data file is required")
	}
	switch sft.LossOn(o.lossOn) {
	case sft.LossCompletion, sft.LossAssistant, sft.LossAll:
	default:
		return nil, fmt.Errorf("--loss-on: %q (want completion, assistant or all)", o.lossOn)
	}
	if err := checkDType(o.dtype); err != nil {
		return nil, err
	}
	switch sft.Truncation(o.truncation) {
	case sft.TruncateRight, sft.TruncateLeft, sft.TruncateSkip:
	default:
		return nil, fmt.Errorf("--truncation: %q (want right, left or skip)", o.truncation)
	}
	m, err := o.lora.loadBase(o.model)
	if err != nil {
		return nil, err
	}
	s.ConfigureModel(m)
	tokDir := o.tokenizer
	if tokDir == "" {
		tokDir = o.model
	}
	tok, err := tokenizer.Load(tokDir)
	if err != nil {
		return nil, err
	}
	if o.chatTemplate != "" {
		b, err := os.ReadFile(o.chatTemplate)
		if err != nil {
			return nil, err
		}
		tok.SetChatTemplate(string(b))
	}
	maxLen := o.maxLength
	if maxLen <= 0 || maxLen > m.Cfg.MaxPos {
		maxLen = m.Cfg.MaxPos
	}
	topt := sft.Options{LossOn: sft.LossOn(o.lossOn), MaxLength: maxLen, Truncation: sft.Truncation(o.truncation)}
	rows, labels, err := o.load(o.data, tok, topt, m.Cfg.Vocab, log)
	if err != nil {
		return nil, err
	}
	params, err := o.lora.params(m, s.Seed)
	if err != nil {
		return nil, err
	}
	pad := int32(max(tok.PAD(), tok.EOS(), 0))
	lm := &train.CausalLM{Model: m, PadID: pad}
	obj, err := o.objective(lm, rows, labels, maxLen, "train", log)
	if err != nil {
		return nil, err
	}
	job := o.lora.job(s, log, m, obj, params, o.model, o.dtype, tokDir)
	if len(o.evalData) > 0 {
		erows, elabels, err := o.load(o.evalData, tok, topt, m.Cfg.Vocab, log)
		if err != nil {
			return nil, err
		}
		if job.Eval, err = o.objective(lm, erows, elabels, maxLen, "eval", log); err != nil {
			return nil, err
		}
	}
	return job, nil
}

// objective is the LM objective over the tokenised rows, packed with
// --packing. Packing changes neither the loss (a mean over trained tokens,
// each document scored as if alone) nor what a token sees; only how many
// documents share a row.
func (o *sftOpts) objective(lm *train.CausalLM, rows, labels [][]int32, maxLen int, what string, log io.Writer) (*train.LMObjective, error) {
	if !o.packing {
		return &train.LMObjective{LM: lm, Rows: rows, Labels: labels}, nil
	}
	p, err := train.Pack(rows, labels, maxLen)
	if err != nil {
		return nil, fmt.Errorf("--packing: %w", err)
	}
	fmt.Fprintf(log, "sft: packed %d %s sequences (%d tokens) into %d rows of %d: packing efficiency %.1f%%\n",
		len(rows), what, p.Tokens, len(p.Rows), maxLen, 100*p.Efficiency())
	return &train.LMObjective{LM: lm, Rows: p.Rows, Labels: p.Labels, Segs: p.Segs}, nil
}

// load reads, validates and tokenises files into rows and HF-style labels
// (the token where trained, -1 elsewhere), reporting everything skipped.
func (o *sftOpts) load(files []string, tok *tokenizer.Tokenizer, topt sft.Options, vocab int, log io.Writer) ([][]int32, [][]int32, error) {
	var rows, labels [][]int32
	for _, f := range files {
		exs, rep, err := data.ReadSFT(f, data.Options{Format: data.Format(o.format), SkipBadRows: o.skipBad})
		if err != nil {
			return nil, nil, err
		}
		if rep.Skipped > 0 {
			fmt.Fprintf(log, "sft: %s: skipped %d bad rows of %d:\n", f, rep.Skipped, rep.Rows+rep.Skipped)
			printReasons(log, rep.Reasons)
		}
		seqs, st, reasons, err := sft.TokenizeAll(tok, exs, topt, o.skipBad)
		if err != nil {
			return nil, nil, err
		}
		fmt.Fprintf(log, "sft: %s: %d rows (%s), %d truncated to %d tokens, %d skipped\n",
			f, len(seqs), rep.Format, st.Truncated, topt.MaxLength, st.Skipped)
		for i, r := range reasons {
			if i == 5 {
				fmt.Fprintf(log, "  ... and %d more\n", len(reasons)-5)
				break
			}
			fmt.Fprintf(log, "  skipped: %s\n", r)
		}
		for _, sq := range seqs {
			lab := make([]int32, len(sq.IDs))
			for i, id := range sq.IDs {
				if int(id) >= vocab {
					return nil, nil, fmt.Errorf("%s: token id %d is outside the model's vocab_size %d (tokenizer and model do not match)", sq.Loc, id, vocab)
				}
				lab[i] = -1
				if sq.Mask[i] {
					lab[i] = id
				}
			}
			rows = append(rows, sq.IDs)
			labels = append(labels, lab)
		}
	}
	if len(rows) == 0 {
		return nil, nil, fmt.Errorf("%v: no trainable rows", files)
	}
	return rows, labels, nil
}

func printReasons(w io.Writer, reasons map[string]int) {
	keys := make([]string, 0, len(reasons))
	for k := range reasons {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return reasons[keys[i]] > reasons[keys[j]] })
	for _, k := range keys {
		fmt.Fprintf(w, "  %6d  %s\n", reasons[k], k)
	}
}
