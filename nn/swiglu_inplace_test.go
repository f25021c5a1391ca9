package nn

import (
	"math/rand/v2"
	"testing"
)

// SwiGLUBackwardInPlace adds the same d(gate) as SwiGLUBackward and leaves
// in dout exactly the d(up) SwiGLUBackward adds to a cleared buffer, bit
// for bit (the model's gradients, checkpointed or not, rest on it).
func TestSwiGLUBackwardInPlace(t *testing.T) {
	r := rand.New(rand.NewPCG(6, 6))
	n := 3*expChunk + 17 // ragged chunks
	gate, up, dout := randn(r, n, 3), randn(r, n, 1), randn(r, n, 1)
	dout[5] = 0
	dg0 := randn(r, n, 1) // accumulates onto what is there
	wantDg, wantDup := append([]float32(nil), dg0...), make([]float32, n)
	SwiGLUBackward(wantDg, wantDup, dout, gate, up)
	dg, d := append([]float32(nil), dg0...), append([]float32(nil), dout...)
	SwiGLUBackwardInPlace(dg, d, gate, up)
	for i := range n {
		if dg[i] != wantDg[i] || d[i] != wantDup[i] {
			t.Fatalf("element %d: d(gate) %g want %g, d(up) %g want %g", i, dg[i], wantDg[i], d[i], wantDup[i])
		}
	}
}
