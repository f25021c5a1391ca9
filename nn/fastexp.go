package nn

import "math"

// expf is exp for float32 results, several times cheaper than math.Exp and within
// about one float32 ulp of it: softmax, cross-entropy, GELU and SiLU spend most of
// their time here. The range reduction and polynomial run in float64 (as cheap as
// float32 in scalar code) so the only visible error is the final rounding.
func expf(x float32) float32 {
	switch {
	case x > 88.72284: // exp overflows float32
		return float32(math.Inf(1))
	case x < -103.97208: // below half the smallest subnormal
		return 0
	case x != x:
		return x
	}
	xd := float64(x)
	// n = round(x/ln2), done by truncating a positive number (x/ln2 >= -150).
	n := int(xd*math.Log2E+256.5) - 256
	r := xd - float64(n)*ln2Hi - float64(n)*ln2Lo
	// Minimax polynomial for exp on [-ln2/2, ln2/2] (Cephes expf).
	p := 1.9875691500e-4
	p = p*r + 1.3981999507e-3
	p = p*r + 8.3334519073e-3
	p = p*r + 4.1665795894e-2
	p = p*r + 1.6666665459e-1
	p = p*r + 5.0000001201e-1
	p = p*r*r + r + 1
	// n >= -150 and <= 128, so 2^n is a normal float64.
	return float32(p * math.Float64frombits(uint64(n+1023)<<52))
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
