// Package pretrain builds causal-language-modelling jobs on raw text
// (continued pretraining, or from scratch): each file is one document
// followed by EOS, the stream is cut into windows and every token is
// predicted.
package pretrain

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/align-go/align/data"
	"github.com/align-go/align/model"
	"github.com/align-go/align/option"
	"github.com/align-go/align/tokenizer"
	"github.com/align-go/align/train"
)

// Options are a pretraining run's inputs (`align pretrain`'s flags, named in
// errors). Give Model (continue its training) or ModelConfig (a config.json
// initialised randomly from the run's seed, with Tokenizer).
type Options struct {
	Model, ModelConfig, Tokenizer string
	Text, EvalText                []string
	SeqLen                        int     // tokens per window
	EvalFraction                  float64 // hold out this fraction of the windows
	DType                         string  // saved weights: F32, BF16 or F16
}

// NewJob loads the model and tokenizer, prepares the windows and builds the
// training job.
func NewJob(o Options, s train.Settings, log io.Writer) (*train.Job, error) {
	if (o.Model == "") == (o.ModelConfig == "") {
		return nil, option.Bad("pretrain.Options.Model", "give exactly one of it (a model directory) and pretrain.Options.ModelConfig (a config.json)")
	}
	if len(o.Text) == 0 {
		return nil, option.Bad("pretrain.Options.Text", "at least one text file is required")
	}
	if err := train.CheckDType(o.DType); err != nil {
		return nil, &option.Error{Option: "pretrain.Options.DType", Err: err}
	}
	if !(o.EvalFraction >= 0 && o.EvalFraction < 1) {
		return nil, option.Bad("pretrain.Options.EvalFraction", "%v outside [0,1)", o.EvalFraction)
	}
	if o.EvalFraction > 0 && len(o.EvalText) > 0 {
		return nil, option.Bad("pretrain.Options.EvalText", "give it or pretrain.Options.EvalFraction, not both")
	}
	tokDir := o.Tokenizer
	var m *model.Model
	var err error
	if o.Model != "" {
		if m, err = model.LoadDir(o.Model); err != nil {
			return nil, err
		}
		if tokDir == "" {
			tokDir = o.Model
		}
	} else {
		if tokDir == "" {
			return nil, option.Bad("pretrain.Options.Tokenizer", "required with pretrain.Options.ModelConfig")
		}
		cfg, err := model.LoadConfig(o.ModelConfig)
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
	if o.SeqLen < 2 {
		return nil, option.Bad("pretrain.Options.SeqLen", "%d must be at least 2", o.SeqLen)
	}
	if o.SeqLen > m.Cfg.MaxPos {
		return nil, option.Bad("pretrain.Options.SeqLen", "%d exceeds the model's context of %d tokens", o.SeqLen, m.Cfg.MaxPos)
	}
	windows, ntok, err := textWindows(tok, o.Text, eos, m.Cfg.Vocab, o.SeqLen)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(log, "pretrain: %s; %d tokens from %d files -> %d windows of %d\n", m.Cfg.Describe(), ntok, len(o.Text), len(windows), o.SeqLen)
	var evalRows [][]int32
	switch {
	case len(o.EvalText) > 0:
		if evalRows, _, err = textWindows(tok, o.EvalText, eos, m.Cfg.Vocab, o.SeqLen); err != nil {
			return nil, err
		}
	case o.EvalFraction > 0:
		if windows, evalRows, err = data.Split(windows, o.EvalFraction, s.Seed); err != nil {
			return nil, option.Bad("pretrain.Options.EvalFraction", "%w", err)
		}
	}
	lm := &train.CausalLM{Model: m, PadID: int32(eos)}
	job := &train.Job{
		Settings:  s,
		Objective: &train.LMObjective{LM: lm, Rows: windows},
		Params:    []train.ParamSet{train.ModelParams("model", m)},
		Log:       log,
		Saver: train.SaverFunc(func(dir string) error {
			if err := m.SaveDir(dir, o.DType); err != nil {
				return err
			}
			return train.CopyTokenizerFiles(tokDir, o.Model, dir)
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
