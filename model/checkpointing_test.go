package model

import (
	"math"
	"math/rand/v2"
	"testing"
)

// ckptRun runs one forward and backward of a fresh seeded model (dense or
// with LoRA, dropout on) and returns its logits and every gradient it
// accumulated, with gradient checkpointing on or off.
func ckptRun(t *testing.T, mt string, lora bool, b Batch, ckpt bool) (logits, grad []float32) {
	t.Helper()
	c := tinyConfig(mt)
	c.Layers = 3 // the middle block is recomputed between two others
	m := New(c)
	m.InitRandom(11)
	if lora {
		if err := m.AttachLoRA(LoRAConfig{R: 4, Alpha: 8, Dropout: 0.1, Targets: []string{"all-linear"}}, 5); err != nil {
			t.Fatal(err)
		}
		randomizeB(m, 6)
		m.LoRA().Training, m.LoRA().DropoutSeed = true, 77
	}
	m.SetGradientCheckpointing(ckpt)
	m.EnableGrad()
	r := rand.New(rand.NewPCG(3, 4))
	N, V, C := b.B*b.T, c.Vocab, c.Dim
	// Two micro-batches: the second reuses the activation buffer.
	for range 2 {
		lg, _, err := m.Forward(b, true)
		if err != nil {
			t.Fatal(err)
		}
		logits = append(logits[:0], lg...)
		dl, dh := make([]float32, N*V), make([]float32, N*C)
		for i := range dl {
			dl[i] = float32(r.NormFloat64())
		}
		for i := range dh {
			dh[i] = float32(r.NormFloat64())
		}
		if err := m.Backward(dl, dh); err != nil {
			t.Fatal(err)
		}
	}
	grad = append([]float32(nil), m.Grad...)
	if lora {
		grad = append(grad, m.LoRA().Grad...)
	}
	return logits, grad
}

// TestGradientCheckpointingBitIdentical: recomputing each block in Backward
// gives every gradient (and the logits) bit for bit, for both architectures
// (and qwen3's q/k norms), dense and LoRA (with dropout, whose masks are
// regenerated), on left/right-padded and packed batches.
func TestGradientCheckpointingBitIdentical(t *testing.T) {
	const B, T = 2, 12
	ids := make([]int32, B*T)
	for i := range ids {
		ids[i] = int32((i*17 + 3) % 50)
	}
	mask := make([]int32, B*T)
	for i := range mask {
		tt := i % T
		if (i < T && tt >= 3) || (i >= T && tt < 9) { // row 0 left-padded, row 1 right-padded
			mask[i] = 1
		}
	}
	seg := append(segRow(T, 4, 1, 5), segRow(T, 12)...)
	batches := map[string]Batch{
		"padded": {B: B, T: T, IDs: ids, Mask: mask},
		"packed": {B: B, T: T, IDs: ids, Seg: seg},
	}
	for _, mt := range []string{"gpt2", "llama", "qwen3"} {
		for _, lora := range []bool{false, true} {
			for name, b := range batches {
				lg0, g0 := ckptRun(t, mt, lora, b, false)
				lg1, g1 := ckptRun(t, mt, lora, b, true)
				if len(g0) == 0 || len(g0) != len(g1) {
					t.Fatalf("%s lora=%v %s: %d and %d gradients", mt, lora, name, len(g0), len(g1))
				}
				nonzero := 0
				for i := range g0 {
					if math.Float32bits(g0[i]) != math.Float32bits(g1[i]) {
						t.Fatalf("%s lora=%v %s: gradient %d differs: %g without checkpointing, %g with", mt, lora, name, i, g0[i], g1[i])
					}
					if g0[i] != 0 {
						nonzero++
					}
				}
				if nonzero < len(g0)/4 {
					t.Fatalf("%s lora=%v %s: only %d of %d gradients nonzero", mt, lora, name, nonzero, len(g0))
				}
				for i := range lg0 {
					if math.Float32bits(lg0[i]) != math.Float32bits(lg1[i]) {
						t.Fatalf("%s lora=%v %s: logit %d differs", mt, lora, name, i)
					}
				}
			}
		}
	}
}

// TestGradientCheckpointingMemory: the activation buffer loses all but one
// block's activations, less the blocks' inputs it keeps — the size worked
// out here from the layer shapes.
func TestGradientCheckpointingMemory(t *testing.T) {
	for _, mt := range []string{"gpt2", "llama", "qwen3"} {
		c := tinyConfig(mt)
		c.Layers = 4
		const B, T = 2, 16
		N, C, Q, KV, F := B*T, c.Dim, c.Heads*c.HeadDim, c.KVHeads*c.HeadDim, c.FFN
		// One block's activations besides its input x.
		block := N*C + 2*N + N*Q + 2*N*KV + B*c.Heads*T + N*Q + N*C + N*C + 2*N
		if c.QKNorm {
			block += N*Q + N*KV + N*c.Heads + N*c.KVHeads
		}
		if c.Arch == ArchGPT2 {
			block += 2 * N * F
		} else {
			block += 3 * N * F
		}
		size := func(ckpt bool) int {
			m := New(c)
			m.SetGradientCheckpointing(ckpt)
			ids := make([]int32, N)
			if _, _, err := m.Forward(Batch{B: B, T: T, IDs: ids}, false); err != nil {
				t.Fatal(err)
			}
			return len(m.acts.buf)
		}
		off, on := size(false), size(true)
		if want := off - (c.Layers-1)*block; on != want {
			t.Errorf("%s: checkpointed activations %d floats, want %d (%d without)", mt, on, want, off)
		}
		t.Logf("%s: activations %d -> %d floats (%.0f%%)", mt, off, on, 100*float64(on)/float64(off))
	}
}
