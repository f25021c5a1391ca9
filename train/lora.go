package train

import (
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"path/filepath"

	"github.com/align-go/align/model"
	"github.com/align-go/align/optim"
	"github.com/align-go/align/option"
)

// LoRA says what a trainer trains: every weight (R = 0, full fine-tuning) or
// low-rank adapters on a frozen base (R > 0), saved as PEFT adapters. Load
// is how a frozen model's Linear weights are stored (a LoRA base, a
// reference model); a model trained in full always loads f32.
type LoRA struct {
	R       int
	Alpha   float64 // adapter scale is Alpha/R
	Dropout float64 // dropout on the adapters' input
	Targets []string
	Load    model.LoadOptions
}

// ErrQuantizedTrainable refuses 8- or 4-bit weights on a model trained in
// full (an *option.Error: errors.Is finds it, a CLI names its flags).
var ErrQuantizedTrainable error = &option.Error{Option: "train.LoRA.Load",
	Err: errors.New("quantised weights are frozen; train adapters on them (train.LoRA.R > 0)")}

// Enabled reports whether adapters train (R > 0).
func (l LoRA) Enabled() bool { return l.R > 0 }

// Quantized reports whether Load asks for 8- or 4-bit weights.
func (l LoRA) Quantized() bool {
	switch l.Load.WeightDType {
	case "int8", "nf4", "fp4":
		return true
	}
	return false
}

// BaseOptions are the load options of the model to train: Load under LoRA,
// f32 for a full fine-tune (which refuses quantised weights).
func (l LoRA) BaseOptions() (model.LoadOptions, error) {
	if l.Enabled() {
		return l.Load, nil
	}
	if l.Quantized() {
		return model.LoadOptions{}, ErrQuantizedTrainable
	}
	return model.LoadOptions{}, nil
}

// LoadBase reads the model to train from dir (BaseOptions).
func (l LoRA) LoadBase(dir string) (*model.Model, error) {
	opt, err := l.BaseOptions()
	if err != nil {
		return nil, err
	}
	m, _, err := model.LoadDirOpts(dir, opt)
	return m, err
}

// LoadFrozen reads a model that only runs forward (a reference) with Load.
func (l LoRA) LoadFrozen(dir string) (*model.Model, error) {
	m, _, err := model.LoadDirOpts(dir, l.Load)
	return m, err
}

// Params attaches adapters when enabled and returns the parameter sets to
// train: the adapters alone (the base is frozen and holds no optimizer state),
// or the whole model.
func (l LoRA) Params(m *model.Model, seed uint64) ([]ParamSet, error) {
	if !l.Enabled() {
		return []ParamSet{ModelParams("model", m)}, nil
	}
	if err := m.AttachLoRA(model.LoRAConfig{R: l.R, Alpha: l.Alpha, Dropout: l.Dropout, Targets: l.Targets}, seed); err != nil {
		return nil, option.Bad("train.LoRA.Targets", "%w", err)
	}
	m.EnableGrad()
	lo := m.LoRA()
	spans := make([]optim.Span, len(lo.Params))
	for i, p := range lo.Params {
		spans[i] = optim.Span{Name: p.Name, Offset: p.Offset, Size: p.Size, Decay: p.Decay}
	}
	return []ParamSet{{Name: "lora", Data: lo.Data, Grad: lo.Grad, Spans: spans}}, nil
}

// Save writes what the run trained: PEFT adapters (adapter_config.json,
// adapter_model.safetensors) that name base, or the full model in dtype.
func (l LoRA) Save(m *model.Model, dir, base, dtype string) error {
	if m.LoRA() != nil {
		return m.SavePEFT(dir, base)
	}
	return m.SaveDir(dir, dtype)
}

// Job is the training job of a causal-LM trainer (sft, dpo, kto, orpo,
// cpo): obj under LoRA dropout, and a saver that writes what Save writes
// plus the tokenizer files from tokDir (base's when tokDir has none).
func (l LoRA) Job(s Settings, log io.Writer, m *model.Model, obj Objective, params []ParamSet, base, dtype, tokDir string) *Job {
	return &Job{
		Settings:  s,
		Objective: WithLoRADropout(obj, m),
		Params:    params,
		Log:       log,
		Saver: SaverFunc(func(dir string) error {
			if err := l.Save(m, dir, base, dtype); err != nil {
				return err
			}
			return CopyTokenizerFiles(tokDir, base, dir)
		}),
	}
}

// dropoutObjective gives LoRA dropout a mask seed that is a function of the
// micro-batch (its example indices), so resumed runs replay the same masks,
// and turns dropout off for evaluation.
type dropoutObjective struct {
	Objective
	lo *model.LoRA
}

func (d dropoutObjective) Accumulate(idx []int, total int) (Metrics, error) {
	h := fnv.New64a()
	for _, i := range idx {
		fmt.Fprint(h, i, ",")
	}
	d.lo.DropoutSeed, d.lo.Training = h.Sum64(), true
	defer func() { d.lo.Training = false }()
	return d.Objective.Accumulate(idx, total)
}

// PrepareBatch passes the step's examples on to an objective that counts
// them (the step-wide NLL token mean of DPO's RPO term, KTO's per-kind
// metric means); without it the wrapper would hide the method.
func (d dropoutObjective) PrepareBatch(ctx *StepContext, idx []int) error {
	if p, ok := d.Objective.(BatchPreparer); ok {
		return p.PrepareBatch(ctx, idx)
	}
	return nil
}

// WithLoRADropout wraps obj when m has adapters with dropout.
func WithLoRADropout(obj Objective, m *model.Model) Objective {
	if lo := m.LoRA(); lo != nil && lo.Cfg.Dropout > 0 {
		return dropoutObjective{obj, lo}
	}
	return obj
}

// tokenizerFiles are copied next to the weights so OUT loads as an HF directory.
var tokenizerFiles = []string{"tokenizer.json", "tokenizer_config.json", "vocab.json", "merges.txt",
	"special_tokens_map.json", "added_tokens.json", "chat_template.jinja"}

// CopyTokenizerFiles copies the tokenizer files tokDir has (and modelDir's
// generation_config.json) into dst.
func CopyTokenizerFiles(tokDir, modelDir, dst string) error {
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

// CheckDType validates a saved-weights dtype before any work, so a typo does
// not surface only when the trained model is saved.
func CheckDType(dtype string) error {
	switch dtype {
	case "F32", "BF16", "F16":
		return nil
	}
	return fmt.Errorf("%q (want F32, BF16 or F16)", dtype)
}
