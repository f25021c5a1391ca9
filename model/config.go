// Package model holds the decoder-only transformer families Align trains —
// GPT-2 and the Llama family (llama, mistral, qwen2, qwen3) — as one parameter
// allocation, one activation allocation, and an explicit forward and backward
// pass composed from package nn, with HuggingFace config.json and safetensors
// naming on the way in and out.
package model

import (
	"encoding/json"
	"fmt"
	"math"
	"os"

	"github.com/align-go/align/nn"
)

// Arch is the layer family a model_type belongs to.
type Arch int

const (
	// ArchGPT2: learned positions, LayerNorm, GELU MLP, biases everywhere.
	ArchGPT2 Arch = iota
	// ArchLlama: RoPE, RMSNorm, SwiGLU MLP, grouped-query attention.
	ArchLlama
)

// Config is the resolved shape of a model, read from HF config.json.
type Config struct {
	ModelType     string  // gpt2, llama, mistral, qwen2, qwen3
	Arch          Arch    // derived from ModelType
	Vocab         int     // vocab_size
	Dim           int     // hidden_size / n_embd
	Layers        int     // num_hidden_layers / n_layer
	Heads         int     // num_attention_heads / n_head
	KVHeads       int     // num_key_value_heads (== Heads without GQA)
	HeadDim       int     // head_dim (qwen3 sets it explicitly)
	FFN           int     // intermediate_size / n_inner
	MaxPos        int     // max_position_embeddings / n_positions
	NormEps       float64 // rms_norm_eps / layer_norm_epsilon
	RopeTheta     float64
	Tied          bool // tie_word_embeddings
	AttnBias      bool // biases on q/k/v (qwen2 always; llama attention_bias also on o_proj)
	OBias         bool // bias on the attention output projection
	MLPBias       bool // llama mlp_bias
	QKNorm        bool // qwen3 per-head RMSNorm on q and k before RoPE
	SlidingWindow int  // mistral; 0 = none
	// RopeScaling is config.json's rope_scaling ("llama3" or "linear"); nil for plain RoPE.
	RopeScaling   *RopeScaling
	BOS, EOS, PAD int // -1 when absent

	// Raw is config.json as read, written back on save so fields we do not
	// interpret (rope_scaling notes, torch_dtype, custom keys) survive a round trip.
	Raw map[string]any
}

