package tensor

import (
	"fmt"
	"testing"
)

// BenchmarkGemmPrec compares the f32 and bf16 products on the Linear shapes
// of Qwen2.5-0.5B LoRA SFT at B=4, T=512 (m = 2048 tokens, C = 896,
// FFN = 4864), the LM head's chunk (110 rows, a slice of the vocabulary),
// and the bf16 product with the weight already in bf16 ("bits").
// cpu-GFLOP/s divides by the process's CPU time (all threads), so on a
// shared machine it is a per-core rate that other load does not dilute:
//
//	go test ./tensor -run '^$' -bench GemmPrec -benchtime 5x
func BenchmarkGemmPrec(b *testing.B) {
	cases := []struct {
		name           string
		transA, transB bool
		m, n, k        int
	}{
		{"fwd-NT/2048x4864x896", false, true, 2048, 4864, 896},
		{"dinp-NN/2048x896x4864", false, false, 2048, 896, 4864},
		{"dw-TN/896x4864x2048", true, false, 896, 4864, 2048},
		{"dw-TN/4864x896x2048", true, false, 4864, 896, 2048},
		{"head-NT/110x16384x896", false, true, 110, 16384, 896},
		{"head-dh-NN/110x896x16384", false, false, 110, 896, 16384},
	}
	for _, bc := range cases {
		ar, ac := bc.m, bc.k
		if bc.transA {
			ar, ac = bc.k, bc.m
		}
		br, bcol := bc.k, bc.n
		if bc.transB {
			br, bcol = bc.n, bc.k
		}
		a := make([]float32, ar*ac)
		w := make([]float32, br*bcol)
		for i := range a {
			a[i] = float32(i%7) * 0.1
		}
		for i := range w {
			w[i] = float32(i%5) * 0.1
		}
		w16 := make([]uint16, len(w))
		ToBF16(w16, w)
		c := make([]float32, bc.m*bc.n)
		flops := 2 * float64(bc.m) * float64(bc.n) * float64(bc.k)
		for _, mode := range []string{"f32", "bf16", "bf16-bits"} {
			b.Run(fmt.Sprintf("%s/%s", bc.name, mode), func(b *testing.B) {
				t0 := cpuSeconds()
				for i := 0; i < b.N; i++ {
					switch mode {
					case "f32":
						Gemm(bc.transA, bc.transB, bc.m, bc.n, bc.k, a, ac, w, bcol, c, bc.n, false)
					case "bf16":
						GemmPrec(BF16, bc.transA, bc.transB, bc.m, bc.n, bc.k, a, ac, w, bcol, c, bc.n, false)
					default:
						GemmBF16Bits(bc.transA, bc.transB, bc.m, bc.n, bc.k, a, ac, w16, bcol, c, bc.n, false)
					}
				}
				b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
				if cpu := cpuSeconds() - t0; cpu > 0 {
					b.ReportMetric(flops*float64(b.N)/cpu/1e9, "cpu-GFLOP/s")
				}
			})
		}
	}
}
