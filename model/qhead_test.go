package model

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/align-go/align/nn"
)

// With LoadOptions.QuantizeLMHead the LM head — and the embedding when the
// head is tied to it — is quantised in the load dtype, and every reader of
// it (the training forward's head product, backward through the frozen
// head, the fused head's log-probs and d(hidden), the embedding lookup,
// cached decoding) computes what the f32 model holding the dequantised
// tables computes. Batch-1 greedy decoding is bit-identical (the fused
// int8/4-bit kernels sum as the f32 tiles do; widths are whole 4-bit
// blocks); the batched products agree to f32 rounding. An untied model's
// embedding stays as the checkpoint stores it (f32 here).
func TestQuantizedHeadMatchesDequantised(t *testing.T) {
	for _, tied := range []bool{true, false} {
		cfg := quantTestConfig(t, tied)
		dir := savedModel(t, cfg, "F32", 0.1)
		for _, c := range []struct {
			dt string
			dq bool
		}{{"int8", false}, {"nf4", false}, {"nf4", true}} {
			cm, _, err := LoadDirOpts(dir, LoadOptions{WeightDType: c.dt, DoubleQuant: c.dq, QuantizeLMHead: true})
			if err != nil {
				t.Fatal(err)
			}
			name := map[bool]string{true: "tied", false: "untied"}[tied] + "/" + c.dt
			if c.dq {
				name += "+dq"
			}
			want, _ := nn.ParseWeightDType(c.dt)
			if q := cm.headTable(); q == nil || q.DType != want {
				t.Fatalf("%s: head %v, want %s", name, q, c.dt)
			}
			wantEmb := want
			if !tied {
				wantEmb = nn.WeightF32
			}
			if q := cm.embedTable(); q == nil || q.DType != wantEmb {
				t.Fatalf("%s: embedding %v, want %s", name, q, wantEmb)
			}
			if q := cm.headTable(); c.dq != (q.Absmax == nil) {
				t.Fatalf("%s: double quantisation of the head's scales %v, asked %v", name, q.Absmax == nil, c.dq)
			}
			ref := dequantisedTwin(t, dir, cm)

			// Batch-1 greedy decoding: bit for bit.
			prompt := []int32{3, 14, 15, 2, 65, 35, 89, 79}
			gt, gl := greedyRun(t, cm, prompt, 12)
			wt, wl := greedyRun(t, ref, prompt, 12)
			for i := range gl {
				if math.Float32bits(gl[i]) != math.Float32bits(wl[i]) {
					t.Fatalf("%s: decode logit %d (step %d) = %v, f32 on the dequantised tables %v", name, i, i/cfg.Vocab, gl[i], wl[i])
				}
			}
			for i := range gt {
				if gt[i] != wt[i] {
					t.Fatalf("%s: greedy tokens %v, want %v", name, gt, wt)
				}
			}
			// Batched cached decoding (rows of 3 prompts, then 3 at a time).
			if d := relDiff(decodeRun(t, cm), decodeRun(t, ref)); d > 1e-5 {
				t.Fatalf("%s: batched cached decoding differs by %.3g (relative)", name, d)
			}

			// Training forward, and backward through the frozen head into
			// LoRA adapters; the fused head's log-probs and d(hidden).
			for _, m := range []*Model{cm, ref} {
				if err := m.AttachLoRA(LoRAConfig{R: 4, Alpha: 8, Targets: []string{"all-linear"}}, 3); err != nil {
					t.Fatal(err)
				}
				randomizeB(m, 4)
				m.EnableGrad()
			}
			r := rand.New(rand.NewPCG(1, 1))
			for _, bt := range [][2]int{{2, 5}, {3, 20}} { // 10 rows: tiles; 60: panels
				B, T, V := bt[0], bt[1], cfg.Vocab
				ids := make([]int32, B*T)
				for i := range ids {
					ids[i] = int32(r.IntN(V))
				}
				b := Batch{B: B, T: T, IDs: ids}
				if d := relDiff(logitsOf(t, cm, b), logitsOf(t, ref, b)); d > 1e-5 {
					t.Fatalf("%s %d rows: logits differ by %.3g (relative)", name, B*T, d)
				}
				dl := make([]float32, B*T*V)
				for i := range dl {
					dl[i] = float32(r.NormFloat64())
				}
				var grads, logps, dhs [2][]float32
				for i, m := range []*Model{cm, ref} {
					if _, _, err := m.Forward(b, true); err != nil {
						t.Fatal(err)
					}
					clear(m.LoRA().Grad)
					if err := m.Backward(dl, nil); err != nil {
						t.Fatal(err)
					}
					grads[i] = append([]float32(nil), m.LoRA().Grad...)

					_, hidden, err := m.Forward(b, false)
					if err != nil {
						t.Fatal(err)
					}
					h := m.LMHead()
					p := h.Forward(hidden, ids, B*T, 1, nn.HeadWant{})
					dlogp := make([]float64, B*T)
					for j := range dlogp {
						logps[i] = append(logps[i], float32(p.Logp[j]))
						dlogp[j] = float64(j%3) - 1
					}
					dh := make([]float32, len(hidden))
					h.Backward(dh, p, dlogp, nil)
					dhs[i] = dh
				}
				if d := relDiff(grads[0], grads[1]); d > 1e-4 {
					t.Fatalf("%s %d rows: LoRA gradients through the head differ by %.3g (relative)", name, B*T, d)
				}
				if d := relDiff(logps[0], logps[1]); d > 1e-5 {
					t.Fatalf("%s %d rows: fused head log-probs differ by %.3g (relative)", name, B*T, d)
				}
				if d := relDiff(dhs[0], dhs[1]); d > 1e-4 {
					t.Fatalf("%s %d rows: fused head d(hidden) differs by %.3g (relative)", name, B*T, d)
				}
			}
		}
	}
}

// Without QuantizeLMHead, or with a 16-bit load dtype, the option changes
// nothing: the tables stay as the checkpoint stores them.
func TestQuantizeLMHeadOffOr16Bit(t *testing.T) {
	dir := savedModel(t, cacheConfig("qwen2", true), "BF16", 0)
	for _, opt := range []LoadOptions{{WeightDType: "int8"}, {WeightDType: "auto", QuantizeLMHead: true}, {WeightDType: "bf16", QuantizeLMHead: true}} {
		m, _, err := LoadDirOpts(dir, opt)
		if err != nil {
			t.Fatal(err)
		}
		for _, q := range []*nn.QWeight{m.embedTable(), m.headTable()} {
			if q.DType != nn.WeightBF16 {
				t.Errorf("%+v: table in %s, want bf16", opt, q.DType)
			}
		}
	}
}
