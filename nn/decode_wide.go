package nn

import (
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/align-go/align/tensor"
)

// Wide decode: batches of a few dozen to a hundred-odd rows (DecodeMaxRows <
// N <= DecodeWideMaxRows, f32 weights). There the step is bound by compute,
// not by streaming the weights, and the dot tiles' horizontal reductions and
// 4×4 register blocking fall behind; the blocked GEMM runs at full speed but
// packs every weight panel, which at these row counts serves only N rows and
// costs over a quarter of its kernel time. The wide path reads the weight in place
// as the broadcast operand of an outer-product kernel instead: outᵀ = W·Xᵀ,
// 12 weight rows × 32 (or 16) input rows per tile, 24 (12) accumulators, and
// packs only the small input, once per call, into transposed panels.

// DecodeWideMaxRows is the row count up to which LinearDecodeMany runs f32
// weights through the wide tiles (with AVX-512) instead of the blocked GEMM;
// prefill chunks of hundreds of rows stay on the GEMM. A variable so
// benchmarks can move it.
var DecodeWideMaxRows = 128

// DecodeWideKC is the k block of the wide tiles (0 or >= IC: whole rows).
// Every input panel's block of a group is computed before the next block,
// so the block of the weight rows comes from memory once and from cache for
// the other panels, and a panel's block stays in L2 however wide the input.
// Measured on the GPT-2-small step at 64 rows, two threads: 1024 and whole
// rows ~5% faster than 256 or 128 (fewer passes saving accumulators).
// A variable so benchmarks can move it.
var DecodeWideKC = 1024

// wideMaxPanels bounds the input panels of one call (their accumulator
// tiles live in a stack array): 8 panels of 32 rows.
const wideMaxPanels = 8

// xtPool holds the packed input panels of the wide path.
var xtPool = sync.Pool{New: func() any { return new([]float32) }}

// widePanels splits N rows into n32 panels of 32 rows and n16 (0 or 1) of
// 16: a remainder of up to 16 rows takes the narrow kernel. Missing rows of
// the last panel are zeros.
func widePanels(N int) (n32, n16 int) {
	n32 = N / 32
	switch r := N % 32; {
	case r > 16:
		n32++
	case r > 0:
		n16 = 1
	}
	return n32, n16
}

// packXT writes the input rows inp[N,IC] as transposed panels: panel q
// (rows 32q...) starts at xt[q*32*IC] and holds xt[k*W+c] = inp[(32q+c)*IC+k]
// for its width W (32, or 16 for a last narrow panel), zero for rows >= N.
// Whole blocks of 16 rows × 16 k are transposed in registers; the rest in Go.
func packXT(xt, inp []float32, N, IC int) {
	n32, n16 := widePanels(N)
	for q := 0; q < n32+n16; q++ {
		W := 32
		if q >= n32 {
			W = 16
		}
		panel := xt[q*32*IC : q*32*IC+W*IC]
		for c0 := 0; c0 < W; c0 += 16 {
			n0, k16 := 32*q+c0, 0
			if haveDecodeAsm && n0+16 <= N {
				k16 = IC &^ 15
			}
			if k16 > 0 {
				packXT16AVX512(k16/16, &inp[n0*IC], IC, &panel[c0], W)
			}
			packXTGo(panel[c0:], W, inp, N, IC, n0, k16)
		}
	}
}

// packXTGo sets dst[k*W+c] = inp[(n0+c)*IC+k] for c < 16 and k0 <= k < IC
// (zero for rows n0+c >= N), in blocks of 64 k: the block being written
// (4 KB at W = 16) stays in L1 while the rows are scattered into it.
func packXTGo(dst []float32, W int, inp []float32, N, IC, n0, k0 int) {
	for kb := k0; kb < IC; kb += 64 {
		ke := min(kb+64, IC)
		for c := 0; c < 16; c++ {
			d := dst[kb*W+c : (ke-1)*W+c+1]
			if n := n0 + c; n < N {
				for i, v := range inp[n*IC+kb : n*IC+ke] {
					d[i*W] = v
				}
			} else {
				for i := 0; i < len(d); i += W {
					d[i] = 0
				}
			}
		}
	}
}

