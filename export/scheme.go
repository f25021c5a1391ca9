package export

import (
	"strings"

	"github.com/align-go/align/gguf"
	"github.com/align-go/align/model"
)

// scheme picks each tensor's ggml type for one --type, as llama.cpp would:
// f32/f16/bf16 as convert_hf_to_gguf.py's --outtype (1-D tensors and norms
// stay F32), the quantised types as llama-quantize run on such a file
// (llama_tensor_get_type without an importance matrix).
type scheme struct {
	name      string
	fileType  gguf.FileType
	quantised bool
	base      gguf.Type // the mixture's default type
	layers    int
	tied      bool // the model has no output.weight; token_embd serves as both
}

func newScheme(typ string, c *model.Config) (*scheme, error) {
	typ, err := ParseGGUFType(typ)
	if err != nil {
		return nil, err
	}
	s := &scheme{name: typ, layers: c.Layers, tied: c.Tied}
	switch typ {
	case "f32":
		s.fileType, s.base = gguf.FileAllF32, gguf.F32
	case "f16":
		s.fileType, s.base = gguf.FileMostlyF16, gguf.F16
	case "bf16":
		s.fileType, s.base = gguf.FileMostlyBF16, gguf.BF16
	case "q8_0":
		s.fileType, s.base, s.quantised = gguf.FileMostlyQ8_0, gguf.Q8_0, true
	case "q4_0":
		s.fileType, s.base, s.quantised = gguf.FileMostlyQ4_0, gguf.Q4_0, true
	case "q4_k_m":
		s.fileType, s.base, s.quantised = gguf.FileMostlyQ4_KM, gguf.Q4_K, true
	}
	return s, nil
}

// useMoreBits is llama-quantize's choice of the layers whose attn_v and
// ffn_down get more bits in the _M mixtures: the first and last eighth, and
// every third layer between.
func useMoreBits(i, n int) bool {
	return i < n/8 || i >= 7*n/8 || (i-n/8)%3 == 2
}

// typeOf returns the type of tensor name (GGUF naming) with ggml shape
// shape, in block layer (-1 outside the blocks).
func (s *scheme) typeOf(name string, shape []int, layer int) gguf.Type {
	if len(shape) < 2 || strings.HasSuffix(name, "_norm.weight") || !strings.HasSuffix(name, ".weight") {
		return gguf.F32
	}
	if !s.quantised {
		return s.base
	}
	if name == "position_embd.weight" { // llama-quantize leaves it as converted: F16
		return gguf.F16
	}
	t := s.base
	isOutput := name == "output.weight" || (s.tied && name == "token_embd.weight")
	switch {
	case isOutput:
		switch {
		case shape[0]%t.BlockSize() != 0:
			t = gguf.Q8_0
		case t != gguf.Q8_0:
			t = gguf.Q6_K
		}
	case s.name == "q4_k_m" && (strings.HasSuffix(name, ".attn_v.weight") || strings.HasSuffix(name, ".attn_qkv.weight")):
		if useMoreBits(layer, s.layers) {
			t = gguf.Q6_K
		}
	case s.name == "q4_k_m" && strings.HasSuffix(name, ".ffn_down.weight"):
		if useMoreBits(layer, s.layers) {
			t = gguf.Q6_K
		}
	}
	return fallback(t, shape[0])
}

// fallback is llama-quantize's tensor_type_fallback: a row length the block
// does not divide takes the nearest 32-block type, and F16 if even that does
// not fit.
func fallback(t gguf.Type, ncols int) gguf.Type {
	if ncols%t.BlockSize() == 0 {
		return t
	}
	switch t {
	case gguf.Q4_K:
		t = gguf.Q5_0
	case gguf.Q5_K:
		t = gguf.Q5_1
	case gguf.Q6_K:
		t = gguf.Q8_0
	}
	if ncols%t.BlockSize() != 0 {
		return gguf.F16
	}
	return t
}
