package nn

import "github.com/align-go/align/tensor"

// elemGrain is the minimum elements per goroutine for elementwise ops (a
// variable so that tests can force every split).
var elemGrain = 1 << 15

// geluK is sqrt(2/pi) for the tanh approximation.
const (
	geluK = 0.7978845608028654
	geluA = 0.044715
)

// GELU's tanh form is evaluated as x*sigmoid(2u): 0.5(1+tanh u) == sigmoid(2u)
// exactly, and the sigmoid form has no cancellation for large negative x, where
// 1+tanh(u) would round to zero long before the true value does. The
// derivatives use 1-sigmoid(z) = e·sigmoid(z) with e = exp(-z) rather than
// 1-s, which cancels for z above ~10.
//
// Each goroutine runs the fused AVX2 kernels (gelu_amd64.s: the same formulas,
// exp inlined) over the multiple-of-8 part of its range; the scalar code below
// does the rest, and everything on other CPUs, in expChunk pieces: exponent
// arguments into a stack buffer, one vector exp, then the elementwise finish.

// GeluForward: out = GELU(inp), tanh approximation (HF "gelu_new"). len(out) == len(inp).
func GeluForward(out, inp []float32) {
	out = out[:len(inp)]
	tensor.ParallelFor(len(inp), elemGrain, func(lo, hi int) {
		lo += geluFwdVec(out[lo:hi], inp[lo:hi])
		var buf [expChunk]float32
		for j := lo; j < hi; j += expChunk {
			xs := inp[j:min(j+expChunk, hi)]
			e := buf[:len(xs)]
			for k, x := range xs {
				e[k] = -2 * geluK * (x + geluA*x*x*x)
			}
			expShift(e, e, 0, 1, 0)
			o := out[j : j+len(xs)]
			for k, x := range xs {
				o[k] = x / (1 + e[k])
			}
		}
	})
}

// GeluBackward: dinp += GELU'(inp)*dout.
func GeluBackward(dinp, inp, dout []float32) {
	if dinp == nil {
		return
	}
	dinp = dinp[:len(inp)]
	dout = dout[:len(inp)]
	tensor.ParallelFor(len(inp), elemGrain, func(lo, hi int) {
		lo += geluBwdVec(dinp[lo:hi], inp[lo:hi], dout[lo:hi])
		var buf [expChunk]float32
		for j := lo; j < hi; j += expChunk {
			xs := inp[j:min(j+expChunk, hi)]
			e := buf[:len(xs)]
			for k, x := range xs {
				e[k] = -2 * geluK * (x + geluA*x*x*x)
			}
			expShift(e, e, 0, 1, 0)
			g, d := dinp[j:j+len(xs)], dout[j:j+len(xs)]
			for k, x := range xs {
				du := geluK * (1 + 3*geluA*x*x)
				s := 1 / (1 + e[k]) // sigmoid(2u)
				// d/dx x*s(2u) = s + x*2u'*s*(1-s)
				g[k] += (s + 2*x*du*s*(e[k]*s)) * d[k]
			}
		}
	})
}

// SwiGLUForward: out = silu(gate)*up, elementwise.
func SwiGLUForward(out, gate, up []float32) {
	out = out[:len(gate)]
	up = up[:len(gate)]
	tensor.ParallelFor(len(gate), elemGrain, func(lo, hi int) {
		var buf [expChunk]float32
		for j := lo; j < hi; j += expChunk {
			gs := gate[j:min(j+expChunk, hi)]
			e := buf[:len(gs)]
			expShift(e, gs, 0, -1, 0) // exp(-g)
			o, u := out[j:j+len(gs)], up[j:j+len(gs)]
			for k, g := range gs {
				o[k] = g / (1 + e[k]) * u[k]
			}
		}
	})
}

// SwiGLUBackwardInPlace is SwiGLUBackward for a caller done with dout:
// dgate += dout*up*silu'(gate), and dout is overwritten with d(up) =
// dout*silu(gate) (the value SwiGLUBackward adds to a cleared dup), so a
// block's backward needs no [N,ffn] d(up) buffer of its own: 117 MB at
// Llama-3.1-8B's shape for two 1,024-token rows.
func SwiGLUBackwardInPlace(dgate, dout, gate, up []float32) {
	up = up[:len(gate)]
	dout = dout[:len(gate)]
	dgate = dgate[:len(gate)]
	tensor.ParallelFor(len(gate), elemGrain, func(lo, hi int) {
		var buf [expChunk]float32
		for j := lo; j < hi; j += expChunk {
			gs := gate[j:min(j+expChunk, hi)]
			e := buf[:len(gs)]
			expShift(e, gs, 0, -1, 0)
			u, d := up[j:j+len(gs)], dout[j:j+len(gs)]
			for k, g := range gs {
				s := 1 / (1 + e[k])
				dgate[j+k] += d[k] * u[k] * s * (1 + g*(e[k]*s))
				d[k] = d[k] * g * s // SwiGLUBackward's order of rounding
			}
		}
	})
}

// SwiGLUBackward: dgate += dout*up*silu'(gate); dup += dout*silu(gate).
// Either gradient may be nil.
func SwiGLUBackward(dgate, dup, dout, gate, up []float32) {
	if dgate == nil && dup == nil {
		return
	}
	up = up[:len(gate)]
	dout = dout[:len(gate)]
	tensor.ParallelFor(len(gate), elemGrain, func(lo, hi int) {
		var buf [expChunk]float32
		for j := lo; j < hi; j += expChunk {
			gs := gate[j:min(j+expChunk, hi)]
			e := buf[:len(gs)]
			expShift(e, gs, 0, -1, 0)
			u, d := up[j:j+len(gs)], dout[j:j+len(gs)]
			for k, g := range gs {
				s := 1 / (1 + e[k])
				if dgate != nil {
					// silu'(g) = s*(1 + g*(1-s))
					dgate[j+k] += d[k] * u[k] * s * (1 + g*(e[k]*s))
				}
				if dup != nil {
					dup[j+k] += d[k] * g * s
				}
			}
		}
	})
}
