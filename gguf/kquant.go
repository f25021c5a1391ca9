package gguf

import (
	"math"
)

// The k-quants: 256-value super-blocks split into sub-blocks, each with its
// own scale (and, for Q4_K/Q5_K, minimum) quantised again against one fp16
// super-scale. quantQ4_K, quantQ5_K and quantQ6_K are ggml's
// quantize_row_q{4,5,6}_K_ref, which is what llama-quantize runs when no
// importance matrix is given.

// makeQKX2 is ggml's make_qkx2_quants: fit x ≈ scale*L - min (L in [0,nmax],
// min >= 0) by weighted least squares over nstep+1 candidate inverse scales
// around nmax/(max-min), keeping the best; returns scale and min.
func makeQKX2(nmax int, x, weights []float32, L, Laux []uint8, rmin, rdelta float32, nstep int) (scale, theMin float32) {
	n := len(x)
	mn, mx := x[0], x[0]
	sumW := weights[0]
	sumX := float32(sumW * x[0])
	for i := 1; i < n; i++ {
		mn, mx = min(mn, x[i]), max(mx, x[i])
		w := weights[i]
		sumW += w
		sumX += float32(w * x[i])
	}
	if mn > 0 {
		mn = 0
	}
	if mx == mn {
		clear(L[:n])
		return 0, -mn
	}
	iscale := float32(nmax) / (mx - mn)
	scale = 1 / iscale
	var bestErr float32
	for i := range n {
		l := nearestInt(float32(iscale * (x[i] - mn)))
		L[i] = uint8(max(0, min(nmax, l)))
		diff := float32(scale*float32(L[i])) + mn - x[i]
		bestErr += float32(weights[i] * float32(diff*diff))
	}
	if nstep < 1 {
		return scale, -mn
	}
	for is := 0; is <= nstep; is++ {
		iscale = (rmin + float32(rdelta*float32(is)) + float32(nmax)) / (mx - mn)
		var sumL, sumL2, sumXL float32
		for i := range n {
			l := nearestInt(float32(iscale * (x[i] - mn)))
			l = max(0, min(nmax, l))
			Laux[i] = uint8(l)
			w := weights[i]
			fl := float32(l)
			sumL += float32(w * fl)
			sumL2 += float32(float32(w*fl) * fl)
			sumXL += float32(float32(w*fl) * x[i])
		}
		D := float32(sumW*sumL2) - float32(sumL*sumL)
		if D > 0 {
			thisScale := (float32(sumW*sumXL) - float32(sumX*sumL)) / D
			thisMin := (float32(sumL2*sumX) - float32(sumL*sumXL)) / D
			if thisMin > 0 {
				thisMin = 0
				thisScale = sumXL / sumL2
			}
			var cur float32
			for i := range n {
				diff := float32(thisScale*float32(Laux[i])) + thisMin - x[i]
				cur += float32(weights[i] * float32(diff*diff))
			}
			if cur < bestErr {
				copy(L[:n], Laux[:n])
				bestErr = cur
				scale, mn = thisScale, thisMin
			}
		}
	}
	return scale, -mn
}

// makeQX is ggml's make_qx_quants with rmse_type 1 and no importance weights
// (the Q6_K reference's call): symmetric L in [-nmax, nmax-1], stored +nmax,
// with the scale refined over 18 nearby candidates, weights x².
func makeQX(nmax int, x []float32, L []int8) float32 {
	n := len(x)
	var mx, amax float32
	for i := range n {
		ax := abs32(x[i])
		if ax > amax {
			amax, mx = ax, x[i]
		}
	}
	if amax < 1e-15 { // GROUP_MAX_EPS
		clear(L[:n])
		return 0
	}
	iscale := float32(-nmax) / mx
	var sumLX, sumL2 float32
	for i := range n {
		l := nearestInt(float32(iscale * x[i]))
		l = max(-nmax, min(nmax-1, l))
		L[i] = int8(l + nmax)
		w := float32(x[i] * x[i])
		fl := float32(l)
		sumLX += float32(float32(w*x[i]) * fl)
		sumL2 += float32(float32(w*fl) * fl)
	}
	var scale float32
	if sumL2 != 0 {
		scale = sumLX / sumL2
	}
	best := float32(scale * sumLX)
	for is := -9; is <= 9; is++ {
		if is == 0 {
			continue
		}
		iscale = -(float32(nmax) + float32(0.1*float32(is))) / mx
		sumLX, sumL2 = 0, 0
		for i := range n {
			l := nearestInt(float32(iscale * x[i]))
			l = max(-nmax, min(nmax-1, l))
			w := float32(x[i] * x[i])
			fl := float32(l)
			sumLX += float32(float32(w*x[i]) * fl)
			sumL2 += float32(float32(w*fl) * fl)
		}
		if sumL2 > 0 && float32(sumLX*sumLX) > float32(best*sumL2) {
			for i := range n {
				l := nearestInt(float32(iscale * x[i]))
				L[i] = int8(nmax + max(-nmax, min(nmax-1, l)))
			}
			scale = sumLX / sumL2
			best = float32(scale * sumLX)
		}
	}
	return scale
}

