package checkpoint

import "math"

// F16ToF32 widens an IEEE binary16 value; every half value, subnormals
// included, is exact in float32.
func F16ToF32(h uint16) float32 {
	sign := uint32(h&0x8000) << 16
	exp := uint32(h>>10) & 0x1f
	man := uint32(h & 0x3ff)
	switch {
	case exp == 0:
		// Zero or subnormal: man × 2^-24, exact in float32.
		v := float32(man) * (1.0 / (1 << 24))
		return math.Float32frombits(sign | math.Float32bits(v))
	case exp == 0x1f:
		if man == 0 {
			return math.Float32frombits(sign | 0x7f800000)
		}
		return math.Float32frombits(sign | 0x7fc00000 | man<<13)
	default:
		return math.Float32frombits(sign | (exp+112)<<23 | man<<13)
	}
}

// F32ToF16 rounds to the nearest binary16 value, ties to even, overflowing
// to ±Inf and underflowing through the subnormals to ±0, as torch's
// .to(torch.float16) does. NaN becomes the canonical quiet NaN with its sign.
func F32ToF16(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int32(b>>23) & 0xff
	man := b & 0x7fffff
	if exp == 0xff {
		if man != 0 {
			return sign | 0x7e00
		}
		return sign | 0x7c00
	}
	e := exp - 112 // rebias 127 → 15
	if e >= 31 {
		return sign | 0x7c00
	}
	if e <= 0 {
		// Half subnormal: the result is m × 2^(e-14) in units of 2^-24.
		if e < -10 {
			return sign // below half the smallest subnormal
		}
		m := man | 0x800000
		shift := uint32(14 - e)
		h := m >> shift
		rem := m & (1<<shift - 1)
		half := uint32(1) << (shift - 1)
		if rem > half || rem == half && h&1 == 1 {
			h++ // may carry into the smallest normal, which is the right encoding
		}
		return sign | uint16(h)
	}
	h := uint32(e)<<10 | man>>13
	rem := man & 0x1fff
	if rem > 0x1000 || rem == 0x1000 && h&1 == 1 {
		h++ // a carry into the exponent is correct, up to and including Inf
	}
	return sign | uint16(h)
}

// BF16ToF32 widens a bfloat16 value, which is the top half of a float32.
func BF16ToF32(h uint16) float32 {
	return math.Float32frombits(uint32(h) << 16)
}

// F32ToBF16 rounds to the nearest bfloat16, ties to even, denormals rounded
// like any other value, as torch's .to(torch.bfloat16) does, so a saved
// checkpoint holds torch's bytes; NaN becomes 0x7fc0, c10::BFloat16's
// canonical NaN. It is not tensor.RoundBF16, the compute path's rounding,
// which flushes denormals to zero as the AVX512-BF16 instruction does
// (TestBF16RoundingCheckpointVsTensor pins where the two differ).
func F32ToBF16(f float32) uint16 {
	b := math.Float32bits(f)
	if b&0x7fffffff > 0x7f800000 {
		return 0x7fc0
	}
	return uint16((b + 0x7fff + (b>>16)&1) >> 16)
}

// f8e4m3ToF32 decodes float8 E4M3FN (bias 7, no Inf, S.1111.111 is NaN).
func f8e4m3ToF32(v uint8) float32 {
	sign := float32(1)
	if v&0x80 != 0 {
		sign = -1
	}
	exp := int(v>>3) & 0xf
	man := float32(v & 7)
	switch {
	case exp == 0xf && v&7 == 7:
		return float32(math.NaN())
	case exp == 0:
		return sign * man * (1.0 / 512) // man/8 × 2^-6
	default:
		return sign * (1 + man/8) * float32(math.Ldexp(1, exp-7))
	}
}

// f8e5m2ToF32 decodes float8 E5M2, which is the top byte of a binary16.
func f8e5m2ToF32(v uint8) float32 {
	return F16ToF32(uint16(v) << 8)
}
