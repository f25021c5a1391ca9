package nn

import (
	"math"
	"sync"

	"github.com/align-go/align/tensor"
)

// Attention is flash-style: the forward keeps, per query row, only the
// log-sum-exp of its scaled scores (lse), never the T×T probabilities; the
// backward recomputes each probability as exp(q·k·scale - lse). Memory is
// O(B·NH·T) plus per-goroutine blocks of O(T·attKeyBlock), so it grows
// linearly in T. The padded and the packed-document paths are one code path:
// AttnMask says which keys each query sees.

// attBlock is the number of query rows of one forward work unit. A block only
// needs keys up to its last row (and from its first row's document start), so
// the causal upper triangle is skipped except inside the diagonal block.
const attBlock = 32

// attKeyBlock is the number of keys of one backward step: a (query rows ×
// attKeyBlock) slab of probabilities is recomputed, used for dq, dk, dv and dropped.
const attKeyBlock = 64

// AttnMask says which keys a query sees. Query t of row b sees key s iff s <= t,
// Pad[b,s] != 0 (when Pad is set) and, when Seg is set, s and t lie in the same
// run of one nonzero document id (the varlen / cu_seqlens semantics of
// flash-attention: a packed row holds documents back to back, 0 = padding).
// A query that sees no key gets out = 0 and no gradient.
type AttnMask struct {
	Pad []int32 // [B,T] 1 real token, 0 padding (left or right); nil = all real
	Seg []int32 // [B,T] document ids of packed rows; nil = one document per row
}

// rowStarts returns, per position, the first key it may see (nil when every
// query may look back to 0). It is nondecreasing along a row, which lets a
// key block find the queries that see it as one interval.
func (m AttnMask) rowStarts(B, T int) []int32 {
	if m.Seg == nil {
		return nil
	}
	lo := make([]int32, B*T)
	for b := 0; b < B; b++ {
		s, st := m.Seg[b*T:(b+1)*T], lo[b*T:(b+1)*T]
		for t := range s {
			switch {
			case s[t] == 0: // padding: its own empty run, it sees nothing
				st[t] = int32(t + 1)
			case t > 0 && s[t-1] == s[t]:
				st[t] = st[t-1]
			default:
				st[t] = int32(t)
			}
		}
	}
	return lo
}

// attUnit maps a parallel work index to (pair, block). Later query blocks
// cost more (they see more keys), so blocks are dealt heavy/light alternately:
// contiguous chunks of work indices then carry similar work.
func attUnit(u, nblk int) (pair, blk int) {
	pair, j := u/nblk, u%nblk
	if j%2 == 0 {
		return pair, j / 2
	}
	return pair, nblk - 1 - j/2
}

// attScratch holds one goroutine's score block.
var attScratch = sync.Pool{New: func() any { return new([]float32) }}

func scratchOf(sp *[]float32, n int) []float32 {
	if cap(*sp) < n {
		*sp = make([]float32, n)
	}
	return (*sp)[:n]
}

// AttentionForward is causal scaled-dot-product attention with grouped-query heads.
//
//	q [B,T,NH,HS], k,v [B,T,NKV,HS] (NH % NKV == 0; head h reads kv head h/(NH/NKV))
//	out [B,T,NH,HS]; lse [B,NH,T] receives each row's log Σ exp(score·scale)
//	(+Inf for a query that sees no key), which AttentionBackward needs.
func AttentionForward(out, lse, q, k, v []float32, m AttnMask, B, T, NH, NKV, HS int) {
	AttentionForwardP(tensor.F32, out, lse, q, k, v, m, B, T, NH, NKV, HS)
}