// scaleMinK4 unpacks sub-block j's 6-bit scale and min from the 12-byte
// packing Q4_K and Q5_K share (ggml's get_scale_min_k4).
func scaleMinK4(j int, q []byte) (d, m uint8) {
	if j < 4 {
		return q[j] & 63, q[j+4] & 63
	}
	return q[j+4]&0xf | (q[j-4]>>6)<<4, q[j+4]>>4 | (q[j]>>6)<<4
}

// kScalesMins fits the eight 32-value sub-blocks of a Q4_K/Q5_K super-block
// (nmax 15 or 31), packs their 6-bit scales and mins into sc[12], and returns
// the fp16 super-scale and super-min as stored, then each value's level.
func kScalesMins(x []float32, nmax int, rmin, rdelta float32, nstep int, sc []byte, dd, dmin []byte, L []uint8) {
	var Laux [32]uint8
	var weights [32]float32
	var mins, scales [8]float32
	var maxScale, maxMin float32
	for j := range 8 {
		xs := x[32*j : 32*j+32]
		var sumX2 float32
		for _, v := range xs {
			sumX2 += float32(v * v)
		}
		avX := float32(math.Sqrt(float64(sumX2 / 32)))
		for l, v := range xs {
			weights[l] = avX + abs32(v)
		}
		scales[j], mins[j] = makeQKX2(nmax, xs, weights[:], L[32*j:32*j+32], Laux[:], rmin, rdelta, nstep)
		maxScale = max(maxScale, scales[j])
		maxMin = max(maxMin, mins[j])
	}
	var invScale, invMin float32
	if maxScale > 0 {
		invScale = 63 / maxScale
	}
	if maxMin > 0 {
		invMin = 63 / maxMin
	}
	clear(sc[:12])
	for j := range 8 {
		ls := min(63, uint8(nearestInt(float32(invScale*scales[j]))))
		lm := min(63, uint8(nearestInt(float32(invMin*mins[j]))))
		if j < 4 {
			sc[j] = ls
			sc[j+4] = lm
		} else {
			sc[j+4] = ls&0xf | (lm&0xf)<<4
			sc[j-4] |= (ls >> 4) << 6
			sc[j] |= (lm >> 4) << 6
		}
	}
	putF16(dd, maxScale/63)
	putF16(dmin, maxMin/63)
	D, M := getF16(dd), getF16(dmin)
	for j := range 8 {
		s, m := scaleMinK4(j, sc)
		d := float32(D * float32(s))
		if d == 0 {
			continue
		}
		dm := float32(M * float32(m))
		for ii := range 32 {
			l := nearestInt((x[32*j+ii] + dm) / d)
			L[32*j+ii] = uint8(max(0, min(nmax, l)))
		}
	}
}

// Q4_K block: d fp16, dmin fp16, scales[12], qs[128]; value = d*sc*q - dmin*m.
func quantQ4_K(dst []byte, x []float32) {
	var L [QK_K]uint8
	kScalesMins(x, 15, -1, 0.1, 20, dst[4:16], dst[0:2], dst[2:4], L[:])
	q := dst[16:]
	for j := 0; j < QK_K; j += 64 {
		for l := range 32 {
			q[l] = L[j+l] | L[j+l+32]<<4
		}
		q = q[32:]
	}
}

func dequantQ4_K(y []float32, b []byte) {
	d, mn := getF16(b), getF16(b[2:])
	sc, q := b[4:16], b[16:]
	is := 0
	for j := 0; j < QK_K; j += 64 {
		s, m := scaleMinK4(is, sc)
		d1, m1 := d*float32(s), mn*float32(m)
		s, m = scaleMinK4(is+1, sc)
		d2, m2 := d*float32(s), mn*float32(m)
		for l := range 32 {
			y[j+l] = d1*float32(q[l]&0xf) - m1
			y[j+32+l] = d2*float32(q[l]>>4) - m2
		}
		q = q[32:]
		is += 2
	}
}

