package nn

import "github.com/align-go/align/tensor"

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
		colReduce(OC, N, func(j0, j1 int) {
			var acc [colBlock]float64
			for i := 0; i < N; i++ {
				for j, x := range dout[i*OC+j0 : i*OC+j1] {
					acc[j] += float64(x)
				}
			}
			for j := j0; j < j1; j++ {
				db[j] += float32(acc[j-j0])
			}
		})
	}
}
