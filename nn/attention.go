package nn

import (
	"math"

	"github.com/align-go/align/tensor"
)

// Attention works on blocks of attBlock query rows of one (batch, head). A block
// only needs keys up to its last row, so the causal upper triangle is skipped
// except inside the diagonal block, about halving the work at long T; and a
// block's rows of out, att, dq (and, in the second backward pass, of dk and dv)
// belong to it alone, so blocks run in parallel with no locks even at B=1.
const attBlock = 32

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

// AttentionForward is causal scaled-dot-product attention with grouped-query heads.
//
//	q [B,T,NH,HS], k,v [B,T,NKV,HS] (NH % NKV == 0; head h reads kv head h/(NH/NKV))
//	out [B,T,NH,HS]; att [B,NH,T,T] receives the softmax probabilities (saved for backward)
//	mask [B,T] (nil = all real): 1 for a real token, 0 for padding (left or right).
//
// Query t of sequence b sees keys s <= t with mask[b,s] == 1. A query with no
// visible key (a padding position) gets out = 0 and att row = 0.
func AttentionForward(out, att, q, k, v []float32, mask []int32, B, T, NH, NKV, HS int) {
	group := NH / NKV
	nblk := (T + attBlock - 1) / attBlock
	scale := float32(1 / math.Sqrt(float64(HS)))
	qs, kvs := NH*HS, NKV*HS
	tensor.ParallelFor(B*NH*nblk, 1, func(lo, hi int) {
		for u := lo; u < hi; u++ {
			bh, blk := attUnit(u, nblk)
			b, h := bh/NH, bh%NH
			kh := h / group
			t0 := blk * attBlock
			t1 := min(t0+attBlock, T)
			qb := q[b*T*qs+h*HS:]
			kb := k[b*T*kvs+kh*HS:]
			vb := v[b*T*kvs+kh*HS:]
			ab := att[bh*T*T : (bh+1)*T*T]
			ob := out[b*T*qs+h*HS:]
			var m []int32
			if mask != nil {
				m = mask[b*T : (b+1)*T]
			}
			tensor.GemmSerial(false, true, t1-t0, t1, HS, qb[t0*qs:], qs, kb, kvs, ab[t0*T:], T, false)
			for t := t0; t < t1; t++ {
				softmaxCausalRow(ab[t*T:(t+1)*T], t, m, scale)
			}
			tensor.GemmSerial(false, false, t1-t0, HS, t1, ab[t0*T:], T, vb, kvs, ob[t0*qs:], qs, false)
		}
	})
}

// softmaxCausalRow turns row[:t+1] of raw scores into probabilities over the
// keys query t may see and zeroes everything else, including the columns past
// t that the block's matmul filled.
func softmaxCausalRow(row []float32, t int, m []int32, scale float32) {
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
			return
		}
	}
	// scale > 0, so the max of the scaled scores is the scaled max.
	expShift(vis, vis, mx, scale, 0)
	scaleRow(vis, float32(1/sum64(vis)))
	clear(row[t+1:])
}

func scaleRow(x []float32, a float32) {
	for i := range x {
		x[i] *= a
	}
}

// AttentionBackward accumulates into dq, dk, dv. scratch must hold B*NH*T*T floats.
// Any of dq, dk, dv may be nil; scratch is only touched when dq or dk is wanted.
//
// Pass 1 (per query block) forms dpre = softmax'(att)·(dout·Vᵀ)·scale in scratch
// and accumulates dq. Pass 2 (per key block of a kv head) accumulates dk and dv
// over every query head sharing that kv head; splitting by key rows is what
// keeps the grouped-query accumulation free of races.
func AttentionBackward(dq, dk, dv, scratch, dout, q, k, v, att []float32, B, T, NH, NKV, HS int) {
	group := NH / NKV
	nblk := (T + attBlock - 1) / attBlock
	scale := float32(1 / math.Sqrt(float64(HS)))
	qs, kvs := NH*HS, NKV*HS
	if dq != nil || dk != nil {
		tensor.ParallelFor(B*NH*nblk, 1, func(lo, hi int) {
			for u := lo; u < hi; u++ {
				bh, blk := attUnit(u, nblk)
				b, h := bh/NH, bh%NH
				kh := h / group
				t0 := blk * attBlock
				t1 := min(t0+attBlock, T)
				kb := k[b*T*kvs+kh*HS:]
				vb := v[b*T*kvs+kh*HS:]
				ab := att[bh*T*T : (bh+1)*T*T]
				sb := scratch[bh*T*T : (bh+1)*T*T]
				dob := dout[b*T*qs+h*HS:]
				tensor.GemmSerial(false, true, t1-t0, t1, HS, dob[t0*qs:], qs, vb, kvs, sb[t0*T:], T, false)
				for t := t0; t < t1; t++ {
					a := ab[t*T : t*T+t+1]
					d := sb[t*T : t*T+t+1]
					df := float32(dot64(a, d))
					for s, p := range a {
						d[s] = p * (d[s] - df) * scale
					}
					// Pass 2 reads the diagonal block's upper triangle; it must be zero.
					clear(sb[t*T+t+1 : t*T+t1])
				}
				if dq != nil {
					tensor.GemmSerial(false, false, t1-t0, HS, t1, sb[t0*T:], T, kb, kvs, dq[b*T*qs+h*HS+t0*qs:], qs, true)
				}
			}
		})
	}
	if dk == nil && dv == nil {
		return
	}
	tensor.ParallelFor(B*NKV*nblk, 1, func(lo, hi int) {
		for u := lo; u < hi; u++ {
			bk, blk := attUnit(u, nblk)
			b, kh := bk/NKV, bk%NKV
			s0 := blk * attBlock
			s1 := min(s0+attBlock, T)
			off := (b*T+s0)*kvs + kh*HS
			for h := kh * group; h < (kh+1)*group; h++ {
				bh := b*NH + h
				// Key rows [s0,s1) get gradient from query rows t >= s0.
				qo := (b*T+s0)*qs + h*HS
				if dk != nil {
					sb := scratch[bh*T*T+s0*T+s0:]
					tensor.GemmSerial(true, false, s1-s0, HS, T-s0, sb, T, q[qo:], qs, dk[off:], kvs, true)
				}
				if dv != nil {
					ab := att[bh*T*T+s0*T+s0:]
					tensor.GemmSerial(true, false, s1-s0, HS, T-s0, ab, T, dout[qo:], qs, dv[off:], kvs, true)
				}
			}
		}
	})
}
