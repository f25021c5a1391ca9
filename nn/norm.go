package nn

import (
	"math"

	"github.com/align-go/align/tensor"
)

// Row statistics (means, variances, the backward's projections) are summed in
// float64: C is in the thousands and a float32 running sum would lose the low
// bits that the variance of nearly-constant rows depends on.

// LayerNormForward: out[N,C] = (inp-mean)*rstd*w + b; saves mean[N], rstd[N].
// b may be nil (bias-free LayerNorm).
func LayerNormForward(out, mean, rstd, inp, w, b []float32, N, C int, eps float32) {
	tensor.ParallelFor(N, rowChunk(C), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			x := inp[i*C : (i+1)*C]
			var s float64
			for _, v := range x {
				s += float64(v)
			}
			m := s / float64(C)
			// Two-pass variance: no cancellation when |mean| >> std.
			var ss float64
			for _, v := range x {
				d := float64(v) - m
				ss += d * d
			}
			r := 1 / math.Sqrt(ss/float64(C)+float64(eps))
			mf, rf := float32(m), float32(r)
			mean[i], rstd[i] = mf, rf
			o := out[i*C : (i+1)*C]
			w := w[:C]
			if b == nil {
				for j, v := range x {
					o[j] = (v - mf) * rf * w[j]
				}
			} else {
				b := b[:C]
				for j, v := range x {
					o[j] = (v-mf)*rf*w[j] + b[j]
				}
			}
		}
	})
}

// LayerNormBackward accumulates into dinp, dw, db (any may be nil).
func LayerNormBackward(dinp, dw, db, dout, inp, w, mean, rstd []float32, N, C int) {
	if dinp != nil {
		tensor.ParallelFor(N, rowChunk(C), func(lo, hi int) {
			for i := lo; i < hi; i++ {
				x := inp[i*C : (i+1)*C]
				d := dout[i*C : (i+1)*C]
				w := w[:C]
				mf, rf := mean[i], rstd[i]
				// dx = rstd*(dn - mean(dn) - n*mean(dn*n)), dn = dout*w, n = normalised x.
				var s1, s2 float64
				for j, v := range x {
					n := (v - mf) * rf
					dn := d[j] * w[j]
					s1 += float64(dn)
					s2 += float64(dn) * float64(n)
				}
				a := float32(s1 / float64(C))
				c := float32(s2 / float64(C))
				g := dinp[i*C : (i+1)*C]
				for j, v := range x {
					n := (v - mf) * rf
					g[j] += (d[j]*w[j] - a - n*c) * rf
				}
			}
		})
	}
	if dw == nil && db == nil {
		return
	}
	colReduce(C, N, func(j0, j1 int) {
		var aw, ab [colBlock]float64
		for i := 0; i < N; i++ {
			x := inp[i*C+j0 : i*C+j1]
			d := dout[i*C+j0 : i*C+j1]
			mf, rf := mean[i], rstd[i]
			for j, v := range x {
				aw[j] += float64(d[j] * ((v - mf) * rf))
				ab[j] += float64(d[j])
			}
		}
		for j := j0; j < j1; j++ {
			if dw != nil {
				dw[j] += float32(aw[j-j0])
			}
			if db != nil {
				db[j] += float32(ab[j-j0])
			}
		}
	})
}

// RMSNormForward: out[N,C] = inp*rstd*w with rstd = 1/sqrt(mean(inp²)+eps) (HF Llama); saves rstd[N].
// Used per head (N = tokens*heads, C = HS) for Qwen3's q_norm/k_norm.
func RMSNormForward(out, rstd, inp, w []float32, N, C int, eps float32) {
	tensor.ParallelFor(N, rowChunk(C), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			x := inp[i*C : (i+1)*C]
			var ss float64
			for _, v := range x {
				ss += float64(v) * float64(v)
			}
			rf := float32(1 / math.Sqrt(ss/float64(C)+float64(eps)))
			rstd[i] = rf
			o := out[i*C : (i+1)*C]
			w := w[:C]
			for j, v := range x {
				o[j] = w[j] * (v * rf) // HF rounds x*rstd before the weight
			}
		}
	})
}

// RMSNormBackward accumulates into dinp and dw (either may be nil).
func RMSNormBackward(dinp, dw, dout, inp, w, rstd []float32, N, C int) {
	if dinp != nil {
		tensor.ParallelFor(N, rowChunk(C), func(lo, hi int) {
			for i := lo; i < hi; i++ {
				x := inp[i*C : (i+1)*C]
				d := dout[i*C : (i+1)*C]
				w := w[:C]
				rf := rstd[i]
				// dx = rstd*(dout*w - x*rstd²*mean(dout*w*x))
				var s float64
				for j, v := range x {
					s += float64(d[j]*w[j]) * float64(v)
				}
				c := float32(s / float64(C) * float64(rf) * float64(rf))
				g := dinp[i*C : (i+1)*C]
				for j, v := range x {
					g[j] += (d[j]*w[j] - v*c) * rf
				}
			}
		})
	}
	if dw == nil {
		return
	}
	colReduce(C, N, func(j0, j1 int) {
		var aw [colBlock]float64
		for i := 0; i < N; i++ {
			x := inp[i*C+j0 : i*C+j1]
			d := dout[i*C+j0 : i*C+j1]
			rf := rstd[i]
			for j, v := range x {
				aw[j] += float64(d[j] * (v * rf))
			}
		}
		for j := j0; j < j1; j++ {
			dw[j] += float32(aw[j-j0])
		}
	})
}