// Q5_K block: d, dmin, scales[12], qh[32], qs[128]; the fifth bit of value
// j+64k (+32) sits in bit 2k (2k+1) of qh[j].
func quantQ5_K(dst []byte, x []float32) {
	var L [QK_K]uint8
	kScalesMins(x, 31, -0.5, 0.1, 15, dst[4:16], dst[0:2], dst[2:4], L[:])
	qh, ql := dst[16:48], dst[48:]
	clear(qh)
	m1, m2 := uint8(1), uint8(2)
	for n := 0; n < QK_K; n += 64 {
		for j := range 32 {
			l1, l2 := L[n+j], L[n+j+32]
			if l1 > 15 {
				l1 -= 16
				qh[j] |= m1
			}
			if l2 > 15 {
				l2 -= 16
				qh[j] |= m2
			}
			ql[j] = l1 | l2<<4
		}
		m1 <<= 2
		m2 <<= 2
		ql = ql[32:]
	}
}

func dequantQ5_K(y []float32, b []byte) {
	d, mn := getF16(b), getF16(b[2:])
	sc, qh, ql := b[4:16], b[16:48], b[48:]
	is := 0
	u1, u2 := uint8(1), uint8(2)
	for j := 0; j < QK_K; j += 64 {
		s, m := scaleMinK4(is, sc)
		d1, m1 := d*float32(s), mn*float32(m)
		s, m = scaleMinK4(is+1, sc)
		d2, m2 := d*float32(s), mn*float32(m)
		for l := range 32 {
			h1, h2 := 0, 0
			if qh[l]&u1 != 0 {
				h1 = 16
			}
			if qh[l]&u2 != 0 {
				h2 = 16
			}
			y[j+l] = d1*float32(int(ql[l]&0xf)+h1) - m1
			y[j+32+l] = d2*float32(int(ql[l]>>4)+h2) - m2
		}
		ql = ql[32:]
		is += 2
		u1 <<= 2
		u2 <<= 2
	}
}

// Q6_K block: ql[128] (low 4 bits), qh[64] (high 2 bits), scales[16] int8,
// d fp16; value = d * scale[sub-block of 16] * (q - 32).
func quantQ6_K(dst []byte, x []float32) {
	var L [QK_K]int8
	var scales [16]float32
	var maxScale, maxAbs float32
	for ib := range 16 {
		s := makeQX(32, x[16*ib:16*ib+16], L[16*ib:16*ib+16])
		scales[ib] = s
		if abs32(s) > maxAbs {
			maxAbs, maxScale = abs32(s), s
		}
	}
	ql, qh, sc := dst[0:128], dst[128:192], dst[192:208]
	if maxAbs < 1e-15 {
		clear(dst)
		return
	}
	iscale := -128 / maxScale
	putF16(dst[208:], 1/iscale)
	for ib := range 16 {
		sc[ib] = byte(int8(min(127, nearestInt(float32(iscale*scales[ib])))))
	}
	D := getF16(dst[208:])
	for j := range 16 {
		d := float32(D * float32(int8(sc[j])))
		if d == 0 {
			continue
		}
		for ii := range 16 {
			l := nearestInt(x[16*j+ii] / d)
			L[16*j+ii] = int8(max(-32, min(31, l)) + 32)
		}
	}
	for j := 0; j < QK_K; j += 128 {
		for l := range 32 {
			q1 := uint8(L[j+l]) & 0xf
			q2 := uint8(L[j+l+32]) & 0xf
			q3 := uint8(L[j+l+64]) & 0xf
			q4 := uint8(L[j+l+96]) & 0xf
			ql[l] = q1 | q3<<4
			ql[l+32] = q2 | q4<<4
			qh[l] = uint8(L[j+l])>>4 | (uint8(L[j+l+32])>>4)<<2 | (uint8(L[j+l+64])>>4)<<4 | (uint8(L[j+l+96])>>4)<<6
		}
		ql = ql[64:]
		qh = qh[32:]
	}
}

func dequantQ6_K(y []float32, b []byte) {
	d := getF16(b[208:])
	ql, qh, sc := b[0:128], b[128:192], b[192:208]
	for n := 0; n < QK_K; n += 128 {
		for l := range 32 {
			is := l / 16
			q1 := int(ql[l]&0xf|(qh[l]>>0&3)<<4) - 32
			q2 := int(ql[l+32]&0xf|(qh[l]>>2&3)<<4) - 32
			q3 := int(ql[l]>>4|(qh[l]>>4&3)<<4) - 32
			q4 := int(ql[l+32]>>4|(qh[l]>>6&3)<<4) - 32
			y[n+l] = d * float32(int8(sc[is])) * float32(q1)
			y[n+l+32] = d * float32(int8(sc[is+2])) * float32(q2)
			y[n+l+64] = d * float32(int8(sc[is+4])) * float32(q3)
			y[n+l+96] = d * float32(int8(sc[is+6])) * float32(q4)
		}
		ql = ql[64:]
		qh = qh[32:]
		sc = sc[8:]
	}
}
