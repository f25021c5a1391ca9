package export

import (
	"fmt"

	"github.com/align-go/align/gguf"
	"github.com/align-go/align/model"
)

// addTensors adds m's weights under llama.cpp's names. Our linear weights are
// torch's [out, in], which is ggml's shape {in, out} with the same bytes.
func addTensors(w *gguf.Writer, m *model.Model, s *scheme) error {
	c := m.Cfg
	W := m.W
	var err error
	add := func(name string, layer int, data []float32, shape ...int) {
		if err != nil || data == nil {
			return
		}
		err = w.AddFloat32(name, s.typeOf(name, shape, layer), shape, data)
	}
	C, Q, KV := c.Dim, c.Heads*c.HeadDim, c.KVHeads*c.HeadDim
	add("token_embd.weight", -1, W.Wte, C, c.Vocab)
	if c.Arch == model.ArchGPT2 {
		add("position_embd.weight", -1, W.Wpe, C, c.MaxPos)
	}
	if c.RopeScaling != nil && c.RopeScaling.Type == "llama3" {
		add("rope_freqs.weight", -1, llama3RopeFactors(c), c.HeadDim/2)
	}
	for l, L := range W.Layers {
		b := fmt.Sprintf("blk.%d.", l)
		add(b+"attn_norm.weight", l, L.Norm1W, C)
		add(b+"attn_norm.bias", l, L.Norm1B, C)
		if c.Arch == model.ArchGPT2 {
			// GPT-2's fused c_attn, as convert_hf_to_gguf writes it: q, k, v rows stacked.
			add(b+"attn_qkv.weight", l, concat(L.Wq, L.Wk, L.Wv), C, Q+2*KV)
			if L.Bq != nil {
				add(b+"attn_qkv.bias", l, concat(L.Bq, L.Bk, L.Bv), Q+2*KV)
			}
		} else {
			wq, wk, bq, bk := L.Wq, L.Wk, L.Bq, L.Bk
			if c.ModelType == "llama" || c.ModelType == "mistral" {
				// llama.cpp's "llama" rope rotates adjacent pairs; HF rotates
				// the two halves of each head. convert_hf_to_gguf permutes the
				// q and k rows so the former computes the latter.
				wq, wk = permuteHeads(wq, c.Heads, C), permuteHeads(wk, c.KVHeads, C)
				bq, bk = permuteHeads(bq, c.Heads, 1), permuteHeads(bk, c.KVHeads, 1)
			}
			add(b+"attn_q.weight", l, wq, C, Q)
			add(b+"attn_k.weight", l, wk, C, KV)
			add(b+"attn_v.weight", l, L.Wv, C, KV)
			add(b+"attn_q.bias", l, bq, Q)
			add(b+"attn_k.bias", l, bk, KV)
			add(b+"attn_v.bias", l, L.Bv, KV)
			add(b+"attn_q_norm.weight", l, L.QNorm, c.HeadDim)
			add(b+"attn_k_norm.weight", l, L.KNorm, c.HeadDim)
		}
		add(b+"attn_output.weight", l, L.Wo, Q, C)
		add(b+"attn_output.bias", l, L.Bo, C)
		add(b+"ffn_norm.weight", l, L.Norm2W, C)
		add(b+"ffn_norm.bias", l, L.Norm2B, C)
		if c.Arch == model.ArchGPT2 {
			add(b+"ffn_up.weight", l, L.Wfc, C, c.FFN)
			add(b+"ffn_up.bias", l, L.Bfc, c.FFN)
		} else {
			add(b+"ffn_gate.weight", l, L.Wgate, C, c.FFN)
			add(b+"ffn_gate.bias", l, L.Bgate, c.FFN)
			add(b+"ffn_up.weight", l, L.Wup, C, c.FFN)
			add(b+"ffn_up.bias", l, L.Bup, c.FFN)
		}
		add(b+"ffn_down.weight", l, L.Wdown, c.FFN, C)
		add(b+"ffn_down.bias", l, L.Bdown, C)
	}
	add("output_norm.weight", -1, W.NormFW, C)
	add("output_norm.bias", -1, W.NormFB, C)
	if !c.Tied {
		add("output.weight", -1, W.LMHead, C, c.Vocab)
	}
	return err
}

func concat(parts ...[]float32) []float32 {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	out := make([]float32, 0, n)
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// permuteHeads reorders the rows of a [heads·hd, cols] matrix (or a bias,
// cols 1) within each head from HF's half-split rotary layout to ggml's
// interleaved one: new row 2i+j of a head is old row j·hd/2+i. This is
// convert_hf_to_gguf.py's LlamaModel.permute.
func permuteHeads(w []float32, heads, cols int) []float32 {
	if w == nil {
		return nil
	}
	rows := len(w) / cols
	hd := rows / heads
	out := make([]float32, len(w))
	for h := 0; h < heads; h++ {
		for i := 0; i < hd/2; i++ {
			for j := 0; j < 2; j++ {
				dst := (h*hd + 2*i + j) * cols
				src := (h*hd + j*hd/2 + i) * cols
				copy(out[dst:dst+cols], w[src:src+cols])
			}
		}
	}
	return out
}

// llama3RopeFactors is the rope_freqs tensor llama.cpp divides each base
// frequency by: the ratio of the plain RoPE frequencies to the llama3-scaled
// ones the model computes (model.Config.RopeInvFreq).
func llama3RopeFactors(c *model.Config) []float32 {
	plain := *c
	plain.RopeScaling = nil
	base, scaled := plain.RopeInvFreq(), c.RopeInvFreq()
	out := make([]float32, len(base))
	for i := range out {
		out[i] = base[i] / scaled[i]
	}
	return out
}
