// Package export turns an Align model (LoRA adapters merged) and its
// tokenizer into files other runtimes load: GGUF for llama.cpp and the tools
// built on it. The tensor names, layouts and metadata keys are those
// llama.cpp's convert_hf_to_gguf.py writes, and the quantised mixtures are
// llama-quantize's, so an exported file behaves like one converted there.
package export

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/align-go/align/gguf"
	"github.com/align-go/align/model"
	"github.com/align-go/align/tokenizer"
)

// GGUFTypes are the accepted --type values, smallest precision loss first.
var GGUFTypes = []string{"f32", "f16", "bf16", "q8_0", "q4_0", "q4_k_m"}

// GGUFOptions configures a GGUF export.
type GGUFOptions struct {
	Type string // one of GGUFTypes
	Name string // general.name; empty leaves it out
}

// ggufArch is llama.cpp's architecture name for a model_type. Mistral
// checkpoints are Llama ones to llama.cpp (convert_hf_to_gguf maps
// MistralForCausalLM to "llama"); its sliding window is not carried, as
// convert does not carry it either.
func ggufArch(c *model.Config) (string, error) {
	switch c.ModelType {
	case "gpt2":
		return "gpt2", nil
	case "llama", "mistral":
		return "llama", nil
	case "qwen2":
		return "qwen2", nil
	case "qwen3":
		return "qwen3", nil
	}
	return "", fmt.Errorf("model_type %q has no GGUF mapping", c.ModelType)
}

// GGUF builds the GGUF file for m and tok. m's active LoRA adapters must
// already be merged (model.MergeLoRA); the writer encodes tensors from m's
// weights when written, so m must stay unchanged until then.
func GGUF(m *model.Model, tok *tokenizer.Tokenizer, opt GGUFOptions) (*gguf.Writer, error) {
	c := m.Cfg
	if m.LoRA() != nil {
		return nil, fmt.Errorf("export: merge the LoRA adapters first (model.MergeLoRA)")
	}
	if !m.HasLMHead() {
		return nil, fmt.Errorf("export: the model has no LM head (a head-only checkpoint)")
	}
	arch, err := ggufArch(c)
	if err != nil {
		return nil, err
	}
	scheme, err := newScheme(opt.Type, c)
	if err != nil {
		return nil, err
	}
	w := gguf.NewWriter()
	set := func(k string, v any) {
		if err == nil {
			err = w.Set(k, v)
		}
	}
	set("general.architecture", arch)
	if opt.Name != "" {
		set("general.name", opt.Name)
	}
	set("general.file_type", uint32(scheme.fileType))
	if scheme.quantised {
		set("general.quantization_version", uint32(2))
	}
	set("general.alignment", uint32(gguf.DefaultAlignment))
	a := arch + "."
	set(a+"context_length", uint32(c.MaxPos))
	set(a+"embedding_length", uint32(c.Dim))
	set(a+"block_count", uint32(c.Layers))
	set(a+"feed_forward_length", uint32(c.FFN))
	set(a+"attention.head_count", uint32(c.Heads))
	if c.Arch == model.ArchGPT2 {
		set(a+"attention.layer_norm_epsilon", float32(c.NormEps))
	} else {
		set(a+"attention.head_count_kv", uint32(c.KVHeads))
		set(a+"attention.layer_norm_rms_epsilon", float32(c.NormEps))
		set(a+"attention.key_length", uint32(c.HeadDim))
		set(a+"attention.value_length", uint32(c.HeadDim))
		set(a+"rope.freq_base", float32(c.RopeTheta))
		set(a+"rope.dimension_count", uint32(c.HeadDim))
		set(a+"vocab_size", uint32(c.Vocab))
		if rs := c.RopeScaling; rs != nil && rs.Type == "linear" {
			set(a+"rope.scaling.type", "linear")
			set(a+"rope.scaling.factor", float32(rs.Factor))
		}
	}
	if err != nil {
		return nil, err
	}
	if err := addVocab(w, c, tok); err != nil {
		return nil, err
	}
	if err := addTensors(w, m, scheme); err != nil {
		return nil, err
	}
	return w, nil
}

// WriteGGUF exports m and tok to path, through a temporary file renamed into
// place so a failed export leaves no partial file.
func WriteGGUF(path string, m *model.Model, tok *tokenizer.Tokenizer, opt GGUFOptions) error {
	w, err := GGUF(m, tok, opt)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := w.WriteTo(tmp); err != nil {
		tmp.Close()
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// ParseGGUFType checks a --type value.
func ParseGGUFType(s string) (string, error) {
	s = strings.ToLower(s)
	for _, t := range GGUFTypes {
		if s == t {
			return s, nil
		}
	}
	return "", fmt.Errorf("--type %q: want one of %s", s, strings.Join(GGUFTypes, ", "))
}