// wideRows reports whether LinearDecodeMany computes f32 weights at N rows
// with the wide tiles.
func wideRows(N int) bool {
	return haveDecodeAsm && N > DecodeMaxRows && N <= min(DecodeWideMaxRows, 32*wideMaxPanels)
}

// wideRowsBF16 reports whether LinearDecodeMany computes bf16 weights at N
// rows with the bf16 wide tiles: where the CPU has AVX512_BF16 (and the DP
// kernels are in use, so the dot tiles round the input to bf16 too) and IC
// is even (the tiles step over pairs of k).
func wideRowsBF16(N, IC int) bool {
	return wideRows(N) && bf16Kernel == kernBF16DP && IC%2 == 0
}

// linearWide is LinearDecodeMany's wide path for outs (at most 7; f32 W, or
// W16 when bf16). Work is handed out in groups of 12 weight rows, numbered
// across outs; the last < 12 rows of an output go through the dot tiles.
func linearWide(inp []float32, N, IC int, outs []DecodeOut, bf16 bool) {
	if IC <= 0 {
		for _, o := range outs {
			LinearForward(o.Out, inp, o.W, o.B, N, IC, o.OC)
		}
		return
	}
	// The bf16 tiles step over pairs of k: the panel holds 32-bit words of
	// two bf16 inputs, packed as if the row had IC/2 f32 elements.
	kw := IC
	if bf16 {
		kw = IC / 2
	}
	n32, n16 := widePanels(N)
	size := (32*n32 + 16*n16) * kw
	var first [8]int
	total := 0
	for i, o := range outs {
		first[i] = total
		total += (o.OC + 11) / 12
	}
	first[len(outs)] = total
	kc := DecodeWideKC
	if kc <= 0 || kc > IC {
		kc = IC
	}
	if bf16 {
		kc = max(kc/2, 1)
	}
	// About 256K multiply-adds per piece pays for handing it out.
	minGroups := max(1, (1<<18)/(12*IC*N))
	threads := min(tensor.Threads(), total/minGroups)
	var claims guided
	claims.init(total, minGroups, threads)
	// Each goroutine packs its own copy of the input: a panel packed by
	// another core would be read from that core's cache by every group.
	tensor.Share(threads-1, func() {
		p := xtPool.Get().(*[]float32)
		defer xtPool.Put(p)
		if cap(*p) < size {
			*p = make([]float32, size)
		}
		xt := (*p)[:size]
		var x16 []uint16
		if bf16 {
			p16 := x16Pool.Get().(*[]uint16)
			defer x16Pool.Put(p16)
			if cap(*p16) < N*IC {
				*p16 = make([]uint16, N*IC)
			}
			x16 = (*p16)[:N*IC]
			tensor.ToBF16(x16, inp[:N*IC])
			packXT(xt, unsafe.Slice((*float32)(unsafe.Pointer(&x16[0])), N*kw), N, kw)
		} else {
			packXT(xt, inp[:N*IC], N, IC)
		}
		var c [wideMaxPanels * 384]float32
		for {
			lo, hi, ok := claims.next()
			if !ok {
				return
			}
			wideGroups(lo, hi, inp, x16, N, IC, outs, first[:], xt, &c, kc)
		}
	})
}

