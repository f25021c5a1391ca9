package model

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"

	"github.com/align-go/align/checkpoint"
)

// LoadDir loads an HF model directory: config.json plus model.safetensors or a
// sharded index. F16/BF16 weights are widened to float32. Any tensor that is not
// part of the transformer is an error.
func LoadDir(dir string) (*Model, error) {
	m, _, err := LoadDirWith(dir)
	return m, err
}

// LoadDirWith is LoadDir for directories that carry head tensors beside the
// transformer (a sequence-classification "score.weight", a value head): the
// named extras are returned instead of rejected. A missing extra is not an error
// (a causal LM used as a reward-model starting point has none); callers check.
// Such a checkpoint may lack an untied lm_head.weight, as HF's
// *ForSequenceClassification models do: HasLMHead then reports false.
func LoadDirWith(dir string, extras ...string) (*Model, map[string]NamedTensor, error) {
	cfg, err := LoadConfig(filepath.Join(dir, "config.json"))
	if err != nil {
		return nil, nil, err
	}
	return New(cfg).loadFrom(dir, extras)
}

// loadFrom fills m, allocated for dir's config, from dir's safetensors.
func (m *Model) loadFrom(dir string, extras []string) (*Model, map[string]NamedTensor, error) {
	set, err := checkpoint.OpenDir(dir)
	if err != nil {
		return nil, nil, err
	}
	files := set.Files()
	where := dir
	if len(files) == 1 {
		where = files[0]
	}
	m.allowExtra = map[string]bool{}
	for _, e := range extras {
		m.allowExtra[e] = true
	}
	if m.hfPrefix, err = m.ImportHF(set, m.Data, where); err != nil {
		return nil, nil, err
	}
	m.prefixKnown = true
	got := map[string]NamedTensor{}
	for _, e := range extras {
		if _, ok := set.Info(e); !ok {
			continue
		}
		d, shape, err := set.Float32(e)
		if err != nil {
			return nil, nil, err
		}
		got[e] = NamedTensor{Name: e, Shape: shape, Data: d}
	}
	return m, got, nil
}

// SaveDir writes config.json and model.safetensors (dtype "F32", "BF16" or "F16")
// into dir, which is created if needed, under the names HF transformers loads.
func (m *Model) SaveDir(dir, dtype string) error {
	return m.SaveDirWith(dir, dtype, nil, nil)
}

// SaveDirWith is SaveDir plus head tensors written beside the transformer's
// (e.g. "score.weight") and config.json fields set over the model's own (e.g.
// architectures, num_labels), so heads round-trip through LoadDirWith.
func (m *Model) SaveDirWith(dir, dtype string, extra []NamedTensor, config map[string]any) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	cfg := m.Cfg.HF(dtype)
	maps.Copy(cfg, config)
	if err := checkpoint.WriteJSON(filepath.Join(dir, "config.json"), cfg); err != nil {
		return err
	}
	var ts []checkpoint.Tensor
	for _, t := range append(m.ExportHF(m.Data, m.HFPrefix()), extra...) {
		if t.Name == "lm_head.weight" && m.missingLMHead {
			continue // never invent an LM head the source did not have
		}
		ts = append(ts, checkpoint.Tensor{Name: t.Name, Shape: t.Shape, Data: t.Data, DType: dtype})
	}
	return checkpoint.Write(filepath.Join(dir, checkpoint.SingleFile), ts, map[string]string{"format": "pt"})
}

// HasLMHead is false for a model loaded from a head-only checkpoint whose LM
// head is absent (and zero here): its logits mean nothing.
func (m *Model) HasLMHead() bool { return !m.missingLMHead }

// HFPrefix is the GPT-2 tensor-name prefix saves use: the loaded checkpoint's
// own, or "transformer." (what GPT2LMHeadModel writes) for a fresh model.
func (m *Model) HFPrefix() string {
	if m.Cfg.Arch == ArchGPT2 && !m.prefixKnown {
		return "transformer."
	}
	return m.hfPrefix
}

// HF returns config.json's content for this shape: the fields Align interprets
// are set from the struct, everything else read at load time is kept.
func (c *Config) HF(dtype string) map[string]any {
	out := map[string]any{}
	maps.Copy(out, c.Raw)
	set := func(k string, v any) { out[k] = v }
	set("model_type", c.ModelType)
	set("vocab_size", c.Vocab)
	set("tie_word_embeddings", c.Tied)
	switch dtype {
	case "BF16":
		set("torch_dtype", "bfloat16")
	case "F16":
		set("torch_dtype", "float16")
	default:
		set("torch_dtype", "float32")
	}
	if c.Arch == ArchGPT2 {
		if _, ok := out["architectures"]; !ok {
			set("architectures", []string{"GPT2LMHeadModel"})
		}
		set("n_embd", c.Dim)
		set("n_layer", c.Layers)
		set("n_head", c.Heads)
		set("n_inner", c.FFN)
		set("n_positions", c.MaxPos)
		if _, ok := out["n_ctx"]; ok {
			set("n_ctx", c.MaxPos)
		}
		set("layer_norm_epsilon", c.NormEps)
		if _, ok := out["activation_function"]; !ok {
			set("activation_function", "gelu_new")
		}
	} else {
		if _, ok := out["architectures"]; !ok {
			arch := map[string]string{"llama": "LlamaForCausalLM", "mistral": "MistralForCausalLM",
				"qwen2": "Qwen2ForCausalLM", "qwen3": "Qwen3ForCausalLM"}[c.ModelType]
			set("architectures", []string{arch})
		}
		set("hidden_size", c.Dim)
		set("num_hidden_layers", c.Layers)
		set("num_attention_heads", c.Heads)
		set("num_key_value_heads", c.KVHeads)
		set("head_dim", c.HeadDim)
		set("intermediate_size", c.FFN)
		set("max_position_embeddings", c.MaxPos)
		set("rms_norm_eps", c.NormEps)
		set("rope_theta", c.RopeTheta)
		set("hidden_act", "silu")
		if c.ModelType != "qwen2" {
			set("attention_bias", c.AttnBias)
		}
		if c.ModelType == "llama" {
			set("mlp_bias", c.MLPBias)
		}
	}
	for k, v := range map[string]int{"bos_token_id": c.BOS, "eos_token_id": c.EOS, "pad_token_id": c.PAD} {
		if v >= 0 {
			if _, isList := out[k].([]any); !isList || k != "eos_token_id" {
				set(k, v)
			}
		}
	}
	return out
}

// Describe is a one-line summary for logs and `align info`.
func (c *Config) Describe() string {
	return fmt.Sprintf("%s: %d layers, d_model %d, %d heads (%d kv, head_dim %d), ffn %d, vocab %d, context %d",
		c.ModelType, c.Layers, c.Dim, c.Heads, c.KVHeads, c.HeadDim, c.FFN, c.Vocab, c.MaxPos)
}
