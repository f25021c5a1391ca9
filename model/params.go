package model

import "fmt"

// Param describes one tensor inside the flat parameter allocation. Names are
// Align's canonical ones (stable across architectures); hf.go maps them to and
// from each model_type's HuggingFace names and layouts.
type Param struct {
	Name   string
	Shape  []int
	Offset int
	Size   int
	Decay  bool // weight decay applies (matrices, not norms, biases or embeddings)
	// Compact: stored outside the flat allocation in a compact dtype (a
	// frozen base loaded with LoadDirOpts); Size is 0 and Shape still holds.
	Compact bool
}

// Layer is one transformer block's tensors, each a slice of the flat allocation.
// Linear weights use torch's [out,in] layout whatever the checkpoint stores.
// Tensors an architecture lacks are nil.
type Layer struct {
	Norm1W, Norm1B []float32 // ln_1 / input_layernorm
	Wq, Bq         []float32 // [NH*HS, C]
	Wk, Bk         []float32 // [NKV*HS, C]
	Wv, Bv         []float32 // [NKV*HS, C]
	Wo, Bo         []float32 // [C, NH*HS]
	QNorm, KNorm   []float32 // [HS] (qwen3)
	Norm2W, Norm2B []float32 // ln_2 / post_attention_layernorm
	Wfc, Bfc       []float32 // gpt2 [FFN, C]
	Wgate, Bgate   []float32 // llama [FFN, C]
	Wup, Bup       []float32 // llama [FFN, C]
	Wdown, Bdown   []float32 // [C, FFN] (gpt2 c_proj, llama down_proj)
}

// Weights views a flat buffer (parameters or their gradients) as named tensors.
type Weights struct {
	Wte            []float32 // [V, C]
	Wpe            []float32 // [MaxPos, C] (gpt2)
	NormFW, NormFB []float32 // final norm
	LMHead         []float32 // [V, C]; aliases Wte when tied
	Layers         []Layer
}

// paramTable lays out every tensor of cfg in one allocation, in a fixed order.
func paramTable(c *Config) []Param {
	var ps []Param
	off := 0
	add := func(name string, decay bool, shape ...int) {
		n := 1
		for _, d := range shape {
			n *= d
		}
		ps = append(ps, Param{Name: name, Shape: shape, Offset: off, Size: n, Decay: decay})
		off += n
	}
	C, Q, KV, F := c.Dim, c.Heads*c.HeadDim, c.KVHeads*c.HeadDim, c.FFN
	gpt := c.Arch == ArchGPT2
	add("embed", false, c.Vocab, C)
	if gpt {
		add("pos_embed", false, c.MaxPos, C)
	}
	for l := 0; l < c.Layers; l++ {
		p := fmt.Sprintf("layers.%d.", l)
		add(p+"norm1.weight", false, C)
		if gpt {
			add(p+"norm1.bias", false, C)
		}
		add(p+"q.weight", true, Q, C)
		if c.AttnBias {
			add(p+"q.bias", false, Q)
		}
		add(p+"k.weight", true, KV, C)
		if c.AttnBias {
			add(p+"k.bias", false, KV)
		}
		add(p+"v.weight", true, KV, C)
		if c.AttnBias {
			add(p+"v.bias", false, KV)
		}
		add(p+"o.weight", true, C, Q)
		if c.OBias {
			add(p+"o.bias", false, C)
		}
		if c.QKNorm {
			add(p+"q_norm.weight", false, c.HeadDim)
			add(p+"k_norm.weight", false, c.HeadDim)
		}
		add(p+"norm2.weight", false, C)
		if gpt {
			add(p+"norm2.bias", false, C)
			add(p+"fc.weight", true, F, C)
			add(p+"fc.bias", false, F)
		} else {
			add(p+"gate.weight", true, F, C)
			if c.MLPBias {
				add(p+"gate.bias", false, F)
			}
			add(p+"up.weight", true, F, C)
			if c.MLPBias {
				add(p+"up.bias", false, F)
			}
		}
		add(p+"down.weight", true, C, F)
		if c.MLPBias {
			add(p+"down.bias", false, C)
		}
	}
	add("norm_f.weight", false, C)
	if gpt {
		add("norm_f.bias", false, C)
	}
	if !c.Tied {
		add("lm_head.weight", true, c.Vocab, C)
	}
	return ps
}

// bind views buf through table ps; tensors named in skip (frozen ones, when
// binding gradients) and every tensor of a nil buf come out nil.
func bind(c *Config, ps []Param, buf []float32, skip map[string]bool) Weights {
	get := map[string][]float32{}
	if buf != nil {
		for _, p := range ps {
			if !skip[p.Name] && !p.Compact {
				get[p.Name] = buf[p.Offset : p.Offset+p.Size : p.Offset+p.Size]
			}
		}
	}
	w := Weights{Wte: get["embed"], Wpe: get["pos_embed"], NormFW: get["norm_f.weight"], NormFB: get["norm_f.bias"]}
	w.LMHead = get["lm_head.weight"]
	if c.Tied {
		w.LMHead = w.Wte
	}
	w.Layers = make([]Layer, c.Layers)
	for l := range w.Layers {
		g := func(s string) []float32 { return get[fmt.Sprintf("layers.%d.%s", l, s)] }
		w.Layers[l] = Layer{
			Norm1W: g("norm1.weight"), Norm1B: g("norm1.bias"),
			Wq: g("q.weight"), Bq: g("q.bias"), Wk: g("k.weight"), Bk: g("k.bias"),
			Wv: g("v.weight"), Bv: g("v.bias"), Wo: g("o.weight"), Bo: g("o.bias"),
			QNorm: g("q_norm.weight"), KNorm: g("k_norm.weight"),
			Norm2W: g("norm2.weight"), Norm2B: g("norm2.bias"),
			Wfc: g("fc.weight"), Bfc: g("fc.bias"),
			Wgate: g("gate.weight"), Bgate: g("gate.bias"), Wup: g("up.weight"), Bup: g("up.bias"),
			Wdown: g("down.weight"), Bdown: g("down.bias"),
		}
	}
	return w
}

// NumParams is the total parameter count (tied heads counted once).
func (c *Config) NumParams() int {
	ps := paramTable(c)
	last := ps[len(ps)-1]
	return last.Offset + last.Size
}
