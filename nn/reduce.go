package nn

import "math"

// Row reductions with four independent float64 accumulators: a single running
// sum is bound by the add latency (one element per ~4 cycles), four lanes let
// the adds overlap. float64 keeps long rows (C, V in the thousands) exact to
// float32 precision whatever the order. With AVX-512 the multiple-of-16 part
// runs in reduce_amd64.s (four 8-lane accumulators), the rest here.

// sum64 returns Σ x.
func sum64(x []float32) float64 {
	var s0, s1, s2, s3 float64
	i := 0
	if n16 := len(x) &^ 15; haveDecodeAsm && n16 > 0 {
		s0, i = sum64AVX512(&x[0], n16), n16
	}
	for ; i+4 <= len(x); i += 4 {
		v := x[i : i+4 : i+4]
		s0 += float64(v[0])
		s1 += float64(v[1])
		s2 += float64(v[2])
		s3 += float64(v[3])
	}
	for ; i < len(x); i++ {
		s0 += float64(x[i])
	}
	return (s0 + s1) + (s2 + s3)
}

// sumSqDev64 returns Σ (x-m)².
func sumSqDev64(x []float32, m float64) float64 {
	var s0, s1, s2, s3 float64
	i := 0
	if n16 := len(x) &^ 15; haveDecodeAsm && n16 > 0 {
		s0, i = sumSqDev64AVX512(&x[0], n16, m), n16
	}
	for ; i+4 <= len(x); i += 4 {
		v := x[i : i+4 : i+4]
		d0, d1, d2, d3 := float64(v[0])-m, float64(v[1])-m, float64(v[2])-m, float64(v[3])-m
		s0 += d0 * d0
		s1 += d1 * d1
		s2 += d2 * d2
		s3 += d3 * d3
	}
	for ; i < len(x); i++ {
		d := float64(x[i]) - m
		s0 += d * d
	}
	return (s0 + s1) + (s2 + s3)
}

// dot64 returns Σ a·b (len(b) >= len(a)).
func dot64(a, b []float32) float64 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float64
	i := 0
	for ; i+4 <= len(a); i += 4 {
		u, v := a[i:i+4:i+4], b[i:i+4:i+4]
		s0 += float64(u[0]) * float64(v[0])
		s1 += float64(u[1]) * float64(v[1])
		s2 += float64(u[2]) * float64(v[2])
		s3 += float64(u[3]) * float64(v[3])
	}
	for ; i < len(a); i++ {
		s0 += float64(a[i]) * float64(b[i])
	}
	return (s0 + s1) + (s2 + s3)
}

// maxf returns max(x), -Inf for an empty row. It skips NaNs (plain compares
// are cheaper than the builtin max); a NaN still poisons the sum of exps that
// follows, so a NaN logit still yields a NaN loss.
func maxf(x []float32) float32 {
	inf := float32(math.Inf(-1))
	m0, m1, m2, m3 := inf, inf, inf, inf
	i := 0
	for ; i+4 <= len(x); i += 4 {
		v := x[i : i+4 : i+4]
		if v[0] > m0 {
			m0 = v[0]
		}
		if v[1] > m1 {
			m1 = v[1]
		}
		if v[2] > m2 {
			m2 = v[2]
		}
		if v[3] > m3 {
			m3 = v[3]
		}
	}
	for ; i < len(x); i++ {
		if x[i] > m0 {
			m0 = x[i]
		}
	}
	if m1 > m0 {
		m0 = m1
	}
	if m3 > m2 {
		m2 = m3
	}
	if m2 > m0 {
		m0 = m2
	}
	return m0
}
