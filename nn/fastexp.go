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

// sigmoid is 1/(1+e^-x), written so that neither tail overflows into NaN.
func sigmoid(x float32) float32 {
	return 1 / (1 + expf(-x))
}

// sigmoid2 returns sigmoid(x) and 1-sigmoid(x) = sigmoid(-x), each to full
// relative precision. Derivatives need the second: computing it as 1-s
// cancels for x above ~10, where 1+e^-x has already rounded away most of e^-x.
// 1/e is 0 for e = +Inf and +Inf for e = 0, so both tails come out exact.
func sigmoid2(x float32) (s, sm float32) {
	e := expf(-x)
	return 1 / (1 + e), 1 / (1 + 1/e)
}
