package main

import (
	"io"

	"github.com/align-go/align/sft"
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
	lo, err := o.lora.lib()
	if err != nil {
		return nil, err
	}
	return sft.NewJob(sft.JobOptions{Model: o.model, Tokenizer: o.tokenizer, ChatTemplate: o.chatTemplate,
		Data: o.data, EvalData: o.evalData, Format: o.format, LossOn: sft.LossOn(o.lossOn),
		Truncation: sft.Truncation(o.truncation), MaxLength: o.maxLength, SkipBadRows: o.skipBad,
		Packing: o.packing, DType: o.dtype, LoRA: lo}, s, log)
}
