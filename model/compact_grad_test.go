package model

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/align-go/align/tensor"
)

// loraGradOf runs one forward and backward of m on b with the upstream
// gradient dl and returns a copy of the adapter gradients.
func loraGradOf(t *testing.T, m *Model, b Batch, dl []float32) []float32 {
	t.Helper()
	if _, _, err := m.Forward(b, true); err != nil {
		t.Fatal(err)
	}
	clear(m.LoRA().Grad)
	if err := m.Backward(dl, nil); err != nil {
		t.Fatal(err)
	}
	return append([]float32(nil), m.LoRA().Grad...)
}

// TestCompactBaseFirstLayerLoRAGrad: the input gradient goes back through
// every frozen compact Linear (bf16, f16, int8, nf4, fp4) to the earlier
// layers' adapters, at f32 and at bf16 compute (the path --bf16 LoRA on a
// compact base takes, whose bf16 weights go through the bf16-bits GEMM),
// and with gradient checkpointing. A break there leaves the loss falling
// (the last layer's adapters still learn), so what is checked is the FIRST
// layer's adapter gradients, each adapter matrix against the f32 model
// holding the dequantised weights: relative error (to the matrix's largest
// entry) under 1e-4 at f32 compute and 3e-2 at bf16 compute (bf16 rounds the
// products' operands in both models, not always at the same points; seen
// ≤ 2.1e-6 and ≤ 8.7e-3). Dropping the compact input gradient, for any one
// dtype or only at bf16 compute, moves them by 0.28 or more. With checkpointing the gradients are the same bits as
// without, as they are on an f32 base.
func TestCompactBaseFirstLayerLoRAGrad(t *testing.T) {
	dir := savedModel(t, cacheConfig("llama", true), "BF16", 0)
	r := rand.New(rand.NewPCG(2, 3))
	B, T := 2, 5
	ids := make([]int32, B*T)
	for i := range ids {
		ids[i] = int32(r.IntN(70))
	}
	b := Batch{B: B, T: T, IDs: ids}
	dl := make([]float32, B*T*70)
	for i := range dl {
		dl[i] = float32(r.NormFloat64())
	}
	for _, dt := range []string{"auto", "f16", "int8", "nf4", "fp4"} {
		cm, _, err := LoadDirOpts(dir, LoadOptions{WeightDType: dt})
		if err != nil {
			t.Fatal(err)
		}
		ref := dequantisedTwin(t, dir, cm)
		for _, m := range []*Model{cm, ref} {
			if err := m.AttachLoRA(LoRAConfig{R: 4, Alpha: 8, Targets: []string{"all-linear"}}, 3); err != nil {
				t.Fatal(err)
			}
			randomizeB(m, 4)
			m.EnableGrad()
		}
		for _, pc := range []struct {
			p   tensor.Prec
			tol float64
		}{{tensor.F32, 1e-4}, {tensor.BF16, 3e-2}} {
			name := fmt.Sprintf("%s/%v", dt, pc.p)
			cm.SetCompute(pc.p)
			ref.SetCompute(pc.p)
			cm.SetGradientCheckpointing(false)
			want, got := loraGradOf(t, ref, b, dl), loraGradOf(t, cm, b, dl)
			n := 0
			for _, p := range cm.LoRA().Params {
				if !strings.Contains(p.Name, "layers.0.") {
					continue
				}
				n++
				g, w := got[p.Offset:p.Offset+p.Size], want[p.Offset:p.Offset+p.Size]
				if d := relDiff(g, w); !(d <= pc.tol) || maxAbs(w) == 0 {
					t.Errorf("%s: %s gradient differs from the dequantised f32 model's by %.3g (relative; largest %g)", name, p.Name, d, maxAbs(w))
				}
			}
			if n != 14 { // 7 Linears × (A, B)
				t.Fatalf("%s: %d first-layer adapter matrices, want 14", name, n)
			}
			cm.SetGradientCheckpointing(true)
			ck := loraGradOf(t, cm, b, dl)
			for i := range got {
				if math.Float32bits(ck[i]) != math.Float32bits(got[i]) {
					t.Fatalf("%s: with checkpointing, adapter gradient %d is %g, without %g", name, i, ck[i], got[i])
				}
			}
		}
	}
}

func maxAbs(a []float32) float64 {
	s := 0.0
	for _, v := range a {
		s = math.Max(s, math.Abs(float64(v)))
	}
	return s
}
