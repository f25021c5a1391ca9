package nn

import (
	"math"
	"testing"
)

// segShape is a batch of packed rows with their document ids.
type segShape struct {
	name              string
	B, T, NH, NKV, HS int
	seg               [][]int32 // per row, length T
}

// packSeg builds one row's seg from document lengths, padding the rest with 0.
func packSeg(T int, lens ...int) []int32 {
	s := make([]int32, 0, T)
	for d, n := range lens {
		for i := 0; i < n; i++ {
			s = append(s, int32(d+1))
		}
	}
	for len(s) < T {
		s = append(s, 0)
	}
	return s
}

var segShapes = []segShape{
	{"3 docs with a 1-token doc", 1, 8, 2, 1, 4, [][]int32{packSeg(8, 3, 1, 4)}},
	{"gqa 2 rows padded", 2, 7, 4, 2, 8, [][]int32{packSeg(7, 2, 4), packSeg(7, 1, 1, 3)}},
	{"padding between docs", 1, 6, 2, 2, 4, [][]int32{{1, 1, 0, 2, 2, 2}}},
	{"ids reused: runs are documents", 1, 6, 2, 1, 4, [][]int32{{1, 1, 2, 2, 1, 1}}},
	{"left pad", 1, 5, 2, 1, 4, [][]int32{{0, 0, 1, 1, 1}}},
	{"all padding", 1, 3, 2, 1, 4, [][]int32{{0, 0, 0}}},
	// Boundaries inside and on 32-row blocks, documents spanning blocks, a padding-only block.
	{"3 blocks, last all padding", 1, 70, 2, 1, 4, [][]int32{packSeg(70, 20, 1, 11, 30, 2)}},
	{"doc spans 3 blocks", 1, 70, 2, 1, 4, [][]int32{packSeg(70, 1, 68, 1)}},
	{"docs on block edges", 1, 70, 1, 1, 4, [][]int32{packSeg(70, 32, 32, 6)}},
	// A document starting one before, exactly at and one after each block edge
	// (forward blocks of attBlock=32 rows, backward key blocks of
	// attKeyBlock=64), each crossing the edge: the backward's query interval of
	// key block [0,64) must include the document that starts at 63.
	{"doc starts at edge-1, edge, edge+1", 3, 67, 2, 1, 4, [][]int32{packSeg(67, 31, 32, 4), packSeg(67, 32, 32, 3), packSeg(67, 33, 32, 2)}},
}

func (s segShape) flat() []int32 {
	var m []int32
	for _, r := range s.seg {
		m = append(m, r...)
	}
	return m
}

// refAttentionSeg is a float64 reference written from the definition: query t
// sees key s iff s <= t and every position from s to t carries seg[t] != 0.
// It scores every visible key on its own, with no blocks.
func refAttentionSeg(q, k, v []float64, seg []int32, B, T, NH, NKV, HS int) (out, att []float64) {
	att = make([]float64, B*NH*T*T)
	return refAttentionSegAt(att, q, k, v, seg, B, T, NH, NKV, HS), att
}

// refAttentionSegAt is refAttentionSeg writing the probabilities into att, or
// not at all when att is nil (the finite differences call it thousands of times).
func refAttentionSegAt(att, q, k, v []float64, seg []int32, B, T, NH, NKV, HS int) []float64 {
	out := make([]float64, B*T*NH*HS)
	sc, p := make([]float64, T), make([]float64, T)
	scale := 1 / math.Sqrt(float64(HS))
	vis := make([]bool, B*T*T)
	for b := 0; b < B; b++ {
		for t := 0; t < T; t++ {
			for s := t; s >= 0 && seg[b*T+t] != 0 && seg[b*T+s] == seg[b*T+t]; s-- {
				vis[(b*T+t)*T+s] = true
			}
		}
	}
	sees := func(b, s, t int) bool { return vis[(b*T+t)*T+s] }
	for b := 0; b < B; b++ {
		for h := 0; h < NH; h++ {
			kh := h / (NH / NKV)
			for t := 0; t < T; t++ {
				qv := q[((b*T+t)*NH+h)*HS:][:HS]
				clear(sc)
				mx := math.Inf(-1)
				for s := 0; s <= t; s++ {
					if !sees(b, s, t) {
						continue
					}
					kv := k[((b*T+s)*NKV+kh)*HS:][:HS]
					for j := range qv {
						sc[s] += qv[j] * kv[j]
					}
					sc[s] *= scale
					mx = math.Max(mx, sc[s])
				}
				sum := 0.0
				clear(p)
				for s := 0; s <= t; s++ {
					if sees(b, s, t) {
						p[s] = math.Exp(sc[s] - mx)
						sum += p[s]
					}
				}
				for s := 0; s <= t; s++ {
					if p[s] == 0 {
						continue
					}
					p[s] /= sum
					if att != nil {
						att[((b*NH+h)*T+t)*T+s] = p[s]
					}
					vv := v[((b*T+s)*NKV+kh)*HS:][:HS]
					for j := 0; j < HS; j++ {
						out[((b*T+t)*NH+h)*HS+j] += p[s] * vv[j]
					}
				}
			}
		}
	}
	return out
}

