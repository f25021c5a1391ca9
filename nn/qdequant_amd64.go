//go:build !purego

package nn

// Dequantisation in AVX-512 where the CPU has it (haveDecodeAsm), over whole
// chunks of 16 values (bf16, f16, int8) or 32 (4-bit, from an even element);
// the rest in Go. The values are the same either way: the widenings are
// exact and the scale is one f32 multiply.

//go:noescape
func widenBF16AVX512(dst *float32, src *uint16, n int)

//go:noescape
func widenF16AVX512(dst *float32, src *uint16, n int)

//go:noescape
func dequantInt8AVX512(dst *float32, q *byte, n int, s float32)

//go:noescape
func dequant4AVX512(dst *float32, p *byte, n int, lv *[16]float32, s float32)

func widenBF16(dst []float32, src []uint16) {
	n := 0
	if haveDecodeAsm {
		if n = len(dst) &^ 15; n > 0 {
			widenBF16AVX512(&dst[0], &src[:n][0], n)
		}
	}
	widenBF16Go(dst[n:], src[n:len(dst)])
}

func widenF16(dst []float32, src []uint16) {
	n := 0
	if haveDecodeAsm {
		if n = len(dst) &^ 15; n > 0 {
			widenF16AVX512(&dst[0], &src[:n][0], n)
		}
	}
	widenF16Go(dst[n:], src[n:len(dst)])
}

func dequantInt8(dst []float32, q []byte, s float32) {
	n := 0
	if haveDecodeAsm {
		if n = len(dst) &^ 15; n > 0 {
			dequantInt8AVX512(&dst[0], &q[:n][0], n, s)
		}
	}
	dequantInt8Go(dst[n:], q[n:len(dst)], s)
}

func dequant4(dst []float32, p []byte, start int, lv *[16]float32, s float32) {
	n := 0
	if haveDecodeAsm && start%2 == 0 {
		if n = len(dst) &^ 31; n > 0 {
			dequant4AVX512(&dst[0], &p[start/2 : start/2+n/2][0], n, lv, s)
		}
	}
	dequant4Go(dst[n:], p, start+n, lv, s)
}