// AttentionForwardP is AttentionForward with its two products (scores and
// probabilities times values) at precision p: tensor.BF16 under --bf16
// rounds q, k, the probabilities and v to bf16 and sums in f32, as
// autocast's attention does; the softmax and lse stay f32.
func AttentionForwardP(p tensor.Prec, out, lse, q, k, v []float32, m AttnMask, B, T, NH, NKV, HS int) {
	group := NH / NKV
	nblk := (T + attBlock - 1) / attBlock
	scale := float32(1 / math.Sqrt(float64(HS)))
	qs, kvs := NH*HS, NKV*HS
	lo := m.rowStarts(B, T)
	inf := float32(math.Inf(1))
	tensor.ParallelFor(B*NH*nblk, 1, func(ulo, uhi int) {
		sp := attScratch.Get().(*[]float32)
		defer attScratch.Put(sp)
		for u := ulo; u < uhi; u++ {
			bh, blk := attUnit(u, nblk)
			b, h := bh/NH, bh%NH
			kh := h / group
			t0 := blk * attBlock
			t1 := min(t0+attBlock, T)
			var pad, st []int32
			if m.Pad != nil {
				pad = m.Pad[b*T : (b+1)*T]
			}
			k0 := 0
			if lo != nil {
				st = lo[b*T : (b+1)*T]
				k0 = min(int(st[t0]), t1) // st is nondecreasing
			}
			ob := out[b*T*qs+h*HS:]
			lb := lse[bh*T : (bh+1)*T]
			W := t1 - k0
			if W == 0 {
				for t := t0; t < t1; t++ {
					clear(ob[t*qs : t*qs+HS])
					lb[t] = inf
				}
				continue
			}
			sc := scratchOf(sp, (t1-t0)*W)
			tensor.GemmPrecSerial(p, false, true, t1-t0, W, HS, q[(b*T+t0)*qs+h*HS:], qs, k[(b*T+k0)*kvs+kh*HS:], kvs, sc, W, false)
			for t := t0; t < t1; t++ {
				row := sc[(t-t0)*W : (t-t0+1)*W]
				rs := k0
				if st != nil {
					rs = int(st[t])
				}
				if rs > t {
					clear(row)
					lb[t] = inf
					continue
				}
				var mp []int32
				if pad != nil {
					mp = pad[rs:]
				}
				lb[t] = softmaxVisible(row[rs-k0:], t-rs, mp, scale)
				clear(row[:rs-k0])
			}
			tensor.GemmPrecSerial(p, false, false, t1-t0, HS, W, sc, W, v[(b*T+k0)*kvs+kh*HS:], kvs, ob[t0*qs:], qs, false)
		}
	})
}

// softmaxCausalRow turns row[:t+1] of raw scores into probabilities over the
// keys query t may see (m[s] != 0, m nil = all) and zeroes everything else.
func softmaxCausalRow(row []float32, t int, m []int32, scale float32) {
	softmaxVisible(row, t, m, scale)
}

// softmaxVisible is softmaxCausalRow returning the row's log-sum-exp of the
// scaled scores (+Inf, and a zero row, when no key is visible).
func softmaxVisible(row []float32, t int, m []int32, scale float32) float32 {
	vis := row[:t+1]
	var mx float32
	if m == nil {
		mx = maxf(vis)
	} else {
		// Masked keys become -Inf, which the exp turns into exact zeros.
		negInf := float32(math.Inf(-1))
		mx = negInf
		for s, x := range vis {
			if m[s] == 0 {
				vis[s] = negInf
			} else if x > mx {
				mx = x
			}
		}
		if math.IsInf(float64(mx), -1) {
			clear(row)
			return float32(math.Inf(1))
		}
	}
	// scale > 0, so the max of the scaled scores is the scaled max.
	expShift(vis, vis, mx, scale, 0)
	sum := sum64(vis)
	scaleRow(vis, float32(1/sum))
	clear(row[t+1:])
	return mx*scale + float32(math.Log(sum))
}

func scaleRow(x []float32, a float32) {
	for i := range x {
		x[i] *= a
	}
}

// AttentionScratchLen is the scratch AttentionBackward needs: none for
// multi-head attention, per-query-head dk and dv partial sums for grouped heads.
func AttentionScratchLen(B, T, NH, NKV, HS int) int {
	if NH == NKV {
		return 0
	}
	return 2 * B * T * NH * HS
}

// AttentionBackward accumulates into dq, dk, dv (any may be nil) the gradient
// of AttentionForward (same m, its out and lse), given dout. scratch holds
// AttentionScratchLen floats.
//
// Work is split by (batch, query head); each walks the keys in blocks of
// attKeyBlock, FlashAttention-2 style: recompute P for every query that sees
// the block, dv += Pᵀ·dout, dP = dout·Vᵀ, dS = P∘(dP − D)·scale with
// D = rowsum(dout∘out), dk += dSᵀ·Q, dq += dS·K. A unit owns its head's dq rows;
// grouped heads share dk, dv, so they go to per-head scratch summed at the end.
func AttentionBackward(dq, dk, dv, scratch, dout, q, k, v, out, lse []float32, m AttnMask, B, T, NH, NKV, HS int) {
	AttentionBackwardP(tensor.F32, dq, dk, dv, scratch, dout, q, k, v, out, lse, m, B, T, NH, NKV, HS)
}

