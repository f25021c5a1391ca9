package nn

import (
	"fmt"
	"sync"

	"github.com/align-go/align/tensor"
)

// Kernels over QWeight. Both products walk the weight in row panels: a panel
// of rows is dequantised into an f32 tile owned by the caller's goroutine,
// then multiplied by the existing kernels — the dot tiles (a few input rows:
// the weight streams once from memory, compact, and the tile stays in cache)
// or the blocked GEMM (many rows: dequantising is O(OC·IC) against the
// product's O(N·OC·IC)). Results equal the f32 kernels on the dequantised
// weight.

// qPanelFloats bounds a GEMM panel's f32 tile (4 MB).
const qPanelFloats = 1 << 20

var qTilePool = sync.Pool{New: func() any { return new([]float32) }}

func getTile(n int) *[]float32 {
	p := qTilePool.Get().(*[]float32)
	if cap(*p) < n {
		*p = make([]float32, n)
	}
	*p = (*p)[:n]
	return p
}

// panelRows is the GEMM panel height for in-width IC: a multiple of 16 rows
// whose tile fits qPanelFloats.
func panelRows(IC, OC int) int {
	p := max(16, qPanelFloats/max(IC, 1)) &^ 15
	return min(p, OC)
}

// dequantRowsParallel dequantises rows [r0,r1) of w into dst, split across
// the workers when the panel is large.
func (q *QWeight) dequantRowsParallel(dst []float32, r0, r1 int) {
	IC := q.IC
	tensor.ParallelFor(r1-r0, max(1, (1<<14)/max(IC, 1)), func(lo, hi int) {
		q.Dequantize(dst[lo*IC:hi*IC], (r0+lo)*IC, (r0+hi)*IC)
	})
}

func (q *QWeight) check(what string, N int, a, b []float32, na, nb int) {
	if len(a) < N*na || len(b) < N*nb {
		panic(fmt.Sprintf("nn.%s: short operand for N=%d [%d,%d] weight", what, N, q.OC, q.IC))
	}
}

// LinearForwardQ is LinearForward with a compact weight: out[N,OC] =
// inp[N,IC]·wᵀ + b (b may be nil). Up to DecodeMaxRows rows a row's result
// does not depend on N or the other rows.
func LinearForwardQ(out, inp []float32, w *QWeight, b []float32, N int) {
	LinearForwardQP(tensor.F32, out, inp, w, b, N)
}

// LinearForwardQP is LinearForwardQ at precision p. With tensor.BF16 and
// more than DecodeMaxRows rows, a bf16 weight is read directly by the bf16
// kernel and other compact dtypes are widened a panel at a time and rounded
// to bf16; a few rows (decoding) take the f32 dot tiles either way.
func LinearForwardQP(p tensor.Prec, out, inp []float32, w *QWeight, b []float32, N int) {
	IC, OC := w.IC, w.OC
	w.check("LinearForwardQ", N, inp, out, IC, OC)
	if w.DType == WeightF32 {
		LinearForwardP(p, out, inp, w.F32, b, N, IC, OC)
		return
	}
	switch {
	case N <= DecodeMaxRows:
		linearQTiles(out, inp, w, N)
	case p == tensor.BF16 && w.DType == WeightBF16:
		tensor.GemmBF16Bits(false, true, N, OC, IC, inp, IC, w.U16, IC, out, OC, false)
	default:
		P := panelRows(IC, OC)
		tp := getTile(P * IC)
		for j0 := 0; j0 < OC; j0 += P {
			j1 := min(OC, j0+P)
			t := (*tp)[:(j1-j0)*IC]
			w.dequantRowsParallel(t, j0, j1)
			tensor.GemmPrec(p, false, true, N, j1-j0, IC, inp, IC, t, IC, out[j0:], OC, false)
		}
		qTilePool.Put(tp)
	}
	if b != nil {
		o := DecodeOut{Out: out, B: b, OC: OC}
		o.addBias(N, 0, OC)
	}
}

// linearQTiles is the few-rows forward: groups of four weight rows are
// dequantised by whichever goroutine takes them and dotted with every input
// row while in L1/L2.
func linearQTiles(out, inp []float32, w *QWeight, N int) {
	IC, OC := w.IC, w.OC
	if qFused(w, N) {
		LinearDecodeMany(inp, N, IC, DecodeOut{Out: out, Q: w, OC: OC})
		return
	}
	groups := (OC + 3) / 4
	minGroups := max(1, (1<<16)/(4*IC*max(N, 1)))
	parallelPieces(groups, minGroups, func(lo, hi int) {
		tp := getTile(4 * IC)
		defer qTilePool.Put(tp)
		for g := lo; g < hi; g++ {
			j0, j1 := 4*g, min(OC, 4*g+4)
			t := (*tp)[:(j1-j0)*IC]
			w.Dequantize(t, j0*IC, j1*IC)
			dotRows(out[j0:], OC, inp, IC, t, IC, N, j1-j0, IC)
		}
	})
}

// LinearBackwardQ is LinearBackward's input gradient with a compact weight:
// dinp[N,IC] += dout[N,OC]·w. (A compact weight is frozen: it has no dw.)
func LinearBackwardQ(dinp, dout []float32, w *QWeight, N int) {
	LinearBackwardQP(tensor.F32, dinp, dout, w, N)
}

// LinearBackwardQP is LinearBackwardQ at precision p (see LinearForwardQP).
func LinearBackwardQP(p tensor.Prec, dinp, dout []float32, w *QWeight, N int) {
	IC, OC := w.IC, w.OC
	w.check("LinearBackwardQ", N, dinp, dout, IC, OC)
	if w.DType == WeightF32 {
		LinearBackwardP(p, dinp, nil, nil, dout, nil, w.F32, N, IC, OC)
		return
	}
	if p == tensor.BF16 && w.DType == WeightBF16 {
		tensor.GemmBF16Bits(false, false, N, IC, OC, dout, OC, w.U16, IC, dinp, IC, true)
		return
	}
	P := panelRows(IC, OC)
	tp := getTile(P * IC)
	defer qTilePool.Put(tp)
	for j0 := 0; j0 < OC; j0 += P {
		j1 := min(OC, j0+P)
		t := (*tp)[:(j1-j0)*IC]
		w.dequantRowsParallel(t, j0, j1)
		tensor.GemmPrec(p, false, false, N, IC, j1-j0, dout[j0:], OC, t, IC, dinp, IC, true)
	}
}
