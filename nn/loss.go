package nn

import (
	"math"

	"github.com/align-go/align/tensor"
)

// Vocabulary rows are long (V up to ~150k), so each row is normalised by its max
// and its exponentials are summed in float64: the loss is a difference of two
// numbers near log V, and float32 sums over 150k terms would show in it.

// rowLogSumExp returns max(x) and log Σ exp(x - max).
func rowLogSumExp(x []float32) (float32, float64) {
	m := maxf(x)
	var buf [expChunk]float32
	var s float64
	for j := 0; j < len(x); j += expChunk {
		c := x[j:min(j+expChunk, len(x))]
		e := buf[:len(c)]
		expShift(e, c, m, 1, 0)
		s += sum64(e)
	}
	return m, math.Log(s)
}

// CrossEntropyForward: losses[i] = -log softmax(logits[i,:])[targets[i]]; targets[i] < 0 means
// ignored (loss 0). logits [N,V]. Non-negative targets must be < V; callers validate
// labels where they are read.
func CrossEntropyForward(losses, logits []float32, targets []int32, N, V int) {
	tensor.ParallelFor(N, rowChunk(V), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			t := targets[i]
			if t < 0 {
				losses[i] = 0
				continue
			}
			x := logits[i*V : (i+1)*V]
			m, lse := rowLogSumExp(x)
			losses[i] = float32(lse - float64(x[t]-m))
		}
	})
}

// CrossEntropyBackward: dlogits[i,:] += dloss[i]*(softmax(logits[i,:]) - onehot(targets[i])),
// skipping ignored rows. dloss[N] is the weight of each row's loss (e.g. 1/numTokens).
func CrossEntropyBackward(dlogits, logits []float32, targets []int32, dloss []float32, N, V int) {
	if dlogits == nil {
		return
	}
	tensor.ParallelFor(N, rowChunk(V), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			t := targets[i]
			if t < 0 || dloss[i] == 0 {
				continue
			}
			x := logits[i*V : (i+1)*V]
			m, lse := rowLogSumExp(x)
			// softmax_j = exp((x_j - m) - lse): x_j - m is exact for the large
			// logits that matter, where folding m+lse first would round.
			l := float32(lse)
			d := dloss[i]
			g := dlogits[i*V : (i+1)*V]
			var buf [expChunk]float32
			for j := 0; j < V; j += expChunk {
				c := x[j:min(j+expChunk, V)]
				e := buf[:len(c)]
				expShift(e, c, m, 1, l)
				gg := g[j : j+len(c)]
				for k, p := range e {
					gg[k] += d * p
				}
			}
			g[t] -= d
		}
	})
}

// LogSoftmaxForward: out[N,V] = log softmax(inp) row-wise.
func LogSoftmaxForward(out, inp []float32, N, V int) {
	tensor.ParallelFor(N, rowChunk(V), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			x := inp[i*V : (i+1)*V]
			m, lse := rowLogSumExp(x)
			// Subtract in two steps: x-m is exact for nearby values, then lse is small.
			l := float32(lse)
			o := out[i*V : (i+1)*V]
			for j, v := range x {
				o[j] = (v - m) - l
			}
		}
	})
}

// SoftmaxForward: out[N,V] = softmax(inp) row-wise.
func SoftmaxForward(out, inp []float32, N, V int) {
	tensor.ParallelFor(N, rowChunk(V), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			x := inp[i*V : (i+1)*V]
			o := out[i*V : (i+1)*V]
			expShift(o, x, maxf(x), 1, 0)
			scaleRow(o, float32(1/sum64(o)))
		}
	})
}
