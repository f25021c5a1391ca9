package nn

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/align-go/align/checkpoint"
	"github.com/align-go/align/tensor"
)

// compactHead stores hc's head weight as dt (bf16 or f16 bits, as a
// checkpoint keeps them) and replaces hc.w with the values those bits hold,
// so the f32 and float64 references run on exactly the compact weights.
func compactHead(hc *headCase, dt WeightDType) *QWeight {
	bits := make([]uint16, len(hc.w))
	for i, v := range hc.w {
		if dt == WeightBF16 {
			bits[i] = tensor.RoundBF16(v)
		} else {
			bits[i] = checkpoint.F32ToF16(v)
		}
	}
	q := NewQWeightBits(dt, bits, hc.V, hc.C)
	q.Dequantize(hc.w, 0, len(hc.w))
	return q
}

// A frozen head kept in bf16/f16 (LMHead.Q) gives the float64 unfused
// computation's log-probs, entropies, temperature-1 log-probs and hidden
// gradient on the same (rounded) weights to 1e-5 relative: chunks of 1 and
// 5 rows (the dot tiles), 40 and the default (above DecodeMaxRows: the
// dequantised panels and GEMM), at temperatures 1 and 0.7. The
// cross-entropy form matches the unfused f32 path (full logits,
// CrossEntropyFused, LinearBackward) on the rounded weights.
func TestLMHeadCompactMatchesUnfused(t *testing.T) {
	for _, dt := range []WeightDType{WeightBF16, WeightF16} {
		for _, temp := range []float64{1, 0.7} {
			hc := newHeadCase(77, 45, 24, 700, temp)
			q := compactHead(hc, dt)
			wantLp, wantEnt, wantRaw, _, wantDh, _ := headRef(hc, to64(hc.hidden), to64(hc.w))
			for _, rows := range []int{1, 5, 40, 0} {
				name := fmt.Sprintf("%s temp=%g rows=%d", dt, temp, rows)
				h := &LMHead{Q: q, V: hc.V, C: hc.C, Rows: rows}
				p := h.Forward(hc.hidden, hc.targets, hc.N, hc.temp, HeadWant{Entropy: true, Raw: true})
				dh := make([]float32, hc.N*hc.C)
				h.Backward(dh, p, hc.dlogp, hc.den)
				for what, e := range map[string]float64{
					"logp": maxRel64(p.Logp, wantLp), "entropy": maxRel64(p.Entropy, wantEnt), "raw": maxRel64(p.Raw, wantRaw),
					"d(hidden)": maxRel(dh, wantDh),
				} {
					if e > 1e-5 {
						t.Errorf("%s: %s off by %.2g relative", name, what, e)
					}
				}
			}
		}
		// The one-pass SFT form against the unfused f32 path.
		hc := newHeadCase(78, 45, 24, 700, 1)
		q := compactHead(hc, dt)
		N, C, V := hc.N, hc.C, hc.V
		dloss := make([]float32, N)
		for i := range dloss {
			dloss[i] = float32(0.1 * float64(i+1))
		}
		logits := make([]float32, N*V)
		LinearForward(logits, hc.hidden, hc.w, nil, N, C, V)
		wantL, dlogits := make([]float32, N), make([]float32, N*V)
		CrossEntropyFused(wantL, dlogits, logits, hc.targets, dloss, N, V)
		wantDh := make([]float32, N*C)
		LinearBackward(wantDh, nil, nil, dlogits, hc.hidden, hc.w, N, C, V)
		for _, rows := range []int{3, 0} {
			h := &LMHead{Q: q, V: V, C: C, Rows: rows}
			losses, dh := make([]float32, N), make([]float32, N*C)
			h.CrossEntropy(losses, dh, hc.hidden, hc.targets, dloss, N)
			if e := maxRel(losses, to64(wantL)); e > 1e-5 {
				t.Errorf("%s rows=%d: cross-entropy off by %.2g", dt, rows, e)
			}
			if e := maxRel(dh, to64(wantDh)); e > 1e-5 {
				t.Errorf("%s rows=%d: cross-entropy d(hidden) off by %.2g", dt, rows, e)
			}
		}
	}
}

// The gradient that flows through a frozen bf16 head — to the hidden
// states — agrees with central differences of the head's own forward pass.
func TestLMHeadCompactFiniteDifference(t *testing.T) {
	hc := newHeadCase(19, 36, 8, 60, 0.8)
	q := compactHead(hc, WeightBF16)
	h := &LMHead{Q: q, V: hc.V, C: hc.C} // one chunk of 36 rows: the panel path
	p := h.Forward(hc.hidden, hc.targets, hc.N, hc.temp, HeadWant{Entropy: true})
	dh := make([]float32, hc.N*hc.C)
	h.Backward(dh, p, hc.dlogp, hc.den)
	loss := func() float64 {
		p := h.Forward(hc.hidden, hc.targets, hc.N, hc.temp, HeadWant{Entropy: true})
		var L float64
		for i := range p.Logp {
			L += hc.dlogp[i]*p.Logp[i] + hc.den[i]*p.Entropy[i]
		}
		return L
	}
	r := rand.New(rand.NewPCG(2, 2))
	checked := 0
	for k := 0; k < 40 && checked < 16; k++ {
		j := r.IntN(len(hc.hidden))
		if hc.targets[j/hc.C] < 0 {
			if dh[j] != 0 {
				t.Fatalf("ignored row %d has a hidden gradient", j/hc.C)
			}
			continue
		}
		const e = 1e-2
		old := hc.hidden[j]
		hc.hidden[j] = old + e
		lp := loss()
		hc.hidden[j] = old - e
		lm := loss()
		hc.hidden[j] = old
		if fd := (lp - lm) / (2 * e); math.Abs(fd-float64(dh[j])) > 2e-3*math.Max(1, math.Abs(fd)) {
			t.Errorf("d(hidden)[%d] = %g, finite difference %g", j, dh[j], fd)
		}
		checked++
	}
}

// A compact head is frozen: asking it for a weight gradient is a bug.
func TestLMHeadCompactRefusesDW(t *testing.T) {
	hc := newHeadCase(3, 4, 8, 30, 1)
	h := &LMHead{Q: compactHead(hc, WeightBF16), DW: make([]float32, 30*8), V: 30, C: 8}
	defer func() {
		if recover() == nil {
			t.Fatal("no panic for a compact head with DW")
		}
	}()
	p := h.Forward(hc.hidden, hc.targets, hc.N, 1, HeadWant{})
	h.Backward(make([]float32, 4*8), p, hc.dlogp, nil)
}

// EmbeddingForwardQ looks rows up in a compact table exactly as
// EmbeddingForward does in the widened one, writing or adding.
func TestEmbeddingForwardQ(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 4))
	V, C, N := 50, 96, 37
	for _, dt := range []WeightDType{WeightBF16, WeightF16, WeightInt8, WeightNF4} {
		w := randn(r, V*C, 1)
		q := QuantizeWeight(w, V, C, dt, false)
		wide := make([]float32, V*C)
		q.Dequantize(wide, 0, V*C)
		ids := make([]int32, N)
		for i := range ids {
			ids[i] = int32(r.IntN(V))
		}
		for _, add := range []bool{false, true} {
			got, want := randn(r, N*C, 1), make([]float32, N*C)
			copy(want, got)
			EmbeddingForwardQ(got, ids, q, N, C, add)
			EmbeddingForward(want, ids, wide, N, C, add)
			for i := range got {
				if got[i] != want[i] {
					t.Fatalf("%s add=%v: element %d = %g, want %g", dt, add, i, got[i], want[i])
				}
			}
		}
	}
}
