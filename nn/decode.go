package nn

import (
	"fmt"
	"math"
	"sync"
	"time"
	"unsafe"

	"github.com/align-go/align/tensor"
)

// Decoding runs the model on a handful of rows at a time (one new token per
// sequence), where a Linear is a matrix-vector product bound by streaming the
// weight from memory. The general GEMM packs its B operand, which costs more
// than the multiply when A has one row, so decode uses dot-product tiles
// instead: each weight row is read once, in place, and dotted with every input
// row while it sits in L1.

// DecodeMaxRows is the row count up to which LinearDecode uses the dot tiles;
// above it the wide tiles (decode_wide.go, up to DecodeWideMaxRows) and then
// the blocked GEMM are as fast or faster (measured on GPT-2-small shapes: even
// at 32 rows, GEMM ahead at 64). A variable so benchmarks can move it.
var DecodeMaxRows = 32

// LinearDecode is LinearForward for few rows: out[N,OC] = inp[N,IC]·w[OC,IC]ᵀ + b[OC]
// (b may be nil). Up to DecodeMaxRows rows, a row's result does not depend on
// N or on the other rows, so generation does not depend on batch composition.
func LinearDecode(out, inp, w, b []float32, N, IC, OC int) {
	LinearDecodeMany(inp, N, IC, DecodeOut{Out: out, W: w, B: b, OC: OC})
}

// DecodeOut is one Linear of LinearDecodeMany: out[N,OC] = inp·w[OC,IC]ᵀ + b.
// W16, when set, is the same weight in bfloat16 (tensor.ToBF16); the dot tiles then
// read it instead of W, with f32 sums. W may then be nil, or kept for row
// counts above DecodeMaxRowsBF16, where the blocked f32 GEMM is faster.
//
// Q, when set (W and W16 nil), is the weight in a compact dtype: bf16 runs
// the bf16 tiles on its bits, f32 the f32 ones, and the quantised dtypes
// LinearForwardQ.
type DecodeOut struct {
	Out, W, B []float32
	W16       []uint16
	Q         *QWeight
	OC        int
}

// addBias adds o.B[j0:j1] to columns j0..j1 of each of o.Out's N rows (the
// dot-product paths compute without bias); a nil B adds nothing.
func (o *DecodeOut) addBias(N, j0, j1 int) {
	if o.B == nil {
		return
	}
	for i := 0; i < N; i++ {
		row := o.Out[i*o.OC+j0 : i*o.OC+j1]
		for j, x := range o.B[j0:j1] {
			row[j] += x
		}
	}
}

// gemm reports whether o is computed from its f32 weight by a matrix
// product at N rows rather than by the dot tiles: the wide tiles
// (decode_wide.go) where wideRows(N), else the blocked GEMM.
func (o *DecodeOut) gemm(N int) bool {
	if o.W16 != nil {
		return N > DecodeMaxRowsBF16 && o.W != nil
	}
	return N > DecodeMaxRows
}

