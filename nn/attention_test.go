package nn

import (
	"fmt"
	"math"
	"testing"
)

type attShape struct {
	name              string
	B, T, NH, NKV, HS int
	mask              [][]int32 // per sequence; nil = no mask
}

var attShapes = []attShape{
	{"gqa", 2, 5, 4, 2, 8, nil},
	{"gqa left pad", 2, 6, 4, 2, 8, [][]int32{{0, 0, 1, 1, 1, 1}, {1, 1, 1, 1, 1, 1}}},
	{"gqa right pad", 2, 6, 4, 2, 8, [][]int32{{1, 1, 1, 1, 0, 0}, {1, 1, 1, 0, 0, 0}}},
	{"T=1", 3, 1, 4, 2, 4, [][]int32{{1}, {0}, {1}}},
	{"mqa holes", 1, 7, 3, 1, 4, [][]int32{{1, 0, 1, 1, 0, 0, 1}}},
	{"mha right pad 2 blocks", 1, 37, 2, 2, 6, [][]int32{append(ones(33), 0, 0, 0, 0)}},
	{"gqa left pad 3 blocks", 1, 70, 2, 1, 4, [][]int32{append([]int32{0, 0, 0}, ones(67)...)}},
}

func ones(n int) []int32 {
	m := make([]int32, n)
	for i := range m {
		m[i] = 1
	}
	return m
}

func (s attShape) flatMask() []int32 {
	if s.mask == nil {
		return nil
	}
	var m []int32
	for _, row := range s.mask {
		m = append(m, row...)
	}
	return m
}

func TestAttentionGrad(t *testing.T) {
	r := newRNG(8)
	for _, s := range attShapes {
		B, T, NH, NKV, HS := s.B, s.T, s.NH, s.NKV, s.HS
		mask := s.flatMask()
		fwd := func(in [][]float32) ([]float32, []float32) {
			out, att := make([]float32, B*T*NH*HS), make([]float32, B*NH*T)
			AttentionForward(out, att, in[0], in[1], in[2], AttnMask{Pad: mask}, B, T, NH, NKV, HS)
			return out, att
		}
		c := opCase{
			name: "attention " + s.name,
			ins:  [][]float32{randn(r, B*T*NH*HS, 1), randn(r, B*T*NKV*HS, 1), randn(r, B*T*NKV*HS, 1)},
			fwd:  func(in [][]float32) []float32 { o, _ := fwd(in); return o },
			ref: func(in [][]float64) []float64 {
				return refAttentionAt(nil, in[0], in[1], in[2], mask, B, T, NH, NKV, HS)
			},
			bwd: func(in [][]float32, dout []float32, g [][]float32) {
				out, lse := fwd(in)
				scratch := make([]float32, AttentionScratchLen(B, T, NH, NKV, HS))
				for i := range scratch {
					scratch[i] = float32(math.NaN()) // stale garbage must not leak in
				}
				AttentionBackward(g[0], g[1], g[2], scratch, dout, in[0], in[1], in[2], out, lse, AttnMask{Pad: mask}, B, T, NH, NKV, HS)
			},
			fwdTol: 1e-5, gradTol: 1e-4,
		}
		forEachSetting(t, func(t *testing.T) { checkOp(t, c) })
	}
}

// TestAttentionProbabilities checks that the saved lse reproduces the
// reference probabilities (and is +Inf for fully masked rows) when out and
// lse start out full of garbage.
func TestAttentionProbabilities(t *testing.T) {
	r := newRNG(9)
	for _, s := range attShapes {
		B, T, NH, NKV, HS := s.B, s.T, s.NH, s.NKV, s.HS
		mask := s.flatMask()
		q, k, v := randn(r, B*T*NH*HS, 1), randn(r, B*T*NKV*HS, 1), randn(r, B*T*NKV*HS, 1)
		out, lse := make([]float32, B*T*NH*HS), make([]float32, B*NH*T)
		for i := range lse {
			lse[i] = 7
		}
		for i := range out {
			out[i] = 7
		}
		AttentionForward(out, lse, q, k, v, AttnMask{Pad: mask}, B, T, NH, NKV, HS)
		wantOut, wantAtt := refAttention(to64(q), to64(k), to64(v), mask, B, T, NH, NKV, HS)
		checkLSE(t, s.name, lse, q, k, wantAtt, B, T, NH, NKV, HS)
		for _, m := range mismatches(out, wantOut, 1e-5) {
			t.Errorf("%s out: %s", s.name, m)
		}
	}
}

