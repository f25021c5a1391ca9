package nn

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/align-go/align/tensor"
)

// TestLMHeadBF16ShadowBitIdentical: at Prec BF16 an f32 head is rounded to
// bf16 once per call (w16) instead of in every chunk's packing; losses,
// log-probs, entropies and the hidden and weight gradients are the same
// bits either way, for CrossEntropy and Forward/Backward, with weights that
// include rounding ties, denormals (flushed to zero by both) and values
// that round up to the next exponent.
func TestLMHeadBF16ShadowBitIdentical(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 16))
	N, C, V := 37, 45, 83
	hidden, w := randF32(r, N*C), randF32(r, V*C)
	special := []float32{
		math.Float32frombits(0x3f808000), // a tie, to even (down)
		math.Float32frombits(0x3f818000), // a tie, to even (up)
		math.Float32frombits(0x00400001), // a denormal
		math.Float32frombits(0x807fffff), // a negative denormal
		math.Float32frombits(0x3fffffff), // rounds up into the next exponent
	}
	for i, v := range special {
		w[i*97%len(w)] = v
	}
	targets := make([]int32, N)
	for i := range targets {
		targets[i] = int32(r.IntN(V))
		if i%5 == 2 {
			targets[i] = -1
		}
	}
	dloss := randF32(r, N)
	dlogp, dent := make([]float64, N), make([]float64, N)
	for i := range dlogp {
		dlogp[i], dent[i] = r.NormFloat64(), r.NormFloat64()
	}
	type out struct {
		losses, dh, dw, dh2, dw2 []float32
		logp, ent                []float64
	}
	run := func(shadow bool) out {
		defer func(s bool) { headShadow = s }(headShadow)
		headShadow = shadow
		h := &LMHead{W: w, DW: make([]float32, V*C), V: V, C: C, Rows: 6, Prec: tensor.BF16}
		o := out{losses: make([]float32, N), dh: make([]float32, N*C), dh2: make([]float32, N*C)}
		h.CrossEntropy(o.losses, o.dh, hidden, targets, dloss, N)
		o.dw = append([]float32(nil), h.DW...)
		if (h.w16 != nil) != shadow {
			t.Fatalf("shadow %v: w16 allocated = %v", shadow, h.w16 != nil)
		}
		clear(h.DW)
		p := h.Forward(hidden, targets, N, 0.7, HeadWant{Entropy: true})
		h.Backward(o.dh2, p, dlogp, dent)
		o.dw2, o.logp, o.ent = h.DW, p.Logp, p.Entropy
		return o
	}
	a, b := run(true), run(false)
	same := func(name string, x, y []float32) {
		for i := range x {
			if math.Float32bits(x[i]) != math.Float32bits(y[i]) {
				t.Fatalf("%s[%d]: %v with the shadow, %v without", name, i, x[i], y[i])
			}
		}
	}
	same64 := func(name string, x, y []float64) {
		for i := range x {
			if math.Float64bits(x[i]) != math.Float64bits(y[i]) {
				t.Fatalf("%s[%d]: %v with the shadow, %v without", name, i, x[i], y[i])
			}
		}
	}
	same("losses", a.losses, b.losses)
	same("CrossEntropy dhidden", a.dh, b.dh)
	same("CrossEntropy dW", a.dw, b.dw)
	same("Backward dhidden", a.dh2, b.dh2)
	same("Backward dW", a.dw2, b.dw2)
	same64("logp", a.logp, b.logp)
	same64("entropy", a.ent, b.ent)
}
