package model

import (
	"fmt"
	"slices"

	"github.com/align-go/align/checkpoint"
	"sort"
	"strings"
)

// hfSpec maps one HuggingFace tensor to the canonical parameters it holds. The
// HF tensor is the concatenation, along its last axis, of its parts — each part
// transposed first when the checkpoint stores Conv1D [in,out] weights (GPT-2).
// That one rule covers plain copies, GPT-2's transposed projections and its fused
// c_attn (q|k|v side by side).
type hfSpec struct {
	name      string
	parts     []string
	transpose bool
}

// NamedTensor is a tensor in HF naming and layout, on its way to or from disk.
type NamedTensor struct {
	Name  string
	Shape []int
	Data  []float32
}

// TensorSource is what the loader needs from a checkpoint reader.
type TensorSource interface {
	Names() []string
	Float32(name string) ([]float32, []int, error)
}

// floatIntoSource is a reader that can decode into a caller's buffer
// (checkpoint.Set and checkpoint.File are).
type floatIntoSource interface {
	Info(name string) (checkpoint.Info, bool)
	Float32Into(name string, dst []float32, wantShape []int) error
}

func hfSpecs(c *Config, prefix string) []hfSpec {
	var s []hfSpec
	add := func(name string, transpose bool, parts ...string) {
		s = append(s, hfSpec{name: name, parts: parts, transpose: transpose})
	}
	if c.Arch == ArchGPT2 {
		p := prefix
		add(p+"wte.weight", false, "embed")
		add(p+"wpe.weight", false, "pos_embed")
		for l := 0; l < c.Layers; l++ {
			h := fmt.Sprintf("%sh.%d.", p, l)
			o := fmt.Sprintf("layers.%d.", l)
			add(h+"ln_1.weight", false, o+"norm1.weight")
			add(h+"ln_1.bias", false, o+"norm1.bias")
			add(h+"attn.c_attn.weight", true, o+"q.weight", o+"k.weight", o+"v.weight")
			add(h+"attn.c_attn.bias", false, o+"q.bias", o+"k.bias", o+"v.bias")
			add(h+"attn.c_proj.weight", true, o+"o.weight")
			add(h+"attn.c_proj.bias", false, o+"o.bias")
			add(h+"ln_2.weight", false, o+"norm2.weight")
			add(h+"ln_2.bias", false, o+"norm2.bias")
			add(h+"mlp.c_fc.weight", true, o+"fc.weight")
			add(h+"mlp.c_fc.bias", false, o+"fc.bias")
			add(h+"mlp.c_proj.weight", true, o+"down.weight")
			add(h+"mlp.c_proj.bias", false, o+"down.bias")
		}
		add(p+"ln_f.weight", false, "norm_f.weight")
		add(p+"ln_f.bias", false, "norm_f.bias")
	} else {
		add("model.embed_tokens.weight", false, "embed")
		for l := 0; l < c.Layers; l++ {
			h := fmt.Sprintf("model.layers.%d.", l)
			o := fmt.Sprintf("layers.%d.", l)
			add(h+"input_layernorm.weight", false, o+"norm1.weight")
			for _, x := range []string{"q", "k", "v", "o"} {
				add(h+"self_attn."+x+"_proj.weight", false, o+x+".weight")
				if (x != "o" && c.AttnBias) || (x == "o" && c.OBias) {
					add(h+"self_attn."+x+"_proj.bias", false, o+x+".bias")
				}
			}
			if c.QKNorm {
				add(h+"self_attn.q_norm.weight", false, o+"q_norm.weight")
				add(h+"self_attn.k_norm.weight", false, o+"k_norm.weight")
			}
			add(h+"post_attention_layernorm.weight", false, o+"norm2.weight")
			for _, x := range []string{"gate", "up", "down"} {
				add(h+"mlp."+x+"_proj.weight", false, o+x+".weight")
				if c.MLPBias {
					add(h+"mlp."+x+"_proj.bias", false, o+x+".bias")
				}
			}
		}
		add("model.norm.weight", false, "norm_f.weight")
	}
	if !c.Tied {
		add("lm_head.weight", false, "lm_head.weight")
	}
	return s
}

// ignorableHF reports checkpoint entries that are buffers, not parameters, or
// a tied head stored anyway: loading skips them rather than failing.
func ignorableHF(c *Config, name string) bool {
	switch {
	case strings.HasSuffix(name, ".attn.bias") && !strings.HasSuffix(name, "c_attn.bias"),
		strings.HasSuffix(name, ".attn.masked_bias"),
		strings.HasSuffix(name, "rotary_emb.inv_freq"):
		return true
	case name == "lm_head.weight" && c.Tied:
		return true
	}
	return false
}

// HFTensors lists the tensors a HuggingFace checkpoint of shape c holds, with
// their shapes (Data nil), without allocating a model: what a tool writing a
// checkpoint a tensor at a time needs. GPT-2 names carry prefix.
func (c *Config) HFTensors(prefix string) []NamedTensor {
	shapes := map[string][]int{}
	for _, p := range paramTable(c) {
		shapes[p.Name] = p.Shape
	}
	var out []NamedTensor
	for _, sp := range hfSpecs(c, prefix) {
		out = append(out, NamedTensor{Name: sp.name, Shape: hfShapeOf(sp, func(n string) []int { return shapes[n] })})
	}
	return out
}

func (m *Model) hfShape(sp hfSpec) []int {
	return hfShapeOf(sp, func(n string) []int { return m.Param(n).Shape })
}