func TestAttentionSegGrad(t *testing.T) {
	r := newRNG(18)
	for _, s := range segShapes {
		B, T, NH, NKV, HS := s.B, s.T, s.NH, s.NKV, s.HS
		seg := s.flat()
		fwd := func(in [][]float32) ([]float32, []float32) {
			out, att := make([]float32, B*T*NH*HS), make([]float32, B*NH*T)
			for i := range out {
				out[i] = float32(math.NaN())
			}
			AttentionForward(out, att, in[0], in[1], in[2], AttnMask{Seg: seg}, B, T, NH, NKV, HS)
			return out, att
		}
		c := opCase{
			name: "segmented attention " + s.name,
			ins:  [][]float32{randn(r, B*T*NH*HS, 1), randn(r, B*T*NKV*HS, 1), randn(r, B*T*NKV*HS, 1)},
			fwd:  func(in [][]float32) []float32 { o, _ := fwd(in); return o },
			ref: func(in [][]float64) []float64 {
				return refAttentionSegAt(nil, in[0], in[1], in[2], seg, B, T, NH, NKV, HS)
			},
			bwd: func(in [][]float32, dout []float32, g [][]float32) {
				out, lse := fwd(in)
				scratch := make([]float32, AttentionScratchLen(B, T, NH, NKV, HS))
				for i := range scratch {
					scratch[i] = float32(math.NaN()) // stale garbage must not leak in
				}
				AttentionBackward(g[0], g[1], g[2], scratch, dout, in[0], in[1], in[2], out, lse, AttnMask{Seg: seg}, B, T, NH, NKV, HS)
			},
			fwdTol: 1e-5, gradTol: 1e-4,
		}
		forEachSetting(t, func(t *testing.T) { checkOp(t, c) })
	}
}

// TestAttentionSegProbabilities: lse, started full of garbage, reproduces the
// reference's probabilities, and is +Inf for padding queries.
func TestAttentionSegProbabilities(t *testing.T) {
	r := newRNG(19)
	for _, s := range segShapes {
		B, T, NH, NKV, HS := s.B, s.T, s.NH, s.NKV, s.HS
		seg := s.flat()
		q, k, v := randn(r, B*T*NH*HS, 1), randn(r, B*T*NKV*HS, 1), randn(r, B*T*NKV*HS, 1)
		out, lse := make([]float32, B*T*NH*HS), make([]float32, B*NH*T)
		for i := range lse {
			lse[i] = float32(math.NaN())
		}
		AttentionForward(out, lse, q, k, v, AttnMask{Seg: seg}, B, T, NH, NKV, HS)
		_, want := refAttentionSeg(to64(q), to64(k), to64(v), seg, B, T, NH, NKV, HS)
		checkLSE(t, s.name, lse, q, k, want, B, T, NH, NKV, HS)
	}
}