// LinearDecodeMany runs several Linears of the same input (q, k and v; gate
// and up) as one parallel job. At decode sizes a Linear takes tens of
// microseconds, so one hand-out of work instead of three saves the goroutine
// start-ups, and the weights stream as one longer run.
func LinearDecodeMany(inp []float32, N, IC int, outs ...DecodeOut) {
	if h := decodeHook.Load(); h != nil {
		defer (*h)(decodeRegion(N, IC, outs), time.Now())
	}
	// Work is counted in groups of four weight rows, numbered across outs.
	var first [8]int
	if len(outs) > len(first)-1 {
		for _, o := range outs {
			LinearDecodeMany(inp, N, IC, o)
		}
		return
	}
	var tiled [7]DecodeOut
	// The wide tiles' lists escape (linearWide shares them between threads):
	// appended to only at the row counts that take them, so a batch-1 call
	// allocates nothing.
	var wide, wide16 []DecodeOut
	nt, bf := 0, false
	for _, o := range outs {
		if o.Q != nil && o.W == nil && o.W16 == nil {
			switch {
			case o.Q.DType == WeightF32:
				o.W = o.Q.F32
			case o.Q.DType == WeightBF16 && (N <= DecodeMaxRowsBF16 || wideRowsBF16(N, IC)):
				o.W16 = o.Q.U16
			case qFused(o.Q, N):
				// 8/4-bit rows dequantised in registers (qdecode.go).
			default:
				LinearForwardQ(o.Out, inp, o.Q, o.B, N)
				continue
			}
		}
		if o.W16 != nil && wideRowsBF16(N, IC) {
			wide16 = append(wide16, o)
			continue
		}
		if o.gemm(N) {
			if wideRows(N) {
				wide = append(wide, o)
				continue
			}
			LinearForward(o.Out, inp, o.W, o.B, N, IC, o.OC)
			continue
		}
		tiled[nt] = o
		nt++
		bf = bf || o.W16 != nil
	}
	if len(wide) > 0 {
		linearWide(inp, N, IC, wide, false)
	}
	if len(wide16) > 0 {
		linearWide(inp, N, IC, wide16, true)
	}
	if nt == 0 {
		return
	}
	d := decodeManyPool.Get().(*decodeMany)
	defer decodeManyPool.Put(d)
	if bf && bf16Kernel == kernBF16DP {
		// The DP kernels multiply bf16 by bf16: round the input once.
		if cap(d.x16) < N*IC {
			d.x16 = make([]uint16, N*IC)
		}
		d.x16 = d.x16[:N*IC]
		tensor.ToBF16(d.x16, inp[:N*IC])
	}
	d.inp, d.N, d.IC, d.nt = inp, N, IC, nt
	d.q8 = false
	for _, o := range tiled[:nt] {
		if N == 1 && o.Q != nil && q8On(o.Q) {
			// Quantised once, read by every piece (qdecode_q8.go).
			if nb := IC / q8Width; cap(d.xa) < nb {
				d.xa = make([]q8Block, nb)
			}
			d.xa = d.xa[:IC/q8Width]
			quantizeAct(d.xa, inp[:IC])
			d.q8 = true
			break
		}
	}
	total := 0
	for i, o := range tiled[:nt] {
		d.outs[i] = o
		d.first[i] = total
		total += (o.OC + 3) / 4
	}
	d.first[nt] = total
	// About 64K multiply-adds per piece pays for handing it out.
	minGroups := max(1, (1<<16)/(4*IC*N))
	parallelPieces(total, minGroups, d.fn)
	clear(d.outs[:nt]) // drop references to the caller's data
	d.inp = nil
}

// decodeMany is LinearDecodeMany's job, pooled together with its piece
// function (a closure made once per job) so that a call allocates nothing:
// a decode step makes ~100 of them, and the closure and the rounded input
// were allocated afresh on every one.
type decodeMany struct {
	outs  [7]DecodeOut
	first [8]int
	nt    int
	inp   []float32
	x16   []uint16  // the input rounded to bf16 for the DP kernels
	xa    []q8Block // the input quantised to int8 for the int8-activation kernel
	q8    bool      // xa holds this job's input
	N, IC int
	fn    func(lo, hi int)
}

var decodeManyPool = sync.Pool{New: func() any {
	d := new(decodeMany)
	d.fn = d.pieces
	return d
}}

// pieces computes weight-row groups [lo, hi), numbered across the Linears.
func (d *decodeMany) pieces(lo, hi int) {
	N, IC, inp := d.N, d.IC, d.inp
	for m := range d.nt {
		o := &d.outs[m]
		g0, g1 := max(lo, d.first[m]), min(hi, d.first[m+1])
		if g0 >= g1 {
			continue
		}
		j0, j1 := (g0-d.first[m])*4, min((g1-d.first[m])*4, o.OC)
		switch {
		case o.W == nil && o.W16 == nil && d.q8 && q8On(o.Q):
			q8DotRows(o.Out, d.xa, o.Q, j0, j1)
		case o.W == nil && o.W16 == nil:
			qDotRows(o.Out, inp, o.Q, j0, j1)
		case o.W16 != nil:
			dotRowsBF16(o.Out[j0:], o.OC, inp, d.x16, IC, o.W16[j0*IC:], IC, N, j1-j0, IC)
		default:
			dotRows(o.Out[j0:], o.OC, inp, IC, o.W[j0*IC:], IC, N, j1-j0, IC)
		}
		o.addBias(N, j0, j1)
	}
}