func hfShapeOf(sp hfSpec, shapeOf func(string) []int) []int {
	var shape []int
	for i, pn := range sp.parts {
		ps := shapeOf(pn)
		if sp.transpose {
			ps = []int{ps[1], ps[0]}
		}
		if i == 0 {
			shape = append([]int(nil), ps...)
		} else {
			shape[len(shape)-1] += ps[len(ps)-1]
		}
	}
	return shape
}

// ExportHF returns buf (parameters, or gradients laid out like them) as HF tensors
// named for this model's type. GPT-2 names carry prefix ("transformer." or "").
// Tensors whose layout matches are views into buf; transposed or fused ones are copies.
func (m *Model) ExportHF(buf []float32, prefix string) []NamedTensor {
	var out []NamedTensor
	for _, sp := range hfSpecs(m.Cfg, prefix) {
		shape := m.hfShape(sp)
		if p := m.Param(sp.parts[0]); p.Compact && len(sp.parts) == 1 && !sp.transpose {
			out = append(out, NamedTensor{Name: sp.name, Shape: shape, Data: m.compactOrZero(p, buf)})
			continue
		}
		if len(sp.parts) == 1 && !sp.transpose { // same layout: a view, not a copy
			p := m.Param(sp.parts[0])
			out = append(out, NamedTensor{Name: sp.name, Shape: shape, Data: buf[p.Offset : p.Offset+p.Size]})
			continue
		}
		data := make([]float32, prod(shape))
		cols := shape[len(shape)-1]
		col := 0
		for _, pn := range sp.parts {
			p := m.Param(pn)
			var src []float32
			if p.Compact {
				src = m.compactOrZero(p, buf)
			} else {
				src = buf[p.Offset : p.Offset+p.Size]
			}
			switch {
			case sp.transpose: // ours [out,in] → HF [in, cols] at column offset col
				o, in := p.Shape[0], p.Shape[1]
				for r := 0; r < o; r++ {
					for i := 0; i < in; i++ {
						data[i*cols+col+r] = src[r*in+i]
					}
				}
				col += o
			default:
				copy(data[col:], src)
				col += p.Size
			}
		}
		out = append(out, NamedTensor{Name: sp.name, Shape: shape, Data: data})
	}
	return out
}

// ImportHF fills buf from src, which must hold exactly this model's tensors
// (buffers and a redundant tied head excepted). GPT-2 tensors may or may not
// carry the "transformer." prefix; the prefix found is returned. file names the
// source in errors.
func (m *Model) ImportHF(src TensorSource, buf []float32, file string) (prefix string, err error) {
	names := src.Names()
	have := map[string]bool{}
	for _, n := range names {
		have[n] = true
	}
	if m.Cfg.Arch == ArchGPT2 && have["transformer.wte.weight"] {
		prefix = "transformer."
	}
	used := map[string]bool{}
	for _, sp := range hfSpecs(m.Cfg, prefix) {
		if !have[sp.name] && sp.name == "lm_head.weight" && len(m.allowExtra) > 0 {
			// A sequence-classification checkpoint (HF's *ForSequenceClassification)
			// has no LM head; the head tensors replace it. It stays zero.
			m.missingLMHead = true
			continue
		}
		if !have[sp.name] {
			return "", fmt.Errorf("%s: missing tensor %q", file, sp.name)
		}
		used[sp.name] = true
		want := m.hfShape(sp)
		if m.Param(sp.parts[0]).Compact {
			if err := m.importCompact(src, sp, want, file); err != nil {
				return "", err
			}
			continue
		}
		if into, ok := src.(floatIntoSource); ok && len(sp.parts) == 1 && !sp.transpose {
			// Same layout: decode straight into the parameter buffer (no second copy).
			p := m.Param(sp.parts[0])
			if info, ok := into.Info(sp.name); ok && !slices.Equal(info.Shape, want) {
				return "", fmt.Errorf("%s: tensor %q has shape %v, want %v", file, sp.name, info.Shape, want)
			}
			if err := into.Float32Into(sp.name, buf[p.Offset:p.Offset+p.Size], want); err != nil {
				return "", err
			}
			continue
		}
		data, shape, err := src.Float32(sp.name)
		if err != nil {
			return "", err
		}
		if !slices.Equal(shape, want) {
			return "", fmt.Errorf("%s: tensor %q has shape %v, want %v", file, sp.name, shape, want)
		}
		cols := want[len(want)-1]
		col := 0
		for _, pn := range sp.parts {
			p := m.Param(pn)
			dst := buf[p.Offset : p.Offset+p.Size]
			if sp.transpose {
				o, in := p.Shape[0], p.Shape[1]
				for r := 0; r < o; r++ {
					for i := 0; i < in; i++ {
						dst[r*in+i] = data[i*cols+col+r]
					}
				}
				col += o
			} else {
				copy(dst, data[col:col+p.Size])
				col += p.Size
			}
		}
	}
	var extra []string
	for _, n := range names {
		if !used[n] && !ignorableHF(m.Cfg, n) && !m.allowExtra[n] {
			extra = append(extra, n)
		}
	}
	if len(extra) > 0 {
		sort.Strings(extra)
		return "", fmt.Errorf("%s: unexpected tensor %q for model_type %s (%d unexpected in all)", file, extra[0], m.Cfg.ModelType, len(extra))
	}
	return prefix, nil
}

func prod(s []int) int {
	n := 1
	for _, d := range s {
		n *= d
	}
	return n
}
