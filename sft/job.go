package sft

import (
	"fmt"
	"io"
	"os"
	"sort"

	"github.com/align-go/align/data"
	"github.com/align-go/align/option"
	"github.com/align-go/align/tokenizer"
	"github.com/align-go/align/train"
)

// JobOptions are an SFT run's inputs (`align sft`'s flags, named in errors).
type JobOptions struct {
	Model, Tokenizer, ChatTemplate string // Tokenizer defaults to Model; ChatTemplate is a Jinja file
	Data, EvalData                 []string
	Format                         string // data.Format; "" detects
	LossOn                         LossOn
	Truncation                     Truncation
	MaxLength                      int // 0 or beyond the model's context: the context
	SkipBadRows, Packing           bool
	DType                          string // saved weights: F32, BF16 or F16
	LoRA                           train.LoRA
}

// NewJob loads the model and data and builds the training job: the LM
// objective over the completion / assistant tokens (packed with Packing).
func NewJob(o JobOptions, s train.Settings, log io.Writer) (*train.Job, error) {
	if o.Model == "" {
		return nil, option.Bad("sft.JobOptions.Model", "a model directory is required")
	}
	if len(o.Data) == 0 {
		return nil, option.Bad("sft.JobOptions.Data", "at least one data file is required")
	}
	switch o.LossOn {
	case LossCompletion, LossAssistant, LossAll:
	default:
		return nil, option.Bad("sft.JobOptions.LossOn", "%q (want completion, assistant or all)", o.LossOn)
	}
	if err := train.CheckDType(o.DType); err != nil {
		return nil, &option.Error{Option: "sft.JobOptions.DType", Err: err}
	}
	switch o.Truncation {
	case TruncateRight, TruncateLeft, TruncateSkip:
	default:
		return nil, option.Bad("sft.JobOptions.Truncation", "%q (want right, left or skip)", o.Truncation)
	}
	m, err := o.LoRA.LoadBase(o.Model)
	if err != nil {
		return nil, err
	}
	s.ConfigureModel(m)
	tokDir := o.Tokenizer
	if tokDir == "" {
		tokDir = o.Model
	}
	tok, err := tokenizer.Load(tokDir)
	if err != nil {
		return nil, err
	}
	if o.ChatTemplate != "" {
		b, err := os.ReadFile(o.ChatTemplate)
		if err != nil {
			return nil, err
		}
		tok.SetChatTemplate(string(b))
	}
	maxLen := o.MaxLength
	if maxLen <= 0 || maxLen > m.Cfg.MaxPos {
		maxLen = m.Cfg.MaxPos
	}
	topt := Options{LossOn: o.LossOn, MaxLength: maxLen, Truncation: o.Truncation}
	rows, labels, err := o.load(o.Data, tok, topt, m.Cfg.Vocab, log)
	if err != nil {
		return nil, err
	}
	params, err := o.LoRA.Params(m, s.Seed)
	if err != nil {
		return nil, err
	}
	pad := int32(max(tok.PAD(), tok.EOS(), 0))
	lm := &train.CausalLM{Model: m, PadID: pad}
	obj, err := o.objective(lm, rows, labels, maxLen, "train", log)
	if err != nil {
		return nil, err
	}
	job := o.LoRA.Job(s, log, m, obj, params, o.Model, o.DType, tokDir)
	if len(o.EvalData) > 0 {
		erows, elabels, err := o.load(o.EvalData, tok, topt, m.Cfg.Vocab, log)
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
// Packing. Packing changes neither the loss (a mean over trained tokens,
// each document scored as if alone) nor what a token sees; only how many
// documents share a row.
func (o *JobOptions) objective(lm *train.CausalLM, rows, labels [][]int32, maxLen int, what string, log io.Writer) (*train.LMObjective, error) {
	if !o.Packing {
		return &train.LMObjective{LM: lm, Rows: rows, Labels: labels}, nil
	}
	p, err := train.Pack(rows, labels, maxLen)
	if err != nil {
		return nil, option.Bad("sft.JobOptions.Packing", "%w", err)
	}
	fmt.Fprintf(log, "sft: packed %d %s sequences (%d tokens) into %d rows of %d: packing efficiency %.1f%%\n",
		len(rows), what, p.Tokens, len(p.Rows), maxLen, 100*p.Efficiency())
	return &train.LMObjective{LM: lm, Rows: p.Rows, Labels: p.Labels, Segs: p.Segs}, nil
}

// load reads, validates and tokenises files into rows and HF-style labels
// (the token where trained, -1 elsewhere), reporting everything skipped.
func (o *JobOptions) load(files []string, tok *tokenizer.Tokenizer, topt Options, vocab int, log io.Writer) ([][]int32, [][]int32, error) {
	var rows, labels [][]int32
	for _, f := range files {
		exs, rep, err := data.ReadSFT(f, data.Options{Format: data.Format(o.Format), SkipBadRows: o.SkipBadRows})
		if err != nil {
			return nil, nil, err
		}
		if rep.Skipped > 0 {
			fmt.Fprintf(log, "sft: %s: skipped %d bad rows of %d:\n", f, rep.Skipped, rep.Rows+rep.Skipped)
			printReasons(log, rep.Reasons)
		}
		seqs, st, reasons, err := TokenizeAll(tok, exs, topt, o.SkipBadRows)
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