// dotRows sets out[i*ldo+j] = x[i*ldx:][:K]·w[j*ldw:][:K] for i < M, j < N.
// Whole groups of four w rows use the assembly tiles over the largest multiple
// of 16 of K; the K tail and a last partial group are summed in Go. Which path
// an output takes depends only on j, N and K, never on M, so a row's result is
// the same in any batch.
func dotRows(out []float32, ldo int, x []float32, ldx int, w []float32, ldw, M, N, K int) {
	if M <= 0 || N <= 0 {
		return
	}
	if M > 4*maxTiles {
		dotRows(out, ldo, x, ldx, w, ldw, 4*maxTiles, N, K)
		dotRows(out[4*maxTiles*ldo:], ldo, x[4*maxTiles*ldx:], ldx, w, ldw, M-4*maxTiles, N, K)
		return
	}
	if len(x) < (M-1)*ldx+K || len(w) < (N-1)*ldw+K || len(out) < (M-1)*ldo+N || ldx < K || ldw < K || ldo < N {
		panic(fmt.Sprintf("nn.dotRows: short operand (M=%d N=%d K=%d, len x=%d w=%d out=%d)", M, N, K, len(x), len(w), len(out)))
	}
	k16, n4 := 0, N&^3
	if haveDecodeAsm {
		k16 = K &^ 15
	}
	switch {
	case k16 > 0 && M == 1:
		if n4 > 0 {
			dot1x4AVX512(k16, &x[0], &w[0], ldw, n4/4, &out[0])
		}
	case k16 > 0:
		dotTiles(kernF32, out, ldo, x, ldx, w, ldw, M, n4, k16)
	default:
		n4 = 0
	}
	if k16 == K && n4 == N {
		return
	}
	for i := 0; i < M; i++ {
		xr := x[i*ldx : i*ldx+K]
		o := out[i*ldo : i*ldo+N]
		if k16 < K {
			for j := 0; j < n4; j++ {
				o[j] += dotGo(xr[k16:], w[j*ldw+k16:j*ldw+K])
			}
		}
		for j := n4; j < N; j++ {
			o[j] = dotGo(xr, w[j*ldw:j*ldw+K])
		}
	}
}

// DecodePrefetchGroups is how many groups of four weight rows ahead dotTiles
// prefetches (0: none). A variable so benchmarks can move it. Measured on the
// 16-row GPT-2-small step, two threads: 0 is ~20% slower than 1; 2, 4, 8 and
// 16 groups, or PREFETCHT1 instead of T0, gain nothing over 1.
var DecodePrefetchGroups = 1

// maxTiles bounds the 4-row tiles dotTiles keeps in flight (their
// accumulators live in a stack array).
const maxTiles = 16

// Kernel families of dotTiles.
const (
	kernF32     = iota // f32 x and w: dot4x4AVX512, dot1x4AVX512
	kernBF16DP         // bf16 x and w: VDPBF16PS
	kernBF16Cvt        // f32 x, bf16 w widened in registers
)

