package nn

import (
	"fmt"
	"testing"

	"github.com/align-go/align/tensor"
)

func BenchmarkAttention(b *testing.B) {
	for _, s := range []struct{ B, T, NH, NKV, HS int }{{8, 128, 4, 4, 64}, {8, 128, 4, 2, 64}} {
		B, T, NH, NKV, HS := s.B, s.T, s.NH, s.NKV, s.HS
		r := newRNG(1)
		q, k, v := randn(r, B*T*NH*HS, 1), randn(r, B*T*NKV*HS, 1), randn(r, B*T*NKV*HS, 1)
		dout := randn(r, B*T*NH*HS, 1)
		out, att, scratch := make([]float32, B*T*NH*HS), make([]float32, B*NH*T), make([]float32, AttentionScratchLen(B, T, NH, NKV, HS))
		dq, dk, dv := make([]float32, len(q)), make([]float32, len(k)), make([]float32, len(v))
		name := fmt.Sprintf("B=%d,T=%d,NH=%d,NKV=%d,HS=%d", B, T, NH, NKV, HS)
		b.Run(name+"/fwd", func(b *testing.B) {
			for b.Loop() {
				AttentionForward(out, att, q, k, v, AttnMask{}, B, T, NH, NKV, HS)
			}
		})
		b.Run(name+"/fwd+bwd", func(b *testing.B) {
			for b.Loop() {
				AttentionForward(out, att, q, k, v, AttnMask{}, B, T, NH, NKV, HS)
				AttentionBackward(dq, dk, dv, scratch, dout, q, k, v, out, att, AttnMask{}, B, T, NH, NKV, HS)
			}
		})
	}
}

func BenchmarkLayerNorm(b *testing.B) {
	const N, C = 1024, 256
	r := newRNG(2)
	x, w, bias, dout := randn(r, N*C, 1), randn(r, C, 1), randn(r, C, 1), randn(r, N*C, 1)
	out, mean, rstd := make([]float32, N*C), make([]float32, N), make([]float32, N)
	dx, dw, db := make([]float32, N*C), make([]float32, C), make([]float32, C)
	b.Run("fwd", func(b *testing.B) {
		b.SetBytes(N * C * 4)
		for b.Loop() {
			LayerNormForward(out, mean, rstd, x, w, bias, N, C, 1e-5)
		}
	})
	b.Run("bwd", func(b *testing.B) {
		b.SetBytes(N * C * 4)
		for b.Loop() {
			LayerNormBackward(dx, dw, db, dout, x, w, mean, rstd, N, C)
		}
	})
}

func BenchmarkElementwise(b *testing.B) {
	const n = 1 << 20
	r := newRNG(3)
	x, y, out := randn(r, n, 2), randn(r, n, 1), make([]float32, n)
	b.Run("gelu", func(b *testing.B) {
		b.SetBytes(n * 4)
		for b.Loop() {
			GeluForward(out, x)
		}
	})
	b.Run("swiglu", func(b *testing.B) {
		b.SetBytes(n * 4)
		for b.Loop() {
			SwiGLUForward(out, x, y)
		}
	})
}

func BenchmarkCrossEntropy(b *testing.B) {
	const N, V = 64, 50257
	r := newRNG(4)
	logits, loss, dl := randn(r, N*V, 3), make([]float32, N), make([]float32, N*V)
	targets, dloss := make([]int32, N), make([]float32, N)
	for i := range targets {
		targets[i], dloss[i] = int32(i*97%V), 1.0/N
	}
	b.Run("fwd", func(b *testing.B) {
		b.SetBytes(N * V * 4)
		for b.Loop() {
			CrossEntropyForward(loss, logits, targets, N, V)
		}
	})
	b.Run("bwd", func(b *testing.B) {
		b.SetBytes(N * V * 4)
		for b.Loop() {
			CrossEntropyBackward(dl, logits, targets, dloss, N, V)
		}
	})
}

// TestSteadyStateAllocs bounds per-call allocations: ops use caller buffers,
// leaving only what handing work to tensor.ParallelFor costs (its closure and
// goroutines), which does not grow with the problem size.
func TestSteadyStateAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under the race detector")
	}
	const B, T, NH, NKV, HS = 2, 70, 4, 2, 8
	r := newRNG(5)
	q, k, v := randn(r, B*T*NH*HS, 1), randn(r, B*T*NKV*HS, 1), randn(r, B*T*NKV*HS, 1)
	out, att, sc := make([]float32, B*T*NH*HS), make([]float32, B*NH*T), make([]float32, AttentionScratchLen(B, T, NH, NKV, HS))
	dq, dk, dv := make([]float32, len(q)), make([]float32, len(k)), make([]float32, len(v))
	x, w, bias := randn(r, 64*96, 1), randn(r, 96, 1), randn(r, 96, 1)
	y, mean, rstd := make([]float32, 64*96), make([]float32, 64), make([]float32, 64)
	dx, dw, db := make([]float32, 64*96), make([]float32, 96), make([]float32, 96)
	ids := make([]int32, 64)
	targets := make([]int32, 64)
	ops := map[string]func(){
		"attention": func() {
			AttentionForward(out, att, q, k, v, AttnMask{}, B, T, NH, NKV, HS)
			AttentionBackward(dq, dk, dv, sc, out, q, k, v, out, att, AttnMask{}, B, T, NH, NKV, HS)
		},
		"layernorm": func() {
			LayerNormForward(y, mean, rstd, x, w, bias, 64, 96, 1e-5)
			LayerNormBackward(dx, dw, db, y, x, w, mean, rstd, 64, 96)
		},
		"rmsnorm": func() {
			RMSNormForward(y, rstd, x, w, 64, 96, 1e-5)
			RMSNormBackward(dx, dw, y, x, w, rstd, 64, 96)
		},
		"embedding": func() {
			EmbeddingForward(y, ids, x, 64, 96, false)
			EmbeddingBackward(dx, y, ids, 64, 96)
		},
		"activations": func() {
			GeluForward(y, x)
			GeluBackward(dx, x, y)
			SwiGLUForward(y, x, dx)
			SwiGLUBackward(dx, nil, y, x, dx)
		},
		"losses": func() {
			CrossEntropyForward(mean, x, targets, 64, 96)
			CrossEntropyBackward(dx, x, targets, rstd, 64, 96)
			SoftmaxForward(y, x, 64, 96)
			LogSoftmaxForward(y, x, 64, 96)
		},
	}
	old := tensor.Threads()
	defer tensor.SetThreads(old)
	tensor.SetThreads(1)
	for name, f := range ops {
		// At most one closure per ParallelFor call; nothing proportional to the data.
		if n := testing.AllocsPerRun(5, f); n > 4 {
			t.Errorf("%s: %v allocations per call", name, n)
		}
	}
}
