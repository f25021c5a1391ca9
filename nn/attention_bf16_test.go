package nn

import (
	"math"
	"testing"

	"github.com/align-go/align/tensor"
)

// bf16AttnShapes adds, to the small shapes, one with a real head width
// (HS = 64) and keys in more than one forward block.
var bf16AttnShapes = append(append([]attShape(nil), attShapes...), attShape{"gqa HS=64", 1, 40, 4, 2, 64, nil})

// TestAttentionBF16Forward: AttentionForwardP(BF16) on inputs already in
// bf16 equals a float64 reference that rounds the probabilities to bf16
// before the product with v (scores from exact products of the bf16 q and
// k, softmax in float64), within 1e-5 of Σ|p·v|; the f32 path, which does
// not round the probabilities, misses that reference, so the check sees
// the rounding.
func TestAttentionBF16Forward(t *testing.T) {
	r := newRNG(31)
	for _, s := range bf16AttnShapes {
		B, T, NH, NKV, HS := s.B, s.T, s.NH, s.NKV, s.HS
		mask := s.flatMask()
		q := roundBF16(randn(r, B*T*NH*HS, 1))
		k := roundBF16(randn(r, B*T*NKV*HS, 1))
		v := roundBF16(randn(r, B*T*NKV*HS, 1))
		_, att := refAttention(to64(q), to64(k), to64(v), mask, B, T, NH, NKV, HS)
		want := make([]float64, B*T*NH*HS)
		mag := make([]float64, B*T*NH*HS)
		for b := 0; b < B; b++ {
			for h := 0; h < NH; h++ {
				kh := h / (NH / NKV)
				for tq := 0; tq < T; tq++ {
					for ks := 0; ks <= tq; ks++ {
						p := att[((b*NH+h)*T+tq)*T+ks]
						if p == 0 {
							continue
						}
						rp := rb(float32(p))
						for j := 0; j < HS; j++ {
							x := rp * float64(v[((b*T+ks)*NKV+kh)*HS+j])
							want[((b*T+tq)*NH+h)*HS+j] += x
							mag[((b*T+tq)*NH+h)*HS+j] += math.Abs(x)
						}
					}
				}
			}
		}
		miss := func(p tensor.Prec) (worst float64, at int) {
			out, lse := make([]float32, B*T*NH*HS), make([]float32, B*NH*T)
			AttentionForwardP(p, out, lse, q, k, v, AttnMask{Pad: mask}, B, T, NH, NKV, HS)
			at = -1
			for i, w := range want {
				if d := math.Abs(float64(out[i])-w) / (mag[i] + 1e-30); d > worst {
					worst, at = d, i
				}
			}
			return worst, at
		}
		if d, i := miss(tensor.BF16); d > 1e-5 {
			t.Errorf("%s: bf16 output %d off the rounded reference by %.3g of Σ|p·v|", s.name, i, d)
		}
		if s.T > 1 { // one key per query: p = 1 is exact in bf16
			if d, _ := miss(tensor.F32); d <= 1e-5 {
				t.Errorf("%s: the f32 path also matches the bf16 reference (worst %.3g): the check cannot see the rounding", s.name, d)
			}
		}
	}
}

// TestAttentionBF16Backward: the bf16 gradients stay within 2% (of the
// largest magnitude) of the f32 path's, and are not the f32 path's (the
// products really are rounded).
func TestAttentionBF16Backward(t *testing.T) {
	r := newRNG(32)
	for _, s := range bf16AttnShapes {
		B, T, NH, NKV, HS := s.B, s.T, s.NH, s.NKV, s.HS
		mask := s.flatMask()
		q, k, v := randn(r, B*T*NH*HS, 1), randn(r, B*T*NKV*HS, 1), randn(r, B*T*NKV*HS, 1)
		dout := randn(r, B*T*NH*HS, 1)
		grads := func(p tensor.Prec) [3][]float32 {
			out, lse := make([]float32, B*T*NH*HS), make([]float32, B*NH*T)
			AttentionForwardP(p, out, lse, q, k, v, AttnMask{Pad: mask}, B, T, NH, NKV, HS)
			g := [3][]float32{make([]float32, len(q)), make([]float32, len(k)), make([]float32, len(v))}
			scratch := make([]float32, AttentionScratchLen(B, T, NH, NKV, HS))
			AttentionBackwardP(p, g[0], g[1], g[2], scratch, dout, q, k, v, out, lse, AttnMask{Pad: mask}, B, T, NH, NKV, HS)
			return g
		}
		g32, g16 := grads(tensor.F32), grads(tensor.BF16)
		same := true
		for w, name := range []string{"dq", "dk", "dv"} {
			scale := 0.0
			for _, x := range g32[w] {
				scale = math.Max(scale, math.Abs(float64(x)))
			}
			for i := range g32[w] {
				d := math.Abs(float64(g16[w][i] - g32[w][i]))
				if d > 0.02*scale {
					t.Fatalf("%s: %s[%d] = %v in bf16, %v in f32 (scale %.3g)", s.name, name, i, g16[w][i], g32[w][i], scale)
				}
				same = same && g16[w][i] == g32[w][i]
			}
		}
		if same && s.T > 1 {
			t.Errorf("%s: bf16 gradients are the f32 ones bit for bit", s.name)
		}
	}
}