// dotTiles is dotRows' assembly part for 2 <= M <= 4*maxTiles rows, n4 a
// multiple of 4 and kk of the kernel's k step (16; 32 for kernBF16DP). For
// each group of four w rows it walks k in blocks sized so the block of every
// input row stays in L1 (together with the weight block and the accumulator
// state) while the tiles run, when the whole rows would not (IC=3072 at 16
// rows: ~10% faster); rows past the last whole tile use the one-row kernel
// while the group is in cache. kern picks the kernel family; X and W must
// be the element types it takes.
func dotTiles[X, W float32 | uint16](kern int, out []float32, ldo int, x []X, ldx int, w []W, ldw, M, n4, kk int) {
	var state [maxTiles * 256]float32
	tiles := M / 4
	xSize, step := int(unsafe.Sizeof(x[0])), 16
	if kern == kernBF16DP {
		step = 32
	}
	kb := kk
	if 4*tiles*kk*xSize > 64<<10 {
		// The input rows do not fit L1 beside the weights: 32 KB blocks.
		kb = max(step, (32<<10)/(4*xSize*tiles)/step*step)
	}
	for j := 0; j < n4; j += 4 {
		for k0 := 0; k0 < kk && tiles > 0; k0 += kb {
			kl := min(kb, kk-k0)
			mode := 0
			if k0 > 0 {
				mode |= 1
			}
			if k0+kl == kk {
				mode |= 2
			}
			for t := 0; t < tiles; t++ {
				// Tile t prefetches row t of the next group of four: with 16
				// input rows the whole next group arrives while this one
				// computes (fewer rows prefetch part of it).
				pf := j + 4*DecodePrefetchGroups + t
				if t >= 4 || pf >= n4 {
					pf = j
				}
				i := 4 * t
				xp, wp, pp := unsafe.Pointer(&x[i*ldx+k0]), unsafe.Pointer(&w[j*ldw+k0]), unsafe.Pointer(&w[pf*ldw+k0])
				st, op := &state[t*256], &out[i*ldo+j]
				switch kern {
				case kernF32:
					dot4x4AVX512(kl, (*float32)(xp), ldx, (*float32)(wp), ldw, st, mode, op, ldo, (*float32)(pp))
				case kernBF16DP:
					dot4x4BF16DP(kl, (*uint16)(xp), ldx, (*uint16)(wp), ldw, st, mode, op, ldo, (*uint16)(pp))
				default:
					dot4x4BF16Cvt(kl, (*float32)(xp), ldx, (*uint16)(wp), ldw, st, mode, op, ldo, (*uint16)(pp))
				}
			}
		}
		for i := 4 * tiles; i < M; i++ {
			dot1x4(kern, kk, unsafe.Pointer(&x[i*ldx]), unsafe.Pointer(&w[j*ldw]), ldw, 1, &out[i*ldo+j])
		}
	}
}

// dot1x4 runs kern's one-row kernel over groups groups of four w rows.
func dot1x4(kern, k int, x, w unsafe.Pointer, ldw, groups int, out *float32) {
	switch kern {
	case kernF32:
		dot1x4AVX512(k, (*float32)(x), (*float32)(w), ldw, groups, out)
	case kernBF16DP:
		dot1x4BF16DP(k, (*uint16)(x), (*uint16)(w), ldw, groups, out)
	default:
		dot1x4BF16Cvt(k, (*float32)(x), (*uint16)(w), ldw, groups, out)
	}
}

// dotGo is a dot product with four partial sums (the portable path).
func dotGo(a, b []float32) float32 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(a); i += 4 {
		s0 += a[i] * b[i]
		s1 += a[i+1] * b[i+1]
		s2 += a[i+2] * b[i+2]
		s3 += a[i+3] * b[i+3]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return (s0 + s1) + (s2 + s3)
}

// axpyRows sets out[:n] = Σ_{r<len(p)} p[r]·v[r*ldv:][:n].
func axpyRows(out []float32, n int, p []float32, v []float32, ldv int) {
	s := len(p)
	if s == 0 {
		clear(out[:n])
		return
	}
	if len(v) < (s-1)*ldv+n || len(out) < n {
		panic(fmt.Sprintf("nn.axpyRows: short operand (n=%d s=%d len v=%d out=%d)", n, s, len(v), len(out)))
	}
	n16 := 0
	if haveDecodeAsm {
		n16 = n &^ 15
	}
	if n16 > 0 {
		axpyRowsAVX512(n16, s, &p[0], &v[0], ldv, &out[0])
	}
	if n16 == n {
		return
	}
	o := out[n16:n]
	clear(o)
	for r, pr := range p {
		for j, x := range v[r*ldv+n16 : r*ldv+n] {
			o[j] += pr * x
		}
	}
}

