package nn

import "math"

// expf is exp for float32 results, about twice as fast as math.Exp and within
// about one float32 ulp of it: softmax, cross-entropy, GELU and SiLU spend most of
// their time here. The range reduction and polynomial run in float64 (as cheap as
// float32 in scalar code) so the only visible error is the final rounding.
func expf(x float32) float32 {
	if !(x <= 88.72284 && x >= -103.97208) { // outside the finite, nonzero range, or NaN
		switch {
		case x > 88.72284:
			return float32(math.Inf(1))
		case x < -103.97208: // below half the smallest subnormal
			return 0
		}
		return x
	}
	xd := float64(x)
	// n = round(x/ln2) by the 1.5·2^52 trick: the sum's low mantissa bits hold n
	// in two's complement, and subtracting the constant back gives n exactly.
	t := xd*math.Log2E + 0x1.8p52
	n := t - 0x1.8p52
	r := xd - n*ln2Hi - n*ln2Lo
	// Minimax polynomial for exp on [-ln2/2, ln2/2] (Cephes expf), evaluated
	// in Estrin form: shorter dependency chains, so neighbouring elements overlap.
	r2 := r * r
	p := (5.0000001201e-1 + 1.6666665459e-1*r) +
		r2*((4.1665795894e-2+8.3334519073e-3*r)+r2*(1.3981999507e-3+1.9875691500e-4*r))
	p = p*r2 + r + 1
	// 2^n from n's bits: -150 <= n <= 128 keeps n+1023 a normal float64 exponent,
	// and the shift drops the 1.5·2^52 bits above it.
	return float32(p * math.Float64frombits((math.Float64bits(t)+1023)<<52))
}

const (
	ln2Hi = 6.93147180369123816490e-01
	ln2Lo = 1.90821492927058770002e-10
)

// expHi is where expShift saturates (the AVX2 kernel's clamp): exp(expHi)
// ~ 2.4e38 is finite, so 1/(1+e) and e/(1+e) never meet Inf*0.
const expHi = 88.37626

// expChunk is the stack buffer length for ops that exponentiate a row in
// pieces (the vector exp works on slices, not single values).
const expChunk = 256
