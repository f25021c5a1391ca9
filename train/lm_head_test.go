package train

import (
	"testing"

	"github.com/align-go/align/model"
	"github.com/align-go/align/nn"
)

// TestCausalLMFusedHeadMatchesFullLogits: CausalLM's fused head gives the
// losses and every parameter gradient (the head's, the embedding's when
// tied, the blocks') of the unfused path — full [N,V] logits from Forward,
// nn.CrossEntropyFused, Backward(dlogits) — to 1e-5 relative, for a tied
// (gpt2) and an untied (llama) head, dense and LoRA, chunked in 3 rows so
// ignored and padded rows straddle chunk boundaries.
func TestCausalLMFusedHeadMatchesFullLogits(t *testing.T) {
	for _, mt := range []string{"gpt2", "llama"} {
		for _, lora := range []bool{false, true} {
			m := tinyModel(t, mt)
			if mt == "gpt2" != m.Cfg.Tied {
				t.Fatalf("%s: tied %v", mt, m.Cfg.Tied)
			}
			grads := func() []float32 { return append([]float32(nil), m.Grad...) }
			if lora {
				if err := m.AttachLoRA(model.LoRAConfig{R: 2, Alpha: 4, Targets: []string{"all-linear"}}, 3); err != nil {
					t.Fatal(err)
				}
				m.EnableGrad()
				lo := m.LoRA()
				for i := range lo.Data {
					lo.Data[i] += 0.05 * float32(i%7-3)
				}
				grads = func() []float32 { return append([]float32(nil), lo.Grad...) }
			}
			zero := func() {
				m.ZeroGrad()
				if lo := m.LoRA(); lo != nil {
					clear(lo.Grad)
				}
			}
			rows := rowsOf(5, 9, 2)
			labels := make([][]int32, len(rows))
			for i, r := range rows {
				labels[i] = append([]int32(nil), r...)
				labels[i][1] = -100
			}
			const w = 0.3
			lm := &CausalLM{Model: m}
			m.LMHead().Rows = 3
			zero()
			sum, n, err := lm.Run(rows, labels, w, true)
			if err != nil {
				t.Fatal(err)
			}
			got := grads()

			// The unfused path on the same padded batch.
			B, T, V := len(rows), 9, m.Cfg.Vocab
			ids, mask, targets := make([]int32, B*T), make([]int32, B*T), make([]int32, B*T)
			for b, r := range rows {
				for t := 0; t < T; t++ {
					i := b*T + t
					targets[i] = -1
					if t < len(r) {
						ids[i], mask[i] = r[t], 1
						if t+1 < len(r) && labels[b][t+1] >= 0 {
							targets[i] = r[t+1]
						}
					}
				}
			}
			zero()
			logits, _, err := m.Forward(model.Batch{B: B, T: T, IDs: ids, Mask: mask}, true)
			if err != nil {
				t.Fatal(err)
			}
			losses, dl, dloss := make([]float32, B*T), make([]float32, B*T*V), make([]float32, B*T)
			for i, tg := range targets {
				if tg >= 0 {
					dloss[i] = w
				}
			}
			nn.CrossEntropyFused(losses, dl, logits, targets, dloss, B*T, V)
			if err := m.Backward(dl, nil); err != nil {
				t.Fatal(err)
			}
			var want float64
			wantN := 0
			for i, tg := range targets {
				if tg >= 0 {
					want += float64(losses[i])
					wantN++
				}
			}
			if n != wantN || (sum-want) > 1e-5*want || (want-sum) > 1e-5*want {
				t.Fatalf("%s lora=%v: loss %v over %d, unfused %v over %d", mt, lora, sum, n, want, wantN)
			}
			ref := grads()
			if d, s := maxAbsDiff(ref, got); d > 1e-5*s || s == 0 {
				t.Fatalf("%s lora=%v: gradients differ from the unfused path by %g (scale %g)", mt, lora, d, s)
			}
		}
	}
}
