package nn

import (
	"fmt"
	"testing"

	"github.com/align-go/align/tensor"
)

// BenchmarkLinearDecode measures the decode tiles against the blocked GEMM
// on GPT-2-small Linear shapes at decode batch sizes, one thread.
func BenchmarkLinearDecode(b *testing.B) {
	old := tensor.Threads()
	defer tensor.SetThreads(old)
	tensor.SetThreads(1)
	for _, s := range [][3]int{{1, 768, 2304}, {1, 3072, 768}, {1, 768, 50257}, {16, 768, 2304}, {16, 768, 3072}, {16, 3072, 768}, {16, 768, 50257}, {32, 768, 3072}, {32, 768, 50257}, {64, 768, 3072}} {
		N, IC, OC := s[0], s[1], s[2]
		r := newRNG(1)
		inp, w := randn(r, N*IC, 1), randn(r, OC*IC, 1)
		out := make([]float32, N*OC)
		for _, gemm := range []bool{false, true} {
			name := "tiles"
			if gemm {
				name = "gemm"
			}
			b.Run(fmt.Sprintf("%s/%dx%dx%d", name, N, IC, OC), func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					if gemm {
						LinearForward(out, inp, w, nil, N, IC, OC)
					} else {
						LinearDecode(out, inp, w, nil, N, IC, OC)
					}
				}
				b.ReportMetric(float64(2*N*IC*OC)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOPS")
			})
		}
	}
}

// BenchmarkDecodeStepLinears runs every Linear of one GPT-2-small decode step
// (12 layers of qkv, o, fc, proj, then the 50257-row head: 497 MB of f32
// weights, more than any cache), so the weights stream from memory as in
// generation; with f32 weights and with bf16 weights (each bf16 kernel family
// this CPU has). GB/s counts the bytes of the weights as stored.
func BenchmarkDecodeStepLinears(b *testing.B) {
	type lin struct{ IC, OC int }
	var ls []lin
	for l := 0; l < 12; l++ {
		ls = append(ls, lin{768, 2304}, lin{768, 768}, lin{768, 3072}, lin{3072, 768})
	}
	ls = append(ls, lin{768, 50257})
	r := newRNG(2)
	ws := make([][]float32, len(ls))
	w16s := make([][]uint16, len(ls))
	params := 0
	for i, l := range ls {
		ws[i] = randn(r, l.IC*l.OC, 1)
		w16s[i] = make([]uint16, len(ws[i]))
		tensor.ToBF16(w16s[i], ws[i])
		params += l.IC * l.OC
	}
	old, oldK := tensor.Threads(), bf16Kernel
	defer func() { tensor.SetThreads(old); bf16Kernel = oldK }()
	dtypes := []string{"f32"}
	for _, k := range bf16Kernels() {
		dtypes = append(dtypes, "bf16-"+bf16KernelName[k])
	}
	for _, threads := range []int{1, 2} {
		for _, N := range []int{1, 16, 64} {
			inp := randn(r, N*3072, 1)
			out := make([]float32, N*50257)
			for _, dt := range dtypes {
				b.Run(fmt.Sprintf("threads=%d/N=%d/%s", threads, N, dt), func(b *testing.B) {
					tensor.SetThreads(threads)
					bytes := 4 * params
					for _, k := range bf16Kernels() {
						if dt == "bf16-"+bf16KernelName[k] {
							bf16Kernel, bytes = k, 2*params
						}
					}
					for i := 0; i < b.N; i++ {
						for j, l := range ls {
							if dt == "f32" {
								LinearDecode(out, inp, ws[j], nil, N, l.IC, l.OC)
							} else {
								LinearDecodeMany(inp, N, l.IC, DecodeOut{Out: out, W16: w16s[j], OC: l.OC})
							}
						}
					}
					b.ReportMetric(float64(bytes)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GB/s")
					b.ReportMetric(b.Elapsed().Seconds()*1e3/float64(b.N), "ms/step")
				})
			}
		}
	}
}

// BenchmarkDecodePrefetch is BenchmarkDecodeStepLinears at 16 rows, two
// threads, over dotTiles' prefetch distance.
func BenchmarkDecodePrefetch(b *testing.B) {
	type lin struct{ IC, OC int }
	var ls []lin
	for l := 0; l < 12; l++ {
		ls = append(ls, lin{768, 2304}, lin{768, 768}, lin{768, 3072}, lin{3072, 768})
	}
	ls = append(ls, lin{768, 50257})
	r := newRNG(2)
	ws := make([][]float32, len(ls))
	bytes := 0
	for i, l := range ls {
		ws[i] = randn(r, l.IC*l.OC, 1)
		bytes += 4 * l.IC * l.OC
	}
	old, oldPF := tensor.Threads(), DecodePrefetchGroups
	defer func() { tensor.SetThreads(old); DecodePrefetchGroups = oldPF }()
	tensor.SetThreads(2)
	const N = 16
	inp := randn(r, N*3072, 1)
	out := make([]float32, N*50257)
	for _, pf := range []int{0, 1, 2, 4} {
		b.Run(fmt.Sprintf("groups=%d", pf), func(b *testing.B) {
			DecodePrefetchGroups = pf
			for i := 0; i < b.N; i++ {
				for j, l := range ls {
					LinearDecode(out, inp, ws[j], nil, N, l.IC, l.OC)
				}
			}
			b.ReportMetric(float64(bytes)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GB/s")
			b.ReportMetric(b.Elapsed().Seconds()*1e3/float64(b.N), "ms/step")
		})
	}
}
