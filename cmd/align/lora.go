package main

import (
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

// lib is the flags as the library's train.LoRA (nil flags: full
// fine-tuning of an f32 model).
func (f *loraFlags) lib() (train.LoRA, error) {
	if f == nil {
		return train.LoRA{}, nil
	}
	opt, err := f.load.options()
	if err != nil {
		return train.LoRA{}, err
	}
	return train.LoRA{R: f.r, Alpha: f.alpha, Dropout: f.dropout, Targets: f.targets, Load: opt}, nil
}
