package nn

import (
	"fmt"
	"math"
	"sync"
	"unsafe"
)

// Decoding with bfloat16 weights. A decode step at batch 1 streams every
// weight once from memory and does two flops per 4-byte f32 element, so it
// is bound by bandwidth; the same weights in bf16 (the top 16 bits of an f32:
// 8 significant bits) are half the bytes. Sums stay in f32. Three kernel
// families, picked once at start-up (bf16Kernel): AVX512_BF16's VDPBF16PS
// (inputs rounded to bf16 too, twice the multiplies per instruction), an
// AVX-512 kernel that widens weights to f32 in registers and keeps f32
// inputs, and portable Go.

// DecodeMaxRowsBF16 is DecodeMaxRows for bf16 weights: up to this many rows
// the bf16 dot tiles run even where an f32 copy of the weight exists.
var DecodeMaxRowsBF16 = 64

// x16Pool holds the bf16 copy of a Linear's input for the DP kernels.
var x16Pool = sync.Pool{New: func() any { return new([]uint16) }}

// FromBF16 widens bfloat16 bits to float32 (exact).
func FromBF16(dst []float32, src []uint16) {
	dst = dst[:len(src)]
	for i, b := range src {
		dst[i] = math.Float32frombits(uint32(b) << 16)
	}
}

// dotRowsBF16 is dotRows with bf16 weights: out[i*ldo+j] =
// x[i*ldx:][:K]·w[j*ldw:][:K]. x16 is x rounded to bf16 (same layout), needed
// only by the DP kernels. As in dotRows, which path an output takes depends
// only on j, N and K, so a row's result is the same in any batch. The widening
// kernel and the Go path compute exactly what dotRows computes on the widened
// weights.
func dotRowsBF16(out []float32, ldo int, x []float32, x16 []uint16, ldx int, w []uint16, ldw, M, N, K int) {
	if M <= 0 || N <= 0 {
		return
	}
	kern := bf16Kernel
	if M > 4*maxTiles {
		rest := 4 * maxTiles * ldx
		dotRowsBF16(out, ldo, x, x16, ldx, w, ldw, 4*maxTiles, N, K)
		var x16r []uint16
		if kern == kernBF16DP {
			x16r = x16[rest:]
		}
		dotRowsBF16(out[4*maxTiles*ldo:], ldo, x[rest:], x16r, ldx, w, ldw, M-4*maxTiles, N, K)
		return
	}
	if len(x) < (M-1)*ldx+K || len(w) < (N-1)*ldw+K || len(out) < (M-1)*ldo+N || ldx < K || ldw < K || ldo < N ||
		(kern == kernBF16DP && len(x16) < (M-1)*ldx+K) {
		panic(fmt.Sprintf("nn.dotRowsBF16: short operand (M=%d N=%d K=%d, len x=%d x16=%d w=%d out=%d)", M, N, K, len(x), len(x16), len(w), len(out)))
	}
	kk, n4 := 0, N&^3
	switch kern {
	case kernBF16DP:
		kk = K &^ 31
	case kernBF16Cvt:
		kk = K &^ 15
	}
	switch {
	case kk == 0 || n4 == 0:
		n4 = 0
	case kern == kernBF16DP && M == 1:
		dot1x4(kern, kk, unsafe.Pointer(&x16[0]), unsafe.Pointer(&w[0]), ldw, n4/4, &out[0])
	case kern == kernBF16DP:
		dotTiles(kern, out, ldo, x16, ldx, w, ldw, M, n4, kk)
	case M == 1:
		dot1x4(kern, kk, unsafe.Pointer(&x[0]), unsafe.Pointer(&w[0]), ldw, n4/4, &out[0])
	default:
		dotTiles(kern, out, ldo, x, ldx, w, ldw, M, n4, kk)
	}
	if n4 == 0 {
		kk = 0
	}
	if kk == K && n4 == N {
		return
	}
	// The DP kernels' tails also use the rounded input, so that the whole
	// path is one rule: bf16 input times bf16 weight, summed in f32.
	var xw []float32
	if kern == kernBF16DP {
		xw = make([]float32, K)
	}
	for i := 0; i < M; i++ {
		xr := x[i*ldx : i*ldx+K]
		if xw != nil {
			FromBF16(xw, x16[i*ldx:i*ldx+K])
			xr = xw
		}
		o := out[i*ldo : i*ldo+N]
		if kk < K {
			for j := 0; j < n4; j++ {
				o[j] += dotBF16Go(xr[kk:], w[j*ldw+kk:j*ldw+K])
			}
		}
		for j := n4; j < N; j++ {
			o[j] = dotBF16Go(xr, w[j*ldw:j*ldw+K])
		}
	}
}

// dotBF16Go is dotGo with bf16 b, widened exactly (the portable path).
func dotBF16Go(a []float32, b []uint16) float32 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(a); i += 4 {
		s0 += a[i] * math.Float32frombits(uint32(b[i])<<16)
		s1 += a[i+1] * math.Float32frombits(uint32(b[i+1])<<16)
		s2 += a[i+2] * math.Float32frombits(uint32(b[i+2])<<16)
		s3 += a[i+3] * math.Float32frombits(uint32(b[i+3])<<16)
	}
	for ; i < len(a); i++ {
		s0 += a[i] * math.Float32frombits(uint32(b[i])<<16)
	}
	return (s0 + s1) + (s2 + s3)
}

// BF16Kernels lists the bf16 kernel families this CPU can run, best first:
// "vdpbf16ps" (AVX512_BF16), "widen" (AVX-512), "go".
func BF16Kernels() []string {
	var ks []string
	if haveBF16Asm {
		ks = append(ks, "vdpbf16ps")
	}
	if haveDecodeAsm {
		ks = append(ks, "widen")
	}
	return append(ks, "go")
}

// BF16Kernel names the bf16 kernel family in use.
func BF16Kernel() string {
	switch bf16Kernel {
	case kernBF16DP:
		return "vdpbf16ps"
	case kernBF16Cvt:
		return "widen"
	}
	return "go"
}

// SetBF16Kernel switches the bf16 kernel family (one of BF16Kernels), for
// tests and benchmarks that compare them. Not safe while a decode runs.
func SetBF16Kernel(name string) error {
	k := map[string]int{"vdpbf16ps": kernBF16DP, "widen": kernBF16Cvt, "go": kernF32}
	for _, n := range BF16Kernels() {
		if n == name {
			bf16Kernel = k[n]
			return nil
		}
	}
	return fmt.Errorf("bf16 kernel %q: this CPU runs %v", name, BF16Kernels())
}
