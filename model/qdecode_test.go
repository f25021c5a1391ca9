package model

import (
	"math"
	"testing"

	"github.com/align-go/align/internal/cputest"
)

// greedyRun decodes steps tokens greedily at batch 1 after prompt and
// returns the tokens and every step's logits.
func greedyRun(t *testing.T, m *Model, prompt []int32, steps int) ([]int32, []float32) {
	t.Helper()
	c, err := NewKVCache(m.Cfg, 1, len(prompt)+steps)
	if err != nil {
		t.Fatal(err)
	}
	lg, err := m.ForwardCached(c, nil, prompt, nil, len(prompt), false)
	if err != nil {
		t.Fatal(err)
	}
	var toks []int32
	var all []float32
	for s := 0; ; s++ {
		all = append(all, lg...)
		best := 0
		for j, v := range lg {
			if v > lg[best] {
				best = j
			}
		}
		toks = append(toks, int32(best))
		if s == steps-1 {
			return toks, all
		}
		if lg, err = m.ForwardCached(c, nil, []int32{int32(best)}, nil, 1, false); err != nil {
			t.Fatal(err)
		}
	}
}

// quantTestConfig is the small qwen2 the quantised-decoding tests share:
// widths of whole 4-bit blocks (64, 128), so every block Linear takes the
// fused kernels; a head of 90 rows.
func quantTestConfig(t *testing.T, tied bool) *Config {
	t.Helper()
	cfg, err := ParseConfig(map[string]any{"model_type": "qwen2", "vocab_size": 90.0, "hidden_size": 64.0,
		"num_hidden_layers": 2.0, "num_attention_heads": 4.0, "num_key_value_heads": 2.0,
		"intermediate_size": 128.0, "max_position_embeddings": 64.0, "tie_word_embeddings": tied})
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// Batch-1 greedy decoding from 8-bit and 4-bit weights against the f32
// model holding the same dequantised weights, on a model whose widths are
// whole 4-bit blocks (so every block Linear takes the fused kernels): the
// logits are bit-identical at every step (the fused kernels convert and sum
// exactly as the f32 tiles do), so the greedy tokens are too. The
// checkpoint is f32 so that the compact model's embedding and head are f32
// as the twin's are (from a bf16 checkpoint they stay bf16, and the bf16
// head kernel rounds its input).
func TestQuantGreedyMatchesDequantised(t *testing.T) {
	cfg := quantTestConfig(t, true)
	dir := savedModel(t, cfg, "F32", 0.1)
	prompt := []int32{3, 14, 15, 92 % 90, 65, 35, 89, 79}
	for _, c := range []struct {
		dt string
		dq bool
	}{{"int8", false}, {"nf4", false}, {"nf4", true}, {"fp4", false}} {
		cm, _, err := LoadDirOpts(dir, LoadOptions{WeightDType: c.dt, DoubleQuant: c.dq})
		if err != nil {
			t.Fatal(err)
		}
		ref := dequantisedTwin(t, dir, cm)
		gt, gl := greedyRun(t, cm, prompt, 12)
		wt, wl := greedyRun(t, ref, prompt, 12)
		for i := range gl {
			if math.Float32bits(gl[i]) != math.Float32bits(wl[i]) {
				t.Fatalf("%s dq=%v: logit %d (step %d) = %v, f32 on the dequantised weights %v", c.dt, c.dq, i, i/cfg.Vocab, gl[i], wl[i])
			}
		}
		for i := range gt {
			if gt[i] != wt[i] {
				t.Fatalf("%s dq=%v: greedy tokens %v, f32 on the dequantised weights %v", c.dt, c.dq, gt, wt)
			}
		}
	}
}

// DecodeReadBytes by hand for a Qwen2 of width 64 (2 layers, 4 heads of
// 16, 2 KV heads, FFN 128, vocabulary 90) at context 10: per layer the
// Linears hold 64·64 (q) + 2·32·64 (k, v) + 64·64 (o) + 3·128·64 (gate, up,
// down) = 36,864 weights over 512 output rows; f32 parameters besides them
// are 2·64 norm weights and 64+32+32 q/k/v biases per layer and the final
// norm's 64 (576 floats); the head is 90·64 f32 (an f32 checkpoint) — the
// embedding itself when tied, else a table of its own beside which one
// embedding row is read; the cache holds 2 layers × (k, v) × 10 positions
// × 32 floats.
func TestDecodeReadBytes(t *testing.T) {
	for _, tied := range []bool{true, false} {
		cfg := quantTestConfig(t, tied)
		dir := savedModel(t, cfg, "F32", 0)
		rest := int64(4*576 + 4*90*64 + 2*2*10*32*4)
		if !tied {
			rest += 4 * 64
		}
		// With QuantizeLMHead the head's 90·64 f32 are quantised like the
		// blocks: 90·64 bytes and 90 row absmaxes (int8), 90·64/2 bytes and
		// 90 block absmaxes (nf4); an untied model's embedding stays f32
		// and one row of it is still read.
		qrest := rest - 4*90*64
		for _, c := range []struct {
			dt    string
			qhead bool
			want  int64
		}{
			{"f32", false, 2*4*36864 + rest},
			{"int8", false, 2*(36864+4*512) + rest},       // a byte per weight, an f32 absmax per row
			{"nf4", false, 2*(36864/2+4*36864/64) + rest}, // half a byte per weight, an f32 absmax per 64
			{"int8", true, 2*(36864+4*512) + qrest + 90*64 + 4*90},
			{"nf4", true, 2*(36864/2+4*36864/64) + qrest + 90*64/2 + 4*90},
		} {
			m, _, err := LoadDirOpts(dir, LoadOptions{WeightDType: c.dt, QuantizeLMHead: c.qhead})
			if err != nil {
				t.Fatal(err)
			}
			if got := m.DecodeReadBytes(10); got != c.want {
				t.Errorf("tied=%v %s quantised head=%v: DecodeReadBytes(10) = %d, want %d", tied, c.dt, c.qhead, got, c.want)
			}
		}
	}
}

// LoadOptions.Int8Activations reaches every int8 weight (the blocks' and a
// quantised head's) and changes batch-1 decoding only by the input rows'
// 8-bit rounding: on a CPU with AVX512_VNNI the logits differ from the
// exact int8 path's (so the path is taken) by less than 3% of their spread
// at every step of a teacher-forced run; elsewhere they are the exact
// path's bit for bit.
func TestInt8ActivationsDecode(t *testing.T) {
	cfg := quantTestConfig(t, true)
	dir := savedModel(t, cfg, "F32", 0.1)
	exact, _, err := LoadDirOpts(dir, LoadOptions{WeightDType: "int8", QuantizeLMHead: true})
	if err != nil {
		t.Fatal(err)
	}
	act, _, err := LoadDirOpts(dir, LoadOptions{WeightDType: "int8", QuantizeLMHead: true, Int8Activations: true})
	if err != nil {
		t.Fatal(err)
	}
	if !act.embedQ.Int8Act || !act.qlin[1][0].Int8Act || exact.embedQ.Int8Act { // tied: the head is the embedding
		t.Fatal("Int8Activations does not reach the int8 weights (or reaches the exact model's)")
	}
	ids := []int32{3, 14, 15, 2, 65, 35, 89, 79, 32, 38, 46, 26}
	run := func(m *Model) [][]float32 {
		c, err := NewKVCache(m.Cfg, 1, len(ids))
		if err != nil {
			t.Fatal(err)
		}
		var out [][]float32
		for _, id := range ids {
			lg, err := m.ForwardCached(c, nil, []int32{id}, nil, 1, false)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, append([]float32(nil), lg...))
		}
		return out
	}
	want, got := run(exact), run(act)
	differ, worst := false, 0.0
	for s := range want {
		lo, hi := want[s][0], want[s][0]
		for _, v := range want[s] {
			lo, hi = min(lo, v), max(hi, v)
		}
		for j := range want[s] {
			d := math.Abs(float64(got[s][j] - want[s][j]))
			if d > 0.03*float64(hi-lo) {
				t.Fatalf("step %d logit %d: %v with int8 activations, %v exact (spread %v)", s, j, got[s][j], want[s][j], hi-lo)
			}
			differ = differ || d > 0
			worst = max(worst, d/float64(hi-lo))
		}
	}
	t.Logf("largest |Δ logit| / spread: %.3g", worst)
	if vnni := cputest.AsmBuild && cputest.Has("avx512f", "avx512vl", "avx512_vnni"); differ != vnni {
		t.Fatalf("logits differ from the exact path: %v; the CPU has AVX512_VNNI: %v", differ, vnni)
	}
}
