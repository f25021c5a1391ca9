package main

import (
	"fmt"
	"hash/fnv"
	"io"

	"github.com/align-go/align/model"
	"github.com/align-go/align/optim"
	"github.com/align-go/align/train"
	"github.com/spf13/pflag"
)

// loraFlags are the adapter flags every trainer takes (--lora-r 0 = full fine-tuning).
type loraFlags struct {
	r       int
	alpha   float64
	dropout float64
	targets []string
	load    *loadFlags // how the (frozen) base is stored
}

func addLoRAFlags(fs *pflag.FlagSet) *loraFlags {
	f := &loraFlags{}
	fs.IntVar(&f.r, "lora-r", 0, "LoRA rank; > 0 trains adapters on a frozen base instead of all weights")
	fs.Float64Var(&f.alpha, "lora-alpha", 16, "LoRA alpha (adapter scale is alpha/r)")
	fs.Float64Var(&f.dropout, "lora-dropout", 0.05, "dropout on the adapters' input")
	fs.StringSliceVar(&f.targets, "lora-targets", []string{"all-linear"},
		"modules to adapt: q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj (Llama family), c_attn,c_proj,c_fc (GPT-2), or all-linear")
	f.load = addLoadFlags(fs)
	return f
}

func (f *loraFlags) enabled() bool { return f.r > 0 }

// loadBase reads the model to train: under LoRA its frozen base is stored as
// --torch-dtype / --load-in-8bit / --load-in-4bit say; a full fine-tune loads
// f32.
func (f *loraFlags) loadBase(dir string) (*model.Model, error) {
	return f.load.load(dir, f.enabled())
}

// baseOptions is loadBase's choice as load options.
func (f *loraFlags) baseOptions() (model.LoadOptions, error) {
	opt, err := f.load.options()
	if err != nil || f.enabled() {
		return opt, err
	}
	if f.load.quantized() {
		return opt, errQuantTrainable
	}
	return model.LoadOptions{}, nil
}

// params attaches adapters when enabled and returns the parameter sets to
// train: the adapters alone (the base is frozen and holds no optimizer state),
// or the whole model.
func (f *loraFlags) params(m *model.Model, seed uint64) ([]train.ParamSet, error) {
	if !f.enabled() {
		return []train.ParamSet{train.ModelParams("model", m)}, nil
	}
	if err := m.AttachLoRA(model.LoRAConfig{R: f.r, Alpha: f.alpha, Dropout: f.dropout, Targets: f.targets}, seed); err != nil {
		return nil, fmt.Errorf("--lora-targets: %w", err)
	}
	m.EnableGrad()
	lo := m.LoRA()
	spans := make([]optim.Span, len(lo.Params))
	for i, p := range lo.Params {
		spans[i] = optim.Span{Name: p.Name, Offset: p.Offset, Size: p.Size, Decay: p.Decay}
	}
	return []train.ParamSet{{Name: "lora", Data: lo.Data, Grad: lo.Grad, Spans: spans}}, nil
}

// save writes what the run trained: PEFT adapters (adapter_config.json,
// adapter_model.safetensors) that name base, or the full model.
func (f *loraFlags) save(m *model.Model, dir, base, dtype string) error {
	if m.LoRA() != nil {
		return m.SavePEFT(dir, base)
	}
	return m.SaveDir(dir, dtype)
}

// job is the training job of a causal-LM trainer (sft, dpo, kto, orpo,
// cpo): obj under LoRA dropout, and a saver that writes what save writes
// plus the tokenizer files from tokDir (base's when tokDir has none).
func (f *loraFlags) job(s train.Settings, log io.Writer, m *model.Model, obj train.Objective, params []train.ParamSet, base, dtype, tokDir string) *train.Job {
	return &train.Job{
		Settings:  s,
		Objective: withLoRADropout(obj, m),
		Params:    params,
		Log:       log,
		Saver: train.SaverFunc(func(dir string) error {
			if err := f.save(m, dir, base, dtype); err != nil {
				return err
			}
			return copyTokenizerFiles(tokDir, base, dir)
		}),
	}
}

// dropoutObjective gives LoRA dropout a mask seed that is a function of the
// micro-batch (its example indices), so resumed runs replay the same masks,
// and turns dropout off for evaluation.
type dropoutObjective struct {
	train.Objective
	lo *model.LoRA
}

func (d dropoutObjective) Accumulate(idx []int, total int) (train.Metrics, error) {
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
func (d dropoutObjective) PrepareBatch(ctx *train.StepContext, idx []int) error {
	if p, ok := d.Objective.(train.BatchPreparer); ok {
		return p.PrepareBatch(ctx, idx)
	}
	return nil
}

// withLoRADropout wraps obj when m has adapters with dropout.
func withLoRADropout(obj train.Objective, m *model.Model) train.Objective {
	if lo := m.LoRA(); lo != nil && lo.Cfg.Dropout > 0 {
		return dropoutObjective{obj, lo}
	}
	return obj
}
