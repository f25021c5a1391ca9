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

// TestAttentionBF16DV pins one backward product's rounding the way the
// forward test does: with q, k, v and dout already in bf16, dv is
// Σ_t bf16(p[t,s])·dout[t] over the query heads of its group, so a float64
// sum that rounds the probabilities to bf16 matches it within 1e-5 of
// Σ|p·dout|, and the f32 path misses it. (dq and dk go through dS, whose
// cancellation leaves its bf16 rounding unpinnable this way; they are held
// to the f32 path by TestAttentionBF16Backward.)
func TestAttentionBF16DV(t *testing.T) {
	r := newRNG(33)
	for _, s := range bf16AttnShapes {
		B, T, NH, NKV, HS := s.B, s.T, s.NH, s.NKV, s.HS
		if T == 1 {
			continue // p = 1: nothing to round
		}
		mask := s.flatMask()
		q := roundBF16(randn(r, B*T*NH*HS, 1))
		k := roundBF16(randn(r, B*T*NKV*HS, 1))
		v := roundBF16(randn(r, B*T*NKV*HS, 1))
		dout := roundBF16(randn(r, B*T*NH*HS, 1))
		_, att := refAttention(to64(q), to64(k), to64(v), mask, B, T, NH, NKV, HS)
		want, mag := make([]float64, len(v)), make([]float64, len(v))
		for b := 0; b < B; b++ {
			for h := 0; h < NH; h++ {
				kh := h / (NH / NKV)
				for tq := 0; tq < T; tq++ {
					for ks := 0; ks <= tq; ks++ {
						rp := rb(float32(att[((b*NH+h)*T+tq)*T+ks]))
						for j := 0; j < HS; j++ {
							x := rp * float64(dout[((b*T+tq)*NH+h)*HS+j])
							want[((b*T+ks)*NKV+kh)*HS+j] += x
							mag[((b*T+ks)*NKV+kh)*HS+j] += math.Abs(x)
						}
					}
				}
			}
		}
		miss := func(p tensor.Prec) float64 {
			out, lse := make([]float32, B*T*NH*HS), make([]float32, B*NH*T)
			AttentionForwardP(p, out, lse, q, k, v, AttnMask{Pad: mask}, B, T, NH, NKV, HS)
			dv := make([]float32, len(v))
			scratch := make([]float32, AttentionScratchLen(B, T, NH, NKV, HS))
			AttentionBackwardP(p, nil, nil, dv, scratch, dout, q, k, v, out, lse, AttnMask{Pad: mask}, B, T, NH, NKV, HS)
			worst := 0.0
			for i, w := range want {
				worst = math.Max(worst, math.Abs(float64(dv[i])-w)/(mag[i]+1e-30))
			}
			return worst
		}
		if d := miss(tensor.BF16); d > 1e-5 {
			t.Errorf("%s: bf16 dv off the rounded reference by %.3g of Σ|p·dout|", s.name, d)
		}
		if d := miss(tensor.F32); d <= 1e-5 {
			t.Errorf("%s: the f32 path also matches the bf16 reference (worst %.3g): the check cannot see the rounding", s.name, d)
		}
	}
}
