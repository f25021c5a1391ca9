package main

import (
	"fmt"
	"strings"

	"github.com/align-go/align/model"
	"github.com/align-go/align/train"
	"github.com/spf13/pflag"
)

// loadFlags say how a command stores the frozen weights it loads, under TRL
// ModelConfig's / transformers' names. They apply to a frozen model — a LoRA
// base (and the reference that is that base with adapters off), a model that
// only generates, serves, scores or judges (align score, PPO's reward model,
// GRPO's and online DPO's rm: rewards,
// local: judges) —: its blocks' Linear weights, token embedding and LM head.
// Under 8/4-bit loading the embedding and head stay in the checkpoint's
// 16-bit dtype (bitsandbytes quantises Linear layers only, and transformers
// keeps the output head out) unless --quantize-lm-head asks for the head
// (and a tied embedding) to be quantised too. Norms, biases, adapters and optimizer state
// stay f32, and a model trained in full keeps f32 weights.
type loadFlags struct {
	torchDType  string
	in8, in4    bool
	quantType   string
	doubleQuant bool
	quantHead   bool
	int8Act     bool
}

// The accuracy figures in the help are bench/quant_accuracy's on the
// quickstart's tiny SFT model (README, "Memory: load dtypes for a frozen
// base"): the change of the mean per-token NLL against f32 and how often the
// greedy next token agrees.
func addLoadFlags(fs *pflag.FlagSet) *loadFlags {
	f := &loadFlags{}
	fs.StringVar(&f.torchDType, "torch-dtype", "float32",
		"dtype of frozen weights (Linear layers, token embedding, LM head): float32; auto (the checkpoint's own: bf16/f16 stay as stored, half the memory, exact); "+
			"bfloat16 or float16 (converted while loading: exact for a checkpoint already in that dtype, else one rounding per weight; "+
			"from f32, NLL +0.001 (bf16) / +0.00002 (f16) nats per token, greedy token agrees 99.9% / 100%)")
	fs.BoolVar(&f.in8, "load-in-8bit", false,
		"quantise frozen Linear weights to int8 with one absmax per output row (LLM.int8 weights, no outlier split): a quarter of f32's memory; NLL -0.005 nats per token, greedy token agrees 99.6%")
	fs.BoolVar(&f.in4, "load-in-4bit", false,
		"quantise frozen Linear weights to 4 bits in blocks of 64 (QLoRA; the embedding and LM head stay 16-bit, as in transformers, unless --quantize-lm-head): about an eighth of f32's memory; NLL +0.15 nats per token, greedy token agrees 95% (nf4, on a 124K-parameter model: less on real ones)")
	fs.StringVar(&f.quantType, "bnb-4bit-quant-type", "nf4", "4-bit levels: nf4 (NormalFloat, for normally distributed weights: the more accurate) or fp4")
	fs.BoolVar(&f.doubleQuant, "bnb-4bit-use-double-quant", false,
		"quantise the 4-bit block scales again (8-bit codes, a scale per 256 blocks): 0.37 fewer bits per weight, NLL change within 0.001 of plain 4-bit")
	fs.BoolVar(&f.quantHead, "quantize-lm-head", false,
		"with --load-in-8bit/4bit, quantise the LM head too (and the token embedding when the head is tied to it: one tensor), as llama.cpp's q8_0/q4 files and GPTQ's lm_head=True do: "+
			"batch-1 decoding reads the whole head every token (272 MB of 989 in bf16 at Qwen2.5-0.5B), so this is what lets 8/4-bit decoding approach its byte ratio; "+
			"it changes the logits by the head's own rounding: on the quickstart's tiny SFT model (tied head) mean |Δ log p| vs f32 0.020 instead of 8-bit's 0.014 (largest 0.26 instead of 0.22), greedy token agrees 99.7%; "+
			"with nf4 0.33 instead of 0.21 (largest 3.6 instead of 2.4), 92% instead of 95%")
	fs.BoolVar(&f.int8Act, "int8-activations", false,
		"with --load-in-8bit, batch-1 decoding quantises each Linear's input row to int8 in blocks of 64 (each value within 1/254 of its block's absmax) and multiplies in integers (AVX512_VNNI; llama.cpp's q8_0 way; elsewhere the exact path runs): "+
			"less work per weight byte, so decoding comes closer to the memory bound; it about doubles 8-bit's error: on the quickstart's tiny SFT model, decoded, mean |Δ log p| vs f32 0.026 instead of 0.014 (largest 0.40 instead of 0.22), NLL -0.004 nats per token, greedy token agrees 99.5%. "+
			"Off (the default), 8-bit decoding equals the f32 model on the dequantised weights and a sequence's output does not depend on what it is batched with")
	return f
}

// options validates the flags and returns the load options for a frozen
// model. Nil flags (a recipe such as the quickstart's, which sets none) are
// the defaults: f32.
func (f *loadFlags) options() (model.LoadOptions, error) {
	if f == nil {
		return model.LoadOptions{}, nil
	}
	if f.in8 && f.in4 {
		return model.LoadOptions{}, fmt.Errorf("--load-in-8bit and --load-in-4bit: give one")
	}
	qt := strings.ToLower(f.quantType)
	if qt != "nf4" && qt != "fp4" {
		return model.LoadOptions{}, fmt.Errorf("--bnb-4bit-quant-type: %q (want nf4 or fp4)", f.quantType)
	}
	if f.doubleQuant && !f.in4 {
		return model.LoadOptions{}, fmt.Errorf("--bnb-4bit-use-double-quant needs --load-in-4bit")
	}
	if f.quantHead && !f.in8 && !f.in4 {
		return model.LoadOptions{}, fmt.Errorf("--quantize-lm-head needs --load-in-8bit or --load-in-4bit")
	}
	if f.int8Act && !f.in8 {
		return model.LoadOptions{}, fmt.Errorf("--int8-activations needs --load-in-8bit")
	}
	switch {
	case f.in8:
		return model.LoadOptions{WeightDType: "int8", QuantizeLMHead: f.quantHead, Int8Activations: f.int8Act}, nil
	case f.in4:
		return model.LoadOptions{WeightDType: qt, DoubleQuant: f.doubleQuant, QuantizeLMHead: f.quantHead}, nil
	}
	switch strings.ToLower(f.torchDType) {
	case "float32", "fp32", "f32", "":
		return model.LoadOptions{}, nil
	case "auto":
		return model.LoadOptions{WeightDType: "auto"}, nil
	case "bfloat16", "bf16":
		return model.LoadOptions{WeightDType: "bf16"}, nil
	case "float16", "fp16", "f16":
		return model.LoadOptions{WeightDType: "f16"}, nil
	}
	return model.LoadOptions{}, fmt.Errorf("--torch-dtype: %q (want auto, bfloat16, float16 or float32)", f.torchDType)
}

// quantized reports whether the flags ask for 8- or 4-bit weights.
func (f *loadFlags) quantized() bool { return f != nil && (f.in8 || f.in4) }

// load reads dir. frozen says whether its Linear weights stay frozen (a LoRA
// base, a model that only runs forward); a model trained in full loads in
// f32 whatever --torch-dtype says, and refuses 8/4-bit weights.
func (f *loadFlags) load(dir string, frozen bool) (*model.Model, error) {
	opt, err := f.options()
	if err != nil {
		return nil, err
	}
	if !frozen {
		if f.quantized() {
			return nil, train.ErrQuantizedTrainable
		}
		opt = model.LoadOptions{}
	}
	m, _, err := model.LoadDirOpts(dir, opt)
	return m, err
}
