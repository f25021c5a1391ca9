package nn

import (
	"testing"

	"github.com/align-go/align/internal/membw"
	"github.com/align-go/align/tensor"
)

// BenchmarkDecodeStepQ runs the block Linears of Qwen2.5-0.5B's decode step
// at batch 1 (q, k, v together, o, gate and up together, down; 8 of its 24
// layers: 120M weights, far more than any cache) with the weights stored as
// bf16, int8 (exact, and with int8 activations: QWeight.Int8Act) and NF4, beside a streaming read of the same number of bytes
// (internal/membw), so each dtype's GB/s can be read against the machine's
// in the same run:
//
//	go test ./nn -run '^$' -bench DecodeStepQ -benchtime 20x
func BenchmarkDecodeStepQ(b *testing.B) {
	const C, F, KV, layers = 896, 4864, 128, 8
	type lin struct{ OC, IC int }
	shapes := []lin{{C, C}, {KV, C}, {KV, C}, {C, C}, {F, C}, {F, C}, {C, F}}
	r := newRNG(3)
	ws := make([][]float32, len(shapes))
	for i, s := range shapes {
		ws[i] = randn(r, s.OC*s.IC, 0.02)
	}
	xs := randn(r, F, 1)
	outs := make([][]float32, len(shapes))
	for i, s := range shapes {
		outs[i] = make([]float32, s.OC)
	}
	for _, v := range []struct {
		dt  WeightDType
		act bool
	}{{WeightBF16, false}, {WeightInt8, false}, {WeightInt8, true}, {WeightNF4, false}} {
		dt := v.dt
		var qs [layers][]*QWeight
		var bytes int64
		for l := range qs {
			for i, s := range shapes {
				// Each layer its own copy: the step streams from memory.
				q := QuantizeWeight(ws[i], s.OC, s.IC, dt, false)
				q.Int8Act = v.act
				qs[l] = append(qs[l], q)
				bytes += q.Bytes()
			}
		}
		name := dt.String()
		if v.act {
			name += "-act8"
		}
		b.Run(name, func(b *testing.B) {
			b.SetBytes(bytes)
			c0 := cpuTime()
			for b.Loop() {
				for l := range qs {
					q := qs[l]
					LinearDecodeMany(xs[:C], 1, C, DecodeOut{Out: outs[0], Q: q[0], OC: C}, DecodeOut{Out: outs[1], Q: q[1], OC: KV}, DecodeOut{Out: outs[2], Q: q[2], OC: KV})
					LinearDecodeMany(xs[:C], 1, C, DecodeOut{Out: outs[3], Q: q[3], OC: C})
					LinearDecodeMany(xs[:C], 1, C, DecodeOut{Out: outs[4], Q: q[4], OC: F}, DecodeOut{Out: outs[5], Q: q[5], OC: F})
					LinearDecodeMany(xs[:F], 1, F, DecodeOut{Out: outs[6], Q: q[6], OC: C})
				}
			}
			// On a shared machine wall time includes waiting for a core;
			// CPU time per byte does not.
			b.ReportMetric(float64(bytes)*float64(b.N)/(cpuTime()-c0)/1e9, "GB/cpu-s")
		})
		b.Run(name+"-membw", func(b *testing.B) {
			c0 := cpuTime()
			bw := membw.Measure(bytes, tensor.Threads(), max(b.N, 1))
			b.ReportMetric(bw.BytesPerSec/1e9, "GB/s")
			b.ReportMetric(float64(bytes)*float64(b.N+1)/(cpuTime()-c0)/1e9, "GB/cpu-s")
		})
	}
}
