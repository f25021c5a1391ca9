package nn

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// BenchmarkLinearQDecode: one Qwen2.5-0.5B MLP up-projection ([4864, 896])
// at decode row counts, each weight dtype read as decoding reads it
// (LinearDecodeMany: bf16 through the bf16 tiles, 8/4-bit through the
// dequantising tiles). The bytes/s column is the weight bytes streamed.
//
//	go test ./nn -run '^$' -bench LinearQDecode
func BenchmarkLinearQDecode(b *testing.B) {
	const OC, IC = 4864, 896
	r := rand.New(rand.NewPCG(1, 1))
	w := make([]float32, OC*IC)
	for i := range w {
		w[i] = float32(r.NormFloat64() * 0.02)
	}
	for _, dt := range []WeightDType{WeightF32, WeightBF16, WeightInt8, WeightNF4} {
		q := QuantizeWeight(w, OC, IC, dt, false)
		for _, N := range []int{1, 8} {
			b.Run(fmt.Sprintf("%v/rows=%d", dt, N), func(b *testing.B) {
				inp := make([]float32, N*IC)
				for i := range inp {
					inp[i] = float32(r.NormFloat64())
				}
				out := make([]float32, N*OC)
				b.SetBytes(q.Bytes())
				for b.Loop() {
					LinearDecodeMany(inp, N, IC, DecodeOut{Out: out, Q: q, OC: OC})
				}
			})
		}
	}
}
