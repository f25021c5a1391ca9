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
// 1+tanh(u) would round to zero long before the true value does.

// GeluForward: out = GELU(inp), tanh approximation (HF "gelu_new"). len(out) == len(inp).
func GeluForward(out, inp []float32) {
	out = out[:len(inp)]
	tensor.ParallelFor(len(inp), elemGrain, func(lo, hi int) {
		for i, x := range inp[lo:hi] {
			u := geluK * (x + geluA*x*x*x)
			out[lo+i] = x * sigmoid(2*u)
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
		for i, x := range inp[lo:hi] {
			u := geluK * (x + geluA*x*x*x)
			du := geluK * (1 + 3*geluA*x*x)
			s, sm := sigmoid2(2 * u)
			// d/dx x*s(2u) = s + x*2u'*s*(1-s)
			g := s + 2*x*du*s*sm
			dinp[lo+i] += g * dout[lo+i]
		}
	})
}

// SwiGLUForward: out = silu(gate)*up, elementwise.
func SwiGLUForward(out, gate, up []float32) {
	out = out[:len(gate)]
	up = up[:len(gate)]
	tensor.ParallelFor(len(gate), elemGrain, func(lo, hi int) {
		for i, g := range gate[lo:hi] {
			out[lo+i] = g * sigmoid(g) * up[lo+i]
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
		for i, g := range gate[lo:hi] {
			k := lo + i
			s, sm := sigmoid2(g)
			if dgate != nil {
				// silu'(g) = s*(1 + g*(1-s))
				dgate[k] += dout[k] * up[k] * s * (1 + g*sm)
			}
			if dup != nil {
				dup[k] += dout[k] * g * s
			}
		}
	})
}
