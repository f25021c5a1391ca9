package nn

import (
	"sync/atomic"

	"github.com/align-go/align/tensor"
)

// LinearForward: out[N,OC] = inp[N,IC]·w[OC,IC]ᵀ + b[OC] (b may be nil). w is torch's Linear layout.
func LinearForward(out, inp, w, b []float32, N, IC, OC int) {
	tensor.MatMulBT(out, inp, w, N, IC, OC, false)
	if b == nil {
		return
	}
	tensor.ParallelFor(N, rowChunk(OC), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			o := out[i*OC : (i+1)*OC]
			for j, x := range b[:OC] {
				o[j] += x
			}
		}
	})
}

// LinearBackward: dinp[N,IC] += dout·w; dw[OC,IC] += doutᵀ·inp; db[OC] += Σ_rows dout.
// Any of dinp, dw, db may be nil.
func LinearBackward(dinp, dw, db, dout, inp, w []float32, N, IC, OC int) {
	if dinp != nil {
		tensor.MatMul(dinp, dout, w, N, OC, IC, true)
	}
	if dw != nil {
		tensor.MatMulAT(dw, dout, inp, OC, N, IC, true)
	}
	if db != nil {
		// The column sum is a row vector of ones times dout: the m=1 GEMM path
		// runs it vectorised, where a scalar loop cost a full pass per bias.
		tensor.Gemm(false, false, 1, OC, N, onesVec(N), N, dout, OC, db, OC, true)
	}
}

// onesBuf holds a read-only vector of ones, grown on demand; a caller holding
// an older, shorter one is unaffected by growth.
var onesBuf atomic.Pointer[[]float32]

func onesVec(n int) []float32 {
	if p := onesBuf.Load(); p != nil && len(*p) >= n {
		return (*p)[:n]
	}
	b := make([]float32, max(n, 4096))
	for i := range b {
		b[i] = 1
	}
	onesBuf.Store(&b)
	return b[:n]
}
