package nn

import (
	"sync/atomic"

	"github.com/align-go/align/tensor"
)

// LinearForward: out[N,OC] = inp[N,IC]·w[OC,IC]ᵀ + b[OC] (b may be nil). w is torch's Linear layout.
func LinearForward(out, inp, w, b []float32, N, IC, OC int) {
	LinearForwardP(tensor.F32, out, inp, w, b, N, IC, OC)
}

// LinearForwardP is LinearForward with the product at precision p
// (tensor.BF16: inp and w rounded to bfloat16, sums and the bias in f32).
func LinearForwardP(p tensor.Prec, out, inp, w, b []float32, N, IC, OC int) {
	tensor.GemmPrec(p, false, true, N, OC, IC, inp, IC, w, IC, out, OC, false)
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
	LinearBackwardP(tensor.F32, dinp, dw, db, dout, inp, w, N, IC, OC)
}

// LinearBackwardP is LinearBackward with the two products at precision p;
// the bias gradient, a column sum, stays f32.
func LinearBackwardP(p tensor.Prec, dinp, dw, db, dout, inp, w []float32, N, IC, OC int) {
	if dinp != nil {
		tensor.GemmPrec(p, false, false, N, IC, OC, dout, OC, w, IC, dinp, IC, true)
	}
	if dw != nil {
		tensor.GemmPrec(p, true, false, OC, IC, N, dout, OC, inp, IC, dw, IC, true)
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
