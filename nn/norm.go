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
			m := sum64(x) / float64(C)
			// Two-pass variance: no cancellation when |mean| >> std.
			r := 1 / math.Sqrt(sumSqDev64(x, m)/float64(C)+float64(eps))
			mf, rf := float32(m), float32(r)
			mean[i], rstd[i] = mf, rf
			o := out[i*C : (i+1)*C]
			w := w[:C]
			j0 := 0
			if n16 := C &^ 15; haveDecodeAsm && n16 > 0 {
				var bp *float32
				if b != nil {
					bp = &b[0]
				}
				lnApplyAVX512(&o[0], &x[0], &w[0], bp, n16, mf, rf)
				j0 = n16
			}
			if b == nil {
				for j := j0; j < C; j++ {
					o[j] = (x[j] - mf) * rf * w[j]
				}
			} else {
				b := b[:C]
				for j := j0; j < C; j++ {
					o[j] = (x[j]-mf)*rf*w[j] + b[j]
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
				s1, s2 := lnGradSums(x, d, w, mf, rf)
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
			rf := float32(1 / math.Sqrt(dot64(x, x)/float64(C)+float64(eps)))
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
				s := rmsGradSum(x, d, w)
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

// lnGradSums returns Σ dn and Σ dn·n over a row, dn = dout*w, n = (x-mean)*rstd,
// two lanes per sum.
func lnGradSums(x, d, w []float32, mf, rf float32) (s1, s2 float64) {
	d, w = d[:len(x)], w[:len(x)]
	var a0, a1, b0, b1 float64
	j := 0
	for ; j+2 <= len(x); j += 2 {
		dn0, dn1 := d[j]*w[j], d[j+1]*w[j+1]
		n0, n1 := (x[j]-mf)*rf, (x[j+1]-mf)*rf
		a0 += float64(dn0)
		a1 += float64(dn1)
		b0 += float64(dn0) * float64(n0)
		b1 += float64(dn1) * float64(n1)
	}
	if j < len(x) {
		dn := d[j] * w[j]
		a0 += float64(dn)
		b0 += float64(dn) * float64((x[j]-mf)*rf)
	}
	return a0 + a1, b0 + b1
}

// rmsGradSum returns Σ dout·w·x over a row.
func rmsGradSum(x, d, w []float32) float64 {
	d, w = d[:len(x)], w[:len(x)]
	var s0, s1, s2, s3 float64
	j := 0
	for ; j+4 <= len(x); j += 4 {
		s0 += float64(d[j]*w[j]) * float64(x[j])
		s1 += float64(d[j+1]*w[j+1]) * float64(x[j+1])
		s2 += float64(d[j+2]*w[j+2]) * float64(x[j+2])
		s3 += float64(d[j+3]*w[j+3]) * float64(x[j+3])
	}
	for ; j < len(x); j++ {
		s0 += float64(d[j]*w[j]) * float64(x[j])
	}
	return (s0 + s1) + (s2 + s3)
}
