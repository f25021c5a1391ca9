package nn

import "github.com/align-go/align/tensor"

// rowGrain is roughly how many float32 elements one goroutine should own before
// splitting a row loop is worth a goroutine. A variable so that tests can force
// every split on small inputs.
var rowGrain = 1 << 14

// rowChunk converts rowGrain into a minimum row count for tensor.ParallelFor.
func rowChunk(C int) int {
	if C <= 0 {
		return 1
	}
	n := rowGrain / C
	if n < 1 {
		n = 1
	}
	return n
}

// colBlock is the column strip width of the column-parallel reductions
// (bias, norm weights, embedding rows): a strip's float64 accumulators live on
// the stack, so summing over thousands of rows allocates nothing and keeps
// float64 precision.
const colBlock = 64

// colReduce calls fn(j0, j1) for strips of at most colBlock columns of [0,C),
// with the strips split across goroutines. Every strip is owned by one
// goroutine, so fn may accumulate into per-column outputs without races.
func colReduce(C, N int, fn func(j0, j1 int)) {
	minCols := 16
	if N > 0 && N*minCols < rowGrain {
		minCols = (rowGrain + N - 1) / N
	}
	tensor.ParallelFor(C, minCols, func(lo, hi int) {
		for j0 := lo; j0 < hi; j0 += colBlock {
			fn(j0, min(j0+colBlock, hi))
		}
	})
}