// parallelPieces runs fn over [0,n) in pieces of at least minPiece, handed
// out on demand to up to tensor.Threads() goroutines (the caller included)
// by guided self-scheduling (decode_wide.go). Decode steps are a few
// milliseconds of work per token in ~100 regions; on a machine shared with
// other processes a helper often starts late or is preempted, so the work
// is claimed in pieces by whoever is running. Fixed pieces of a quarter of
// each thread's share left the other core idle for half a piece on average
// at the end of every region (a few percent of a step at two threads);
// guided pieces shrink towards the end, so the finish evens out to about
// minPiece while the first claims stay long runs of rows.
func parallelPieces(n, minPiece int, fn func(lo, hi int)) {
	threads := min(tensor.Threads(), n/max(minPiece, 1))
	if threads <= 1 {
		fn(0, n)
		return
	}
	j := piecesPool.Get().(*piecesJob)
	j.claims = guided{}
	j.claims.init(n, minPiece, threads)
	j.fn = fn
	tensor.Share(threads-1, j.work)
	j.fn = nil
	piecesPool.Put(j)
}

// piecesJob is parallelPieces' shared state, pooled with its work closure
// (made once per job) so that a region allocates nothing of its own.
type piecesJob struct {
	claims guided
	fn     func(lo, hi int)
	work   func()
}

var piecesPool = sync.Pool{New: func() any {
	j := new(piecesJob)
	j.work = func() {
		for {
			lo, hi, ok := j.claims.next()
			if !ok {
				return
			}
			j.fn(lo, hi)
		}
	}
	return j
}}

// AttentionCached is causal grouped-query attention of T new tokens per row
// against a key/value cache, for generation (no probabilities are saved: there
// is no backward).
//
//	q, out [R,T,NH,HS]: the new tokens of R rows; row r uses cache row rows[r]
//	    (rows nil: cache row r)
//	k, v [B,Cap,NKV,HS]: the cache, already holding the new tokens' keys and
//	    values at slots start[r] .. start[r]+T-1
//	mask [B,Cap]: 1 for a real token, 0 for padding
//
// Query t of row r sits in slot start[r]+t and sees slots s <= start[r]+t with
// mask 1 — the rule AttentionForward applies, so a cache filled token by token
// reproduces the full-sequence attention. A query that sees no key gets zeros.
func AttentionCached(out, q, k, v []float32, mask []int32, rows, start []int, R, T, Cap, NH, NKV, HS int) {
	group := NH / NKV
	nblk := (T + attBlock - 1) / attBlock
	scale := float32(1 / math.Sqrt(float64(HS)))
	qs, kvs := NH*HS, NKV*HS
	maxS := 0
	for r := 0; r < R; r++ {
		maxS = max(maxS, start[r]+T)
	}
	// Two passes over the keys of every query row, ~HS multiply-adds each.
	unitWork := 2 * min(T, attBlock) * maxS * HS
	parallelPieces(R*NH*nblk, max(1, (1<<15)/max(unitWork, 1)), func(lo, hi int) {
		sp := attScratch.Get().(*[]float32)
		defer attScratch.Put(sp)
		for u := lo; u < hi; u++ {
			rh, blk := u/nblk, u%nblk
			r, h := rh/NH, rh%NH
			b := r
			if rows != nil {
				b = rows[r]
			}
			kh := h / group
			t0, t1 := blk*attBlock, min(blk*attBlock+attBlock, T)
			S := start[r] + t1
			if cap(*sp) < (t1-t0)*S {
				*sp = make([]float32, attBlock*maxS)
			}
			sc := (*sp)[:(t1-t0)*S]
			kb := k[b*Cap*kvs+kh*HS:]
			vb := v[b*Cap*kvs+kh*HS:]
			m := mask[b*Cap : b*Cap+S]
			qo := (r*T+t0)*qs + h*HS
			dotRows(sc, S, q[qo:], qs, kb, kvs, t1-t0, S, HS)
			for t := t0; t < t1; t++ {
				pos := start[r] + t
				row := sc[(t-t0)*S : (t-t0+1)*S]
				softmaxCausalRow(row, pos, m, scale)
				axpyRows(out[qo+(t-t0)*qs:], HS, row[:pos+1], vb, kvs)
			}
		}
	})
}
