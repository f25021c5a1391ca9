package nn

import (
	"math"

	"github.com/align-go/align/tensor"
)

// CrossEntropyFused is CrossEntropyForward and CrossEntropyBackward in one pass
// over the logits, for training steps that always want both. It writes (does
// not accumulate) dlogits[i,:] = dloss[i]*(softmax(logits[i,:]) - onehot(targets[i]))
// and losses[i]; ignored rows (targets[i] < 0) get loss 0 and a zero gradient
// row. Each row is read for its max, exponentiated once straight into dlogits,
// summed and rescaled in place: one exp per logit instead of three, and no
// separate clearing of the [N,V] gradient.
func CrossEntropyFused(losses, dlogits, logits []float32, targets []int32, dloss []float32, N, V int) {
	tensor.ParallelFor(N, rowChunk(V), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			g := dlogits[i*V : (i+1)*V]
			t := targets[i]
			if t < 0 {
				losses[i] = 0
				clear(g)
				continue
			}
			x := logits[i*V : (i+1)*V]
			m := maxf(x)
			expShift(g, x, m, 1, 0)
			s := sum64(g)
			losses[i] = float32(math.Log(s) - float64(x[t]-m))
			d := dloss[i]
			scaleRow(g, float32(float64(d)/s))
			g[t] -= d
		}
	})
}
