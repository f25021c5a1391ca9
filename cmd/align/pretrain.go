package main

import (
	"io"

	"github.com/align-go/align/pretrain"
	"github.com/align-go/align/train"
	"github.com/spf13/cobra"
)

// pretrainOpts are pretrain's own flags (the loop's are in trainFlags).
type pretrainOpts struct {
	model, modelConfig, tokenizer string
	text, evalText                []string
	seqLen                        int
	evalFraction                  float64
	dtype                         string
}

func init() {
	var o pretrainOpts
	cmd := &cobra.Command{
		Use:   "pretrain (--model DIR | --model-config config.json --tokenizer DIR) --text FILE... --out DIR",
		Short: "Causal language modelling on raw text (continued pretraining, or from scratch)",
		Long: `Tokenises the text files (each file is one document, followed by EOS), concatenates them,
cuts the stream into --seq-len windows and trains next-token prediction; the loss is the
mean cross-entropy over every predicted token of the accumulated batch. With --model-config
the model starts from random weights (seeded by --seed). OUT ends up a HuggingFace model
directory (config.json, model.safetensors, tokenizer files) next to config.yaml,
metrics.jsonl and checkpoint-STEP/ directories.`,
	}
	def := train.DefaultSettings()
	def.LR, def.LRScheduler, def.WarmupRatio, def.WeightDecay, def.Epochs = 3e-4, "cosine", 0.05, 0.1, 1
	flags := addTrainFlags(cmd, def)
	fs := cmd.Flags()
	fs.StringVar(&o.model, "model", "", "HF model directory to continue training")
	fs.StringVar(&o.modelConfig, "model-config", "", "config.json of a model to initialise randomly")
	fs.StringVar(&o.tokenizer, "tokenizer", "", "tokenizer directory (default: --model)")
	fs.StringSliceVar(&o.text, "text", nil, "UTF-8 text files to train on (repeat the flag or separate with commas)")
	fs.StringSliceVar(&o.evalText, "eval-text", nil, "held-out text files for evaluation")
	fs.Float64Var(&o.evalFraction, "eval-fraction", 0, "hold out this fraction of the training windows for evaluation")
	fs.IntVar(&o.seqLen, "seq-len", 256, "tokens per training window")
	fs.StringVar(&o.dtype, "dtype", "F32", "dtype of the saved weights: F32, BF16 or F16")
	cmd.RunE = runTrainer(flags, o.job, "model")
	rootCmd.AddCommand(cmd)
}

func (o *pretrainOpts) job(s train.Settings, log io.Writer) (*train.Job, error) {
	return pretrain.NewJob(pretrain.Options{Model: o.model, ModelConfig: o.modelConfig, Tokenizer: o.tokenizer,
		Text: o.text, EvalText: o.evalText, SeqLen: o.seqLen, EvalFraction: o.evalFraction, DType: o.dtype}, s, log)
}