// LoadConfig reads and validates an HF config.json.
func LoadConfig(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var raw map[string]any
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	c, err := ParseConfig(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// ParseConfig resolves a decoded config.json, applying the defaults HF transformers applies.
func ParseConfig(raw map[string]any) (*Config, error) {
	r := cfgReader{raw: raw}
	c := &Config{Raw: raw, BOS: -1, EOS: -1, PAD: -1}
	c.ModelType = r.str("model_type", "")
	switch c.ModelType {
	case "gpt2":
		c.Arch = ArchGPT2
		c.Vocab = r.int("vocab_size", 50257)
		c.Dim = r.int("n_embd", 768)
		c.Layers = r.int("n_layer", 12)
		c.Heads = r.int("n_head", 12)
		c.KVHeads = c.Heads
		c.HeadDim = c.Dim / max(c.Heads, 1)
		c.FFN = r.int("n_inner", 4*c.Dim)
		c.MaxPos = r.int("n_positions", 1024)
		c.NormEps = r.float("layer_norm_epsilon", 1e-5)
		c.Tied = r.bool("tie_word_embeddings", true)
		c.AttnBias, c.OBias, c.MLPBias = true, true, true
		if act := r.str("activation_function", "gelu_new"); act != "gelu_new" && act != "gelu_pytorch_tanh" && act != "gelu" {
			return nil, fmt.Errorf("field \"activation_function\": %q not supported (want gelu_new)", act)
		}
	case "llama", "mistral", "qwen2", "qwen3":
		c.Arch = ArchLlama
		c.Vocab = r.int("vocab_size", 32000)
		c.Dim = r.int("hidden_size", 4096)
		c.Layers = r.int("num_hidden_layers", 32)
		c.Heads = r.int("num_attention_heads", 32)
		c.KVHeads = r.int("num_key_value_heads", c.Heads)
		c.HeadDim = r.int("head_dim", c.Dim/max(c.Heads, 1))
		c.FFN = r.int("intermediate_size", 11008)
		c.MaxPos = r.int("max_position_embeddings", 2048)
		c.NormEps = r.float("rms_norm_eps", 1e-6)
		c.RopeTheta = r.float("rope_theta", 10000)
		c.Tied = r.bool("tie_word_embeddings", false)
		switch c.ModelType {
		case "qwen2":
			c.AttnBias = true
		case "qwen3":
			c.QKNorm = true
			c.AttnBias = r.bool("attention_bias", false)
			c.OBias = c.AttnBias
		default:
			c.AttnBias = r.bool("attention_bias", false)
			c.OBias = c.AttnBias
			c.MLPBias = r.bool("mlp_bias", false)
		}
		if c.ModelType == "mistral" {
			c.SlidingWindow = r.int("sliding_window", 0)
		}
		if act := r.str("hidden_act", "silu"); act != "silu" {
			return nil, fmt.Errorf("field \"hidden_act\": %q not supported (want silu)", act)
		}
		if err := c.parseRopeScaling(raw["rope_scaling"]); err != nil {
			return nil, err
		}
	case "":
		return nil, fmt.Errorf("field \"model_type\": missing")
	default:
		return nil, fmt.Errorf("field \"model_type\": %q not supported (want gpt2, llama, mistral, qwen2 or qwen3)", c.ModelType)
	}
	c.BOS = r.int("bos_token_id", -1)
	c.EOS = r.int("eos_token_id", -1)
	c.PAD = r.int("pad_token_id", -1)
	if r.err != nil {
		return nil, r.err
	}
	return c, c.validate()
}

func (c *Config) validate() error {
	pos := func(name string, v int) error {
		if v <= 0 {
			return fmt.Errorf("field %q: must be positive, got %d", name, v)
		}
		return nil
	}
	for _, f := range []struct {
		n string
		v int
	}{{"vocab_size", c.Vocab}, {"hidden_size", c.Dim}, {"num_hidden_layers", c.Layers},
		{"num_attention_heads", c.Heads}, {"num_key_value_heads", c.KVHeads}, {"head_dim", c.HeadDim},
		{"intermediate_size", c.FFN}, {"max_position_embeddings", c.MaxPos}} {
		if err := pos(f.n, f.v); err != nil {
			return err
		}
	}
	// Sizes no checkpoint has would overflow the parameter table's int
	// arithmetic (a panic) or ask for terabytes before any weight is read.
	for _, f := range []struct {
		n string
		v int
	}{{"vocab_size", c.Vocab}, {"hidden_size", c.Dim}, {"num_hidden_layers", c.Layers},
		{"num_attention_heads", c.Heads}, {"num_key_value_heads", c.KVHeads}, {"head_dim", c.HeadDim},
		{"intermediate_size", c.FFN}, {"max_position_embeddings", c.MaxPos}} {
		if f.v > maxConfigDim {
			return fmt.Errorf("field %q: %d is larger than any model's (limit %d)", f.n, f.v, maxConfigDim)
		}
	}
	if n := c.paramEstimate(); n > maxParams {
		return fmt.Errorf("config describes %.3g parameters, more than the %.3g this build allocates", n, float64(maxParams))
	}
	if c.Heads%c.KVHeads != 0 {
		return fmt.Errorf("field \"num_key_value_heads\": %d does not divide num_attention_heads %d", c.KVHeads, c.Heads)
	}
	if c.Arch == ArchGPT2 && c.Dim%c.Heads != 0 {
		return fmt.Errorf("field \"n_head\": %d does not divide n_embd %d", c.Heads, c.Dim)
	}
	if c.Arch == ArchLlama && c.HeadDim%2 != 0 {
		return fmt.Errorf("field \"head_dim\": RoPE needs an even head size, got %d", c.HeadDim)
	}
	return nil
}

// Limits on a config's sizes: 16M in any one dimension (a 10M-token context
// fits) and 2^40 parameters (4 TiB in float32).
const (
	maxConfigDim = 1 << 24
	maxParams    = 1 << 40
)

// paramEstimate counts the parameters paramTable allocates, in float64 so
// that an absurd config cannot overflow the count (norms and biases, a few
// vectors per layer, are left out).
func (c *Config) paramEstimate() float64 {
	C, Q, KV, F := float64(c.Dim), float64(c.Heads*c.HeadDim), float64(c.KVHeads*c.HeadDim), float64(c.FFN)
	n := float64(c.Vocab) * C
	if !c.Tied {
		n *= 2
	}
	if c.Arch == ArchGPT2 {
		n += float64(c.MaxPos) * C
	}
	mlp := 3 * C * F // gate, up, down
	if c.Arch == ArchGPT2 {
		mlp = 2 * C * F
	}
	return n + float64(c.Layers)*(2*Q*C+2*KV*C+mlp)
}

// cfgReader reads typed fields from decoded JSON, remembering the first type error.
type cfgReader struct {
	raw map[string]any
	err error
}

func (r *cfgReader) fail(key, want string, v any) {
	if r.err == nil {
		r.err = fmt.Errorf("field %q: want %s, got %v", key, want, v)
	}
}

func (r *cfgReader) int(key string, def int) int {
	v, ok := r.raw[key]
	if !ok || v == nil {
		return def
	}
	switch x := v.(type) {
	case float64:
		if x != float64(int(x)) {
			r.fail(key, "an integer", v)
		}
		return int(x)
	case []any: // eos_token_id may be a list; the first is the canonical one
		if len(x) > 0 {
			if f, ok := x[0].(float64); ok && f == float64(int(f)) {
				return int(f)
			}
		}
	}
	r.fail(key, "an integer", v)
	return def
}

func (r *cfgReader) float(key string, def float64) float64 {
	v, ok := r.raw[key]
	if !ok || v == nil {
		return def
	}
	if f, ok := v.(float64); ok {
		return f
	}
	r.fail(key, "a number", v)
	return def
}

func (r *cfgReader) bool(key string, def bool) bool {
	v, ok := r.raw[key]
	if !ok || v == nil {
		return def
	}
	if b, ok := v.(bool); ok {
		return b
	}
	r.fail(key, "a boolean", v)
	return def
}

func (r *cfgReader) str(key, def string) string {
	v, ok := r.raw[key]
	if !ok || v == nil {
		return def
	}
	if s, ok := v.(string); ok {
		return s
	}
	r.fail(key, "a string", v)
	return def
}

// RopeScaling is the part of rope_scaling that changes the frequencies.
type RopeScaling struct {
	Type                    string  // "llama3" or "linear"
	Factor                  float64 // both
	LowFreqFactor           float64 // llama3
	HighFreqFactor          float64 // llama3
	OriginalMaxPositionEmbs float64 // llama3: original_max_position_embeddings
}

func (c *Config) parseRopeScaling(v any) error {
	if v == nil {
		return nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return fmt.Errorf("field \"rope_scaling\": want an object or null, got %v", v)
	}
	r := cfgReader{raw: m}
	typ := r.str("rope_type", r.str("type", "default"))
	rs := &RopeScaling{Type: typ, Factor: r.float("factor", 1)}
	switch typ {
	case "default":
		return r.err
	case "linear":
	case "llama3":
		rs.LowFreqFactor = r.float("low_freq_factor", 1)
		rs.HighFreqFactor = r.float("high_freq_factor", 4)
		rs.OriginalMaxPositionEmbs = r.float("original_max_position_embeddings", 8192)
		if !(rs.HighFreqFactor > rs.LowFreqFactor) || rs.OriginalMaxPositionEmbs <= 0 {
			return fmt.Errorf("field \"rope_scaling\": llama3 needs high_freq_factor > low_freq_factor and original_max_position_embeddings > 0")
		}
	default:
		return fmt.Errorf("field \"rope_scaling\": rope_type %q not supported (default, linear, llama3)", typ)
	}
	if r.err != nil {
		return fmt.Errorf("field \"rope_scaling\": %w", r.err)
	}
	if !(rs.Factor > 0) {
		return fmt.Errorf("field \"rope_scaling\": factor must be positive, got %v", rs.Factor)
	}
	c.RopeScaling = rs
	return nil
}

// RopeInvFreq is the model's RoPE frequency table, with rope_scaling applied
// the way HF transformers' _compute_llama3_parameters / linear scaling do, in
// float32 as its tensors are.
func (c *Config) RopeInvFreq() []float32 {
	inv := nn.RopeInvFreq(c.HeadDim, c.RopeTheta)
	rs := c.RopeScaling
	if rs == nil {
		return inv
	}
	factor := float32(rs.Factor)
	if rs.Type == "linear" {
		for i := range inv {
			inv[i] /= factor
		}
		return inv
	}
	old := float32(rs.OriginalMaxPositionEmbs)
	lo, hi := float32(rs.LowFreqFactor), float32(rs.HighFreqFactor)
	lowWavelen, highWavelen := old/lo, old/hi
	for i, f := range inv {
		wavelen := float32(2*math.Pi) / f
		switch {
		case wavelen < highWavelen: // high frequency: unchanged
		case wavelen > lowWavelen: // low frequency: scaled down
			inv[i] = f / factor
		default: // in between: interpolate
			smooth := (old/wavelen - lo) / (hi - lo)
			inv[i] = (1-smooth)*f/factor + smooth*f
		}
	}
	return inv
}