// AttentionBackwardP is AttentionBackward with its five products at
// precision p (see AttentionForwardP).
func AttentionBackwardP(p tensor.Prec, dq, dk, dv, scratch, dout, q, k, v, out, lse []float32, m AttnMask, B, T, NH, NKV, HS int) {
	if dq == nil && dk == nil && dv == nil {
		return
	}
	group := NH / NKV
	scale := float32(1 / math.Sqrt(float64(HS)))
	qs, kvs := NH*HS, NKV*HS
	lo := m.rowStarts(B, T)
	dkh, dvh, hs := dk, dv, kvs
	if group > 1 {
		hs = qs
		dkh, dvh = nil, nil
		if dk != nil {
			dkh = scratch[:B*T*qs]
			clear(dkh)
		}
		if dv != nil {
			dvh = scratch[B*T*qs : 2*B*T*qs]
			clear(dvh)
		}
	}
	tensor.ParallelFor(B*NH, 1, func(ulo, uhi int) {
		sp := attScratch.Get().(*[]float32)
		defer attScratch.Put(sp)
		buf := scratchOf(sp, 2*T*attKeyBlock+2*T)
		P, dS := buf[:T*attKeyBlock], buf[T*attKeyBlock:2*T*attKeyBlock]
		D, single := buf[2*T*attKeyBlock:2*T*attKeyBlock+T], buf[2*T*attKeyBlock+T:]
		for bh := ulo; bh < uhi; bh++ {
			b, h := bh/NH, bh%NH
			kh := h / group
			hcol := kh * HS // this head's columns in dkh, dvh
			if group > 1 {
				hcol = h * HS
			}
			var pad, st []int32
			if m.Pad != nil {
				pad = m.Pad[b*T : (b+1)*T]
			}
			if lo != nil {
				st = lo[b*T : (b+1)*T]
			}
			lb := lse[bh*T : (bh+1)*T]
			qo, ko := b*T*qs+h*HS, b*T*kvs+kh*HS
			// A query that sees one key has probability 1 whatever its score, so
			// its dS is exactly 0; D (a different sum than dP's) would leave
			// rounding noise there, so such rows are flagged and zeroed.
			seen := 0
			for t := 0; t < T; t++ {
				D[t] = float32(dot64(dout[qo+t*qs:qo+t*qs+HS], out[qo+t*qs:]))
				switch {
				case st != nil:
					seen = t + 1 - int(st[t])
				case pad == nil || pad[t] != 0:
					seen++
				}
				single[t] = 0
				if seen == 1 {
					single[t] = 1
				}
			}
			for s0 := 0; s0 < T; s0 += attKeyBlock {
				s1 := min(s0+attKeyBlock, T)
				W := s1 - s0
				// Queries that see a key of [s0,s1): t >= s0 whose start is < s1.
				qe := T
				if st != nil {
					qe = s1
					for qe < T && int(st[qe]) < s1 {
						qe++
					}
				}
				L := qe - s0
				Pb, dSb := P[:L*W], dS[:L*W]
				tensor.GemmPrecSerial(p, false, true, L, W, HS, q[qo+s0*qs:], qs, k[ko+s0*kvs:], kvs, Pb, W, false)
				for t := s0; t < qe; t++ {
					row := Pb[(t-s0)*W : (t-s0+1)*W]
					a, e := s0, min(s1, t+1)
					if st != nil {
						a = max(a, int(st[t]))
					}
					if a >= e || math.IsInf(float64(lb[t]), 1) {
						clear(row)
						continue
					}
					clear(row[:a-s0])
					clear(row[e-s0:])
					expShift(row[a-s0:e-s0], row[a-s0:e-s0], 0, scale, lb[t])
					if pad != nil {
						for s := a; s < e; s++ {
							if pad[s] == 0 {
								row[s-s0] = 0
							}
						}
					}
				}
				if dvh != nil {
					tensor.GemmPrecSerial(p, true, false, W, HS, L, Pb, W, dout[qo+s0*qs:], qs, dvh[(b*T+s0)*hs+hcol:], hs, true)
				}
				if dq == nil && dkh == nil {
					continue
				}
				tensor.GemmPrecSerial(p, false, true, L, W, HS, dout[qo+s0*qs:], qs, v[ko+s0*kvs:], kvs, dSb, W, false)
				for i := 0; i < L; i++ {
					d := D[s0+i]
					p, g := Pb[i*W:(i+1)*W], dSb[i*W:(i+1)*W]
					if single[s0+i] != 0 {
						clear(g)
						continue
					}
					for j, pj := range p {
						g[j] = pj * (g[j] - d) * scale
					}
				}
				if dkh != nil {
					tensor.GemmPrecSerial(p, true, false, W, HS, L, dSb, W, q[qo+s0*qs:], qs, dkh[(b*T+s0)*hs+hcol:], hs, true)
				}
				if dq != nil {
					tensor.GemmPrecSerial(p, false, false, L, HS, W, dSb, W, k[ko+s0*kvs:], kvs, dq[qo+s0*qs:], qs, true)
				}
			}
		}
	})
	if group == 1 {
		return
	}
	// Sum each kv head's group of per-query-head partials.
	tensor.ParallelFor(B*T, 16, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			for kh := 0; kh < NKV; kh++ {
				for _, p := range [2][2][]float32{{dk, dkh}, {dv, dvh}} {
					if p[0] == nil {
						continue
					}
					dst := p[0][r*kvs+kh*HS : r*kvs+kh*HS+HS]
					for h := kh * group; h < (kh+1)*group; h++ {
						src := p[1][r*qs+h*HS : r*qs+h*HS+HS]
						for j := range dst {
							dst[j] += src[j]
						}
					}
				}
			}
		}
	})
}
