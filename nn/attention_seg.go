package nn

import (
	"math"

	"github.com/align-go/align/tensor"
)

// Packed rows hold several documents back to back; seg [B,T] labels each
// position with its document id (0 = padding). A document is a maximal run of
// one nonzero id, so query t sees key s iff s <= t and s..t all carry seg[t]
// != 0 — the varlen (cu_seqlens) semantics of flash-attention. Because a
// document is a contiguous run, the keys a query sees are the interval
// [start of its run, t], and a query block needs keys only from the start of
// its first row's run: every block left of that is skipped outright.

// segRuns writes, for every position, the start and (exclusive) end of its
// run of equal nonzero seg ids; a padding position is its own empty run
// (start = t+1, end = t) so that it sees no key and no query sees it.
func segRuns(seg []int32, B, T int) (start, end []int32) {
	start, end = make([]int32, B*T), make([]int32, B*T)
	for b := 0; b < B; b++ {
		s := seg[b*T : (b+1)*T]
		st, en := start[b*T:(b+1)*T], end[b*T:(b+1)*T]
		for t := 0; t < T; t++ {
			switch {
			case s[t] == 0:
				st[t] = int32(t + 1)
			case t > 0 && s[t-1] == s[t]:
				st[t] = st[t-1]
			default:
				st[t] = int32(t)
			}
		}
		for t := T - 1; t >= 0; t-- {
			switch {
			case s[t] == 0:
				en[t] = int32(t)
			case t+1 < T && s[t+1] == s[t]:
				en[t] = en[t+1]
			default:
				en[t] = int32(t + 1)
			}
		}
	}
	return start, end
}

// blockKeys is the first key column a query block [t0,t1) needs: the start of
// its first non-padding row's run (t1 when the whole block is padding).
func blockKeys(st []int32, t0, t1 int) int {
	for t := t0; t < t1; t++ {
		if int(st[t]) <= t {
			return int(st[t])
		}
	}
	return t1
}

// AttentionForwardSeg is AttentionForward over packed rows: seg [B,T] (see
// above) replaces the padding mask. With seg nil it is AttentionForward with
// no mask. att rows are zero outside each query's document, and a padding
// query gets out = 0.
func AttentionForwardSeg(out, att, q, k, v []float32, seg []int32, B, T, NH, NKV, HS int) {
	if seg == nil {
		AttentionForward(out, att, q, k, v, nil, B, T, NH, NKV, HS)
		return
	}
	start, _ := segRuns(seg, B, T)
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
			st := start[b*T : (b+1)*T]
			s0 := blockKeys(st, t0, t1)
			ab := att[bh*T*T : (bh+1)*T*T]
			ob := out[b*T*qs+h*HS:]
			if s0 < t1 {
				qb := q[b*T*qs+h*HS:]
				kb := k[b*T*kvs+kh*HS:]
				tensor.GemmSerial(false, true, t1-t0, t1-s0, HS, qb[t0*qs:], qs, kb[s0*kvs:], kvs, ab[t0*T+s0:], T, false)
			}
			for t := t0; t < t1; t++ {
				row := ab[t*T : (t+1)*T]
				rs := int(st[t])
				if rs > t {
					clear(row)
					continue
				}
				softmaxCausalRow(row[rs:], t-rs, nil, scale)
				clear(row[:rs])
			}
			if s0 < t1 {
				vb := v[b*T*kvs+kh*HS:]
				tensor.GemmSerial(false, false, t1-t0, HS, t1-s0, ab[t0*T+s0:], T, vb[s0*kvs:], kvs, ob[t0*qs:], qs, false)
			} else {
				for t := t0; t < t1; t++ {
					clear(ob[t*qs : t*qs+HS])
				}
			}
		}
	})
}

// AttentionBackwardSeg is AttentionBackward for AttentionForwardSeg (same
// seg, same att). With seg nil it is AttentionBackward.
//
// Pass 1 writes scratch row t only over the key columns its block computed,
// [blockKeys, t1), zero outside [run start, t]. Pass 2 therefore splits each
// key block by document: keys of one document take gradient from that
// document's queries alone, and those rows' scratch columns were all written.
func AttentionBackwardSeg(dq, dk, dv, scratch, dout, q, k, v, att []float32, seg []int32, B, T, NH, NKV, HS int) {
	if seg == nil {
		AttentionBackward(dq, dk, dv, scratch, dout, q, k, v, att, B, T, NH, NKV, HS)
		return
	}
	start, end := segRuns(seg, B, T)
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
				st := start[b*T : (b+1)*T]
				s0 := blockKeys(st, t0, t1)
				if s0 >= t1 {
					continue // all padding: no gradient, and pass 2 reads none of these rows
				}
				kb := k[b*T*kvs+kh*HS:]
				vb := v[b*T*kvs+kh*HS:]
				ab := att[bh*T*T : (bh+1)*T*T]
				sb := scratch[bh*T*T : (bh+1)*T*T]
				dob := dout[b*T*qs+h*HS:]
				tensor.GemmSerial(false, true, t1-t0, t1-s0, HS, dob[t0*qs:], qs, vb[s0*kvs:], kvs, sb[t0*T+s0:], T, false)
				for t := t0; t < t1; t++ {
					rs := int(st[t])
					if rs > t {
						clear(sb[t*T+s0 : t*T+t1])
						continue
					}
					a := ab[t*T+rs : t*T+t+1]
					d := sb[t*T+rs : t*T+t+1]
					df := float32(dot64(a, d))
					for s, p := range a {
						d[s] = p * (d[s] - df) * scale
					}
					clear(sb[t*T+s0 : t*T+rs])
					clear(sb[t*T+t+1 : t*T+t1])
				}
				if dq != nil {
					tensor.GemmSerial(false, false, t1-t0, HS, t1-s0, sb[t0*T+s0:], T, kb[s0*kvs:], kvs, dq[b*T*qs+h*HS+t0*qs:], qs, true)
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
			s1 := min((blk+1)*attBlock, T)
			en := end[b*T : (b+1)*T]
			for s0 := blk * attBlock; s0 < s1; {
				// Keys [s0,ke) of one document get gradient from its queries [s0,qe).
				qe := int(en[s0])
				if qe <= s0 {
					s0++ // padding key
					continue
				}
				ke := min(qe, s1)
				off := (b*T+s0)*kvs + kh*HS
				for h := kh * group; h < (kh+1)*group; h++ {
					bh := b*NH + h
					qo := (b*T+s0)*qs + h*HS
					if dk != nil {
						sb := scratch[bh*T*T+s0*T+s0:]
						tensor.GemmSerial(true, false, ke-s0, HS, qe-s0, sb, T, q[qo:], qs, dk[off:], kvs, true)
					}
					if dv != nil {
						ab := att[bh*T*T+s0*T+s0:]
						tensor.GemmSerial(true, false, ke-s0, HS, qe-s0, ab, T, dout[qo:], qs, dv[off:], kvs, true)
					}
				}
				s0 = ke
			}
		}
	})
}