// TestAttentionSegEqualsSeparateDocs is the test that attention never
// crosses documents: a packed row's outputs and q/k/v gradients equal those of
// its documents run one by one through the plain causal kernel.
func TestAttentionSegEqualsSeparateDocs(t *testing.T) {
	r := newRNG(20)
	const NH, NKV, HS = 4, 2, 8
	for _, lens := range [][]int{{5, 1, 3}, {40, 1, 30, 2}, {33, 31}, {1, 1, 1, 64}} {
		T := 0
		for _, n := range lens {
			T += n
		}
		T += 3 // trailing padding
		seg := packSeg(T, lens...)
		q, k, v := randn(r, T*NH*HS, 1), randn(r, T*NKV*HS, 1), randn(r, T*NKV*HS, 1)
		dout := randn(r, T*NH*HS, 1)
		out, lse := make([]float32, T*NH*HS), make([]float32, NH*T)
		AttentionForward(out, lse, q, k, v, AttnMask{Seg: seg}, 1, T, NH, NKV, HS)
		dq, dk, dv := make([]float32, len(q)), make([]float32, len(k)), make([]float32, len(v))
		AttentionBackward(dq, dk, dv, make([]float32, AttentionScratchLen(1, T, NH, NKV, HS)), dout, q, k, v, out, lse, AttnMask{Seg: seg}, 1, T, NH, NKV, HS)
		at := 0
		for d, n := range lens {
			qo, ko := at*NH*HS, at*NKV*HS
			qd, kd, vd := q[qo:qo+n*NH*HS], k[ko:ko+n*NKV*HS], v[ko:ko+n*NKV*HS]
			o1, a1 := make([]float32, n*NH*HS), make([]float32, NH*n)
			AttentionForward(o1, a1, qd, kd, vd, AttnMask{}, 1, n, NH, NKV, HS)
			dq1, dk1, dv1 := make([]float32, len(qd)), make([]float32, len(kd)), make([]float32, len(vd))
			AttentionBackward(dq1, dk1, dv1, make([]float32, AttentionScratchLen(1, n, NH, NKV, HS)), dout[qo:qo+n*NH*HS], qd, kd, vd, o1, a1, AttnMask{}, 1, n, NH, NKV, HS)
			for name, p := range map[string][2][]float32{"out": {out[qo:], o1}, "dq": {dq[qo:], dq1}, "dk": {dk[ko:], dk1}, "dv": {dv[ko:], dv1}} {
				for _, m := range mismatches(p[0][:len(p[1])], to64(p[1]), 1e-5) {
					t.Errorf("docs %v, doc %d %s: %s", lens, d, name, m)
				}
			}
			at += n
		}
		// Padding: no output, no gradient.
		for name, x := range map[string][]float32{"out": out[at*NH*HS:], "dq": dq[at*NH*HS:], "dk": dk[at*NKV*HS:], "dv": dv[at*NKV*HS:]} {
			for i, f := range x {
				if f != 0 {
					t.Errorf("docs %v: padding %s[%d] = %g, want 0", lens, name, i, f)
					break
				}
			}
		}
	}
}

// TestAttentionSegNilIsPlain: one document per row is the unmasked causal kernel, bit for bit.
func TestAttentionSegNilIsPlain(t *testing.T) {
	r := newRNG(21)
	const B, T, NH, NKV, HS = 2, 37, 4, 2, 8
	q, k, v := randn(r, B*T*NH*HS, 1), randn(r, B*T*NKV*HS, 1), randn(r, B*T*NKV*HS, 1)
	// One document per row, numbered so that adjacent rows' ids differ.
	seg := make([]int32, B*T)
	for i := range seg {
		seg[i] = int32(1 + i/T)
	}
	o1, a1 := make([]float32, B*T*NH*HS), make([]float32, B*NH*T)
	o2, a2 := make([]float32, B*T*NH*HS), make([]float32, B*NH*T)
	AttentionForward(o1, a1, q, k, v, AttnMask{}, B, T, NH, NKV, HS)
	AttentionForward(o2, a2, q, k, v, AttnMask{Seg: seg}, B, T, NH, NKV, HS)
	for i := range o1 {
		if o1[i] != o2[i] {
			t.Fatalf("out[%d]: %g vs %g", i, o1[i], o2[i])
		}
	}
}

// TestAttentionSegHand: HS=2, seg [1,1,2]. Query 1 weighs values 0 and 1 by
// 1/4 and 3/4 (q1·k1/√2 = ln 3, q1·k0 = 0); query 2 starts a new document and
// sees only itself, whatever its scores against keys 0 and 1.
func TestAttentionSegHand(t *testing.T) {
	ln3 := float32(math.Log(3))
	q := []float32{5, 5, math.Sqrt2 * ln3, 0, 9, 9}
	k := []float32{0, 0, 1, 0, 1, 1}
	v := []float32{4, 0, 0, 8, 2, 3}
	out, lse := make([]float32, 6), make([]float32, 3)
	AttentionForward(out, lse, q, k, v, AttnMask{Seg: []int32{1, 1, 2}}, 1, 3, 1, 1, 2)
	for _, m := range mismatches(out, []float64{4, 0, 1, 6, 2, 3}, 1e-6) {
		t.Errorf("out: %s", m)
	}
	checkLSE(t, "hand", lse, q, k, []float64{1, 0, 0, 0.25, 0.75, 0, 0, 0, 1}, 1, 3, 1, 1, 2)
}
