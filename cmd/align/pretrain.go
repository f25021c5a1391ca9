package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/align-go/align/data"
	"github.com/align-go/align/model"
	"github.com/align-go/align/tokenizer"
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

// job loads the model and tokenizer, prepares the windows and builds the
// training job.
func (o *pretrainOpts) job(s train.Settings, log io.Writer) (*train.Job, error) {
	if (o.model == "") == (o.modelConfig == "") {
		return nil, errors.New("give exactly one of --model DIR and --model-config config.json")
	}
	if len(o.text) == 0 {
		return nil, errors.New("--text: at least one text file is required")
	}
	if err := checkDType(o.dtype); err != nil {
		return nil, err
	}
	if !(o.evalFraction >= 0 && o.evalFraction < 1) {
		return nil, fmt.Errorf("--eval-fraction: %v outside [0,1)", o.evalFraction)
	}
	if o.evalFraction > 0 && len(o.evalText) > 0 {
		return nil, errors.New("give --eval-text or --eval-fraction, not both")
	}
	tokDir := o.tokenizer
	var m *model.Model
	var err error
	if o.model != "" {
		if m, err = model.LoadDir(o.model); err != nil {
			return nil, err
		}
		if tokDir == "" {
			tokDir = o.model
		}
	} else {
		if tokDir == "" {
			return nil, errors.New("--model-config needs --tokenizer DIR")
		}
		cfg, err := model.LoadConfig(o.modelConfig)
		if err != nil {
			return nil, err
		}
		m = model.New(cfg)
		m.InitRandom(s.Seed)
	}
	s.ConfigureModel(m)
	tok, err := tokenizer.Load(tokDir)
	if err != nil {
		return nil, err
	}
	eos := tok.EOS()
	if eos < 0 {
		eos = m.Cfg.EOS
	}
	if eos < 0 {
		if id, ok := tok.TokenID("<|endoftext|>"); ok {
			eos = id
		}
	}
	if eos < 0 {
		return nil, fmt.Errorf("%s: no EOS token (tokenizer_config.json eos_token, config.json eos_token_id or <|endoftext|>)", tokDir)
	}
	if eos >= m.Cfg.Vocab {
		return nil, fmt.Errorf("%s: EOS id %d is outside the model's vocab_size %d (tokenizer and model do not match)", tokDir, eos, m.Cfg.Vocab)
	}
	if o.seqLen < 2 {
		return nil, fmt.Errorf("--seq-len: %d must be at least 2", o.seqLen)
	}
	if o.seqLen > m.Cfg.MaxPos {
		return nil, fmt.Errorf("--seq-len: %d exceeds the model's context of %d tokens", o.seqLen, m.Cfg.MaxPos)
	}
	windows, ntok, err := textWindows(tok, o.text, eos, m.Cfg.Vocab, o.seqLen)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(log, "pretrain: %s; %d tokens from %d files -> %d windows of %d\n", m.Cfg.Describe(), ntok, len(o.text), len(windows), o.seqLen)
	var evalRows [][]int32
	switch {
	case len(o.evalText) > 0:
		if evalRows, _, err = textWindows(tok, o.evalText, eos, m.Cfg.Vocab, o.seqLen); err != nil {
			return nil, err
		}
	case o.evalFraction > 0:
		if windows, evalRows, err = data.Split(windows, o.evalFraction, s.Seed); err != nil {
			return nil, fmt.Errorf("--eval-fraction: %w", err)
		}
	}
	lm := &train.CausalLM{Model: m, PadID: int32(eos)}
	job := &train.Job{
		Settings:  s,
		Objective: &train.LMObjective{LM: lm, Rows: windows},
		Params:    []train.ParamSet{train.ModelParams("model", m)},
		Log:       log,
		Saver: train.SaverFunc(func(dir string) error {
			if err := m.SaveDir(dir, o.dtype); err != nil {
				return err
			}
			return copyTokenizerFiles(tokDir, o.model, dir)
		}),
	}
	if len(evalRows) > 0 {
		job.Eval = &train.LMObjective{LM: lm, Rows: evalRows}
	}
	return job, nil
}

// textWindows tokenises each file as one document followed by EOS,
// concatenates them and cuts the stream into windows of seqLen tokens,
// dropping the incomplete tail.
func textWindows(tok *tokenizer.Tokenizer, files []string, eos, vocab, seqLen int) ([][]int32, int, error) {
	var stream []int32
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, 0, err
		}
		for _, id := range tok.Encode(string(b)) {
			if id < 0 || id >= vocab {
				return nil, 0, fmt.Errorf("%s: token id %d is outside the model's vocab_size %d (tokenizer and model do not match)", f, id, vocab)
			}
			stream = append(stream, int32(id))
		}
		stream = append(stream, int32(eos))
	}
	n := len(stream) / seqLen
	if n == 0 {
		return nil, 0, fmt.Errorf("%s: %d tokens in all, fewer than --seq-len %d", strings.Join(files, ", "), len(stream), seqLen)
	}
	windows := make([][]int32, n)
	for i := range windows {
		windows[i] = stream[i*seqLen : (i+1)*seqLen : (i+1)*seqLen]
	}
	return windows, len(stream), nil
}

// tokenizerFiles are copied next to the weights so OUT loads as an HF directory.
var tokenizerFiles = []string{"tokenizer.json", "tokenizer_config.json", "vocab.json", "merges.txt",
	"special_tokens_map.json", "added_tokens.json", "chat_template.jinja"}

func copyTokenizerFiles(tokDir, modelDir, dst string) error {
	copyIf := func(src string) error {
		b, err := os.ReadFile(src)
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, filepath.Base(src)), b, 0o644)
	}
	for _, f := range tokenizerFiles {
		if err := copyIf(filepath.Join(tokDir, f)); err != nil {
			return err
		}
	}
	if modelDir != "" {
		return copyIf(filepath.Join(modelDir, "generation_config.json"))
	}
	return nil
}
