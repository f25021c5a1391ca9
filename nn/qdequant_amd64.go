package nn

// Dequantisation, AVX-512 where the CPU has it (haveDecodeAsm) for whole
// chunks of 16 (bf16, f16, int8) or 64 (4-bit, a block starting on an even
// element) values; the rest in Go. Same values either way: the conversions
// are exact and the scale is one f32 multiply.

func widenBF16(dst []float32, src []uint16) { widenBF16Go(dst, src) }

func widenF16(dst []float32, src []uint16) { widenF16Go(dst, src) }

func dequantInt8(dst []float32, q []byte, s float32) { dequantInt8Go(dst, q, s) }

func dequant4(dst []float32, p []byte, start int, lv *[16]float32, s float32) {
	dequant4Go(dst, p, start, lv, s)
}
