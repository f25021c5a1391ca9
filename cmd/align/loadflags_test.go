package main

import (
	"testing"

	"github.com/align-go/align/judge"
	"github.com/align-go/align/llm"
	"github.com/align-go/align/model"
	"github.com/align-go/align/onlinedpo"
	"github.com/spf13/pflag"
)

// --quantize-lm-head reaches the loader: through the load flags' options
// (the frozen models of generate, score, serve, eval, logprobs, judges) and
// through the LoRA flags' train.LoRA (every trainer's frozen base), and the
// loaded model's compact tables then hold the tied embedding/head in the
// quantised dtype (fewer bytes than without the flag, which keeps the
// checkpoint's f32 table). The model-level behaviour is model's own test.
func TestQuantizeLMHeadReachesLoader(t *testing.T) {
	cfg, err := model.ParseConfig(map[string]any{"model_type": "qwen2", "vocab_size": 96.0, "hidden_size": 64.0,
		"num_hidden_layers": 1.0, "num_attention_heads": 4.0, "num_key_value_heads": 2.0,
		"intermediate_size": 128.0, "max_position_embeddings": 32.0, "tie_word_embeddings": true})
	if err != nil {
		t.Fatal(err)
	}
	m := model.New(cfg)
	m.InitRandom(3)
	dir := t.TempDir()
	if err := m.SaveDir(dir, "F32"); err != nil {
		t.Fatal(err)
	}
	for _, bits := range []string{"--load-in-8bit", "--load-in-4bit"} {
		parse := func(args ...string) (*loadFlags, *loraFlags) {
			fs := pflag.NewFlagSet("load", pflag.ContinueOnError)
			lf := addLoadFlags(fs)
			ls := pflag.NewFlagSet("lora", pflag.ContinueOnError)
			lo := addLoRAFlags(ls)
			if err := fs.Parse(args); err != nil {
				t.Fatal(err)
			}
			if err := ls.Parse(append([]string{"--lora-r", "4"}, args...)); err != nil {
				t.Fatal(err)
			}
			return lf, lo
		}
		plainLoad, plainLoRA := parse(bits)
		headLoad, headLoRA := parse(bits, "--quantize-lm-head")
		opt, err := headLoad.options()
		if err != nil || !opt.QuantizeLMHead {
			t.Fatalf("%s --quantize-lm-head: load options %+v, %v", bits, opt, err)
		}
		if lo, err := headLoRA.lib(); err != nil || !lo.Load.QuantizeLMHead || lo.Load.WeightDType != opt.WeightDType {
			t.Fatalf("%s --quantize-lm-head: train.LoRA %+v, %v", bits, lo, err)
		}
		if lo, err := plainLoRA.lib(); err != nil || lo.Load.QuantizeLMHead {
			t.Fatalf("%s alone: train.LoRA %+v, %v", bits, lo, err)
		}
		plain, err := plainLoad.load(dir, true)
		if err != nil {
			t.Fatal(err)
		}
		head, err := headLoad.load(dir, true)
		if err != nil {
			t.Fatal(err)
		}
		// The tied table is 96×64 f32 (24 KiB) without the flag; quantised it
		// takes a quarter (int8) or less (4-bit) plus scales.
		const table = 96 * 64 * 4
		if saved := plain.CompactBytes() - head.CompactBytes(); saved < table/2 {
			t.Errorf("%s: compact bytes %d without --quantize-lm-head, %d with: the tied table was not quantised",
				bits, plain.CompactBytes(), head.CompactBytes())
		}
	}
}

// TestLocalJudgeLoadsAsFlagsSay: online DPO's --judge local:DIR loads its
// weights with the command's load options, as an rm: reward does (it was
// always f32 before).
func TestLocalJudgeLoadsAsFlagsSay(t *testing.T) {
	dir := caiPolicy(t)
	for _, c := range []struct {
		load model.LoadOptions
		want string
	}{{model.LoadOptions{}, "f32"}, {model.LoadOptions{WeightDType: "bf16"}, "bf16"}, {model.LoadOptions{WeightDType: "int8"}, "int8"}} {
		o := &onlineDPOOpts{judge: "local:" + dir}
		r, err := o.openRanker(1, c.load)
		if err != nil {
			t.Fatal(err)
		}
		l := r.(onlinedpo.Judge).J.(judge.LLM).C.(*llm.Local)
		if got := l.E.Model.WeightDType(); got != c.want {
			t.Errorf("load %+v: the local judge's Linear weights are %s, want %s", c.load, got, c.want)
		}
		l.Close()
	}
}