// TestAttentionHand uses inputs small enough to work out by hand.
func TestAttentionHand(t *testing.T) {
	// HS=2, scale 1/√2. q1·k1/√2 = ln 3 and q1·k0 = 0, so query 1 weighs the
	// two values 1/4 and 3/4: out1 = [4,0]/4 + [0,8]·3/4 = [1,6].
	ln3 := float32(math.Log(3))
	q := []float32{5, 5, math.Sqrt2 * ln3, 0}
	k := []float32{0, 0, 1, 0}
	v := []float32{4, 0, 0, 8}
	for _, tc := range []struct {
		mask []int32
		out  []float64
		att  []float64
	}{
		{nil, []float64{4, 0, 1, 6}, []float64{1, 0, 0.25, 0.75}},
		// Left padding: query 0 sees nothing; query 1 sees only key 1.
		{[]int32{0, 1}, []float64{0, 0, 0, 8}, []float64{0, 0, 0, 1}},
		// Right padding: the padded query still sees the real key.
		{[]int32{1, 0}, []float64{4, 0, 4, 0}, []float64{1, 0, 1, 0}},
	} {
		out, lse := make([]float32, 4), make([]float32, 2)
		AttentionForward(out, lse, q, k, v, AttnMask{Pad: tc.mask}, 1, 2, 1, 1, 2)
		for _, m := range mismatches(out, tc.out, 1e-6) {
			t.Errorf("mask %v out: %s", tc.mask, m)
		}
		checkLSE(t, fmt.Sprint(tc.mask), lse, q, k, tc.att, 1, 2, 1, 1, 2)
	}
}

func TestAttentionGQAEqualsRepeatedKV(t *testing.T) {
	// GQA with NKV=2, NH=4 must equal MHA with each kv head repeated twice.
	r := newRNG(10)
	const B, T, NH, NKV, HS = 2, 40, 4, 2, 8
	q, k, v := randn(r, B*T*NH*HS, 1), randn(r, B*T*NKV*HS, 1), randn(r, B*T*NKV*HS, 1)
	rep := func(x []float32) []float32 {
		y := make([]float32, B*T*NH*HS)
		for bt := 0; bt < B*T; bt++ {
			for h := 0; h < NH; h++ {
				copy(y[(bt*NH+h)*HS:][:HS], x[(bt*NKV+h/2)*HS:][:HS])
			}
		}
		return y
	}
	o1, a1 := make([]float32, B*T*NH*HS), make([]float32, B*NH*T)
	o2, a2 := make([]float32, B*T*NH*HS), make([]float32, B*NH*T)
	AttentionForward(o1, a1, q, k, v, AttnMask{}, B, T, NH, NKV, HS)
	AttentionForward(o2, a2, q, rep(k), rep(v), AttnMask{}, B, T, NH, NH, HS)
	for _, m := range mismatches(o1, to64(o2), 1e-6) {
		t.Error(m)
	}
	dout := randn(r, B*T*NH*HS, 1)
	dk1, dv1 := make([]float32, B*T*NKV*HS), make([]float32, B*T*NKV*HS)
	dk2, dv2 := make([]float32, B*T*NH*HS), make([]float32, B*T*NH*HS)
	sc := make([]float32, AttentionScratchLen(B, T, NH, NKV, HS))
	AttentionBackward(nil, dk1, dv1, sc, dout, q, k, v, o1, a1, AttnMask{}, B, T, NH, NKV, HS)
	AttentionBackward(nil, dk2, dv2, nil, dout, q, rep(k), rep(v), o2, a2, AttnMask{}, B, T, NH, NH, HS)
	// Summing the repeated heads' gradients gives the shared head's gradient.
	sum := func(x []float32) []float64 {
		y := make([]float64, B*T*NKV*HS)
		for bt := 0; bt < B*T; bt++ {
			for h := 0; h < NH; h++ {
				for j := 0; j < HS; j++ {
					y[(bt*NKV+h/2)*HS+j] += float64(x[(bt*NH+h)*HS+j])
				}
			}
		}
		return y
	}
	for name, p := range map[string][2][]float32{"dk": {dk1, dk2}, "dv": {dv1, dv2}} {
		for _, m := range mismatches(p[0], sum(p[1]), 1e-5) {
			t.Errorf("%s: %s", name, m)
		}
	}
}

// checkLSE checks the saved log-sum-exp against reference probabilities want
// [B,NH,T,T]: exp(q·k·scale - lse) must give each visible key's probability,
// and a row with no visible key must have lse = +Inf.
func checkLSE(t *testing.T, name string, lse, q, k []float32, want []float64, B, T, NH, NKV, HS int) {
	t.Helper()
	scale := 1 / math.Sqrt(float64(HS))
	for b := 0; b < B; b++ {
		for h := 0; h < NH; h++ {
			for i := 0; i < T; i++ {
				l := float64(lse[(b*NH+h)*T+i])
				row := want[((b*NH+h)*T+i)*T:][:T]
				any := false
				for s, p := range row {
					if p == 0 {
						continue
					}
					any = true
					var sc float64
					for j := 0; j < HS; j++ {
						sc += float64(q[((b*T+i)*NH+h)*HS+j]) * float64(k[((b*T+s)*NKV+h/(NH/NKV))*HS+j])
					}
					if got := math.Exp(sc*scale - l); math.Abs(got-p) > 1e-5*(1+p) {
						t.Errorf("%s b%d h%d query %d key %d: p from lse %g, want %g", name, b, h, i, s, got, p)
					}
				}
				if !any && !math.IsInf(l, 1) {
					t.Errorf("%s b%d h%d query %d sees nothing: lse %g, want +Inf", name, b, h, i, l)
				}
			}
		}
	}
}