// wideGroups computes groups [lo, hi) of linearWide's numbering. x16 is inp
// rounded to bf16 when outs are bf16 (nil for f32): the tiles then read W16
// and step over pairs of k. kc is the k block in the tiles' steps.
func wideGroups(lo, hi int, inp []float32, x16 []uint16, N, IC int, outs []DecodeOut, first []int, xt []float32, c *[wideMaxPanels * 384]float32, kc int) {
	n32, n16 := widePanels(N)
	np := n32 + n16
	bf := x16 != nil
	kw := IC
	if bf {
		kw = IC / 2
	}
	for m, o := range outs {
		g0, g1 := max(lo, first[m]), min(hi, first[m+1])
		if g0 >= g1 {
			continue
		}
		j0, j1 := (g0-first[m])*12, min((g1-first[m])*12, o.OC)
		whole := j0 + (j1-j0)/12*12
		for j := j0; j < whole; j += 12 {
			// Prefetch the next group (into L2) while this one
			// computes, if it is whole and ours; else (harmlessly) this
			// one. Measured on the 64-row step, two threads: no
			// prefetch ~7% slower, two or four groups ahead no better.
			pj := j
			if j+24 <= whole {
				pj = j + 12
			}
			// The tiles read the group's 12 rows in place: they must exist.
			if bf {
				_ = o.W16[(j+12)*IC-1]
			} else {
				_ = o.W[(j+12)*IC-1]
			}
			for k0 := 0; k0 < kw; k0 += kc {
				kl := min(kc, kw-k0)
				acc := 0
				if k0 > 0 {
					acc = 1
				}
				for q := 0; q < np; q++ {
					wide := q < n32
					xq := &xt[q*32*kw+k0*16]
					if wide {
						xq = &xt[q*32*kw+k0*32]
					}
					// The prefetch walks 48 bytes of the next group per
					// step: 12 floats, or 12 pairs of bf16.
					switch {
					case bf && wide:
						decWB12x32BF16(kl, &o.W16[j*IC+2*k0], kw, xq, &c[q*384], acc, &o.W16[pj*IC+24*k0])
					case bf:
						decWB12x16BF16(kl, &o.W16[j*IC+2*k0], kw, xq, &c[q*384], acc, &o.W16[pj*IC+24*k0])
					case wide:
						decW12x32AVX512(kl, &o.W[j*IC+k0], IC, xq, &c[q*384], acc, &o.W[pj*IC+12*k0])
					default:
						decW12x16AVX512(kl, &o.W[j*IC+k0], IC, xq, &c[q*384], acc, &o.W[pj*IC+12*k0])
					}
				}
			}
			var b *float32
			if o.B != nil {
				b = &o.B[j]
			}
			for q := 0; q < np; q++ {
				wideStoreT(&c[q*384], min(32, N-32*q), &o.Out[32*q*o.OC+j], o.OC, b)
			}
		}
		if whole == j1 {
			continue
		}
		if bf {
			dotRowsBF16(o.Out[whole:], o.OC, inp, x16, IC, o.W16[whole*IC:], IC, N, j1-whole, IC)
		} else {
			dotRows(o.Out[whole:], o.OC, inp, IC, o.W[whole*IC:], IC, N, j1-whole, IC)
		}
		o.addBias(N, whole, j1)
	}
}

// guided hands out [0,n) with guided self-scheduling: each claim takes
// 1/(2·threads) of what is left (at least minPiece), so pieces start large
// (long runs of weight rows, prefetched group after group) and shrink towards
// the end, where they even out the finish: a group of the wide tiles is only
// a few microseconds, a quarter of a call (parallelPieces' piece) is
// hundreds.
type guided struct {
	claimed             int64 // atomic: first unclaimed
	n, minPiece, shares int64
}

func (g *guided) init(n, minPiece, threads int) {
	g.n, g.minPiece, g.shares = int64(n), int64(max(minPiece, 1)), int64(2*max(threads, 1))
}

// next claims the next piece; ok is false when none is left.
func (g *guided) next() (lo, hi int, ok bool) {
	for {
		l := atomic.LoadInt64(&g.claimed)
		left := g.n - l
		if left <= 0 {
			return 0, 0, false
		}
		size := min(left, max(g.minPiece, left/g.shares))
		if atomic.CompareAndSwapInt64(&g.claimed, l, l+size) {
			return int(l), int(l + size), true
		}
	}
}
