//go:build !amd64 || purego

package nn

func widenBF16(dst []float32, src []uint16)          { widenBF16Go(dst, src) }
func widenF16(dst []float32, src []uint16)           { widenF16Go(dst, src) }
func dequantInt8(dst []float32, q []byte, s float32) { dequantInt8Go(dst, q, s) }
func dequant4(dst []float32, p []byte, start int, lv *[16]float32, s float32) {
	dequant4Go(dst, p, start, lv, s)
}
