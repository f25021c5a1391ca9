package nn

import (
	"fmt"

	"github.com/align-go/align/tensor"
)

// EmbeddingForward: out[N,C] = w[ids[i],:]. When add is true the row is added to out
// (learned positions on top of token embeddings). Ids must lie in [0, rows of w);
// callers validate token ids where they enter the program.
func EmbeddingForward(out []float32, ids []int32, w []float32, N, C int, add bool) {
	tensor.ParallelFor(N, rowChunk(C), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			o := out[i*C : (i+1)*C]
			row := w[int(ids[i])*C : int(ids[i])*C+C]
			if add {
				for j, x := range row {
					o[j] += x
				}
			} else {
				copy(o, row)
			}
		}
	})
}

// EmbeddingBackward: dw[ids[i],:] += dout[i,:].
// Repeated ids write the same dw row, so the work is split by columns, not rows.
func EmbeddingBackward(dw []float32, dout []float32, ids []int32, N, C int) {
	if dw == nil {
		return
	}
	colReduce(C, N, func(j0, j1 int) {
		for i := 0; i < N; i++ {
			d := dout[i*C+j0 : i*C+j1]
			g := dw[int(ids[i])*C+j0 : int(ids[i])*C+j1]
			for j, x := range d {
				g[j] += x
			}
		}
	})
}

// EmbeddingForwardQ is EmbeddingForward with a compact table w [V,C] (a
// frozen embedding kept in bf16/f16 or quantised): each looked-up row is
// widened into out on its own, so no f32 copy of the table exists.
func EmbeddingForwardQ(out []float32, ids []int32, w *QWeight, N, C int, add bool) {
	if w.IC != C {
		panic(fmt.Sprintf("nn.EmbeddingForwardQ: table [%d,%d], want %d columns", w.OC, w.IC, C))
	}
	tensor.ParallelFor(N, rowChunk(C), func(lo, hi int) {
		var buf []float32
		if add {
			buf = make([]float32, C)
		}
		for i := lo; i < hi; i++ {
			o := out[i*C : (i+1)*C]
			id := int(ids[i])
			if !add {
				w.Dequantize(o, id*C, (id+1)*C)
				continue
			}
			w.Dequantize(buf, id*C, (id+1)*C)
			for j, x := range buf {
				o[j] += x
			}
		}
	})
}
