package model

import (
	"fmt"

	"github.com/align-go/align/nn"
	"github.com/align-go/align/tensor"
)

// Batch is B sequences of T token ids, row-major. Mask (optional, same shape)
// is 1 for real tokens and 0 for padding, which may sit on either side.
//
// Seg (optional, same shape) packs several documents into one row: it numbers
// each position's document (any nonzero id, one contiguous run per document)
// with 0 for padding. Positions then restart at 0 in every document and a
// token attends only to earlier tokens of its own document, so each document
// is computed exactly as if it ran alone. With Seg, Mask may be nil; if given
// it must be 0 exactly where Seg is.
type Batch struct {
	B, T int
	IDs  []int32
	Mask []int32
	Seg  []int32
}

// Positions writes each token's position: the count of real tokens before it
// (cumsum(mask)-1, floored at 0), so a left-padded row sees the same positions
// as the unpadded sequence — the convention HF generate uses.
func Positions(pos, mask []int32, B, T int) {
	for b := 0; b < B; b++ {
		var n int32
		for t := 0; t < T; t++ {
			i := b*T + t
			if mask == nil || mask[i] != 0 {
				n++
			}
			pos[i] = max(n-1, 0)
		}
	}
}

// PositionsSeg writes each token's position within its document of seg (see
// Batch.Seg): 0 at every document's first token, and 0 on padding.
func PositionsSeg(pos, seg []int32, B, T int) {
	for b := 0; b < B; b++ {
		var n int32
		for t := 0; t < T; t++ {
			i := b*T + t
			if t > 0 && seg[i] != 0 && seg[i] == seg[i-1] {
				n++
			} else {
				n = 0
			}
			pos[i] = n
		}
	}
}

func checkSeg(b Batch) error {
	if len(b.Seg) != len(b.IDs) {
		return fmt.Errorf("batch: seg has %d entries, want %d", len(b.Seg), len(b.IDs))
	}
	for r := 0; r < b.B; r++ {
		row := b.Seg[r*b.T : (r+1)*b.T]
		var done map[int32]bool // ids whose run has ended; rare enough to allocate lazily
		for t, s := range row {
			switch {
			case s < 0:
				return fmt.Errorf("batch: seg id %d at row %d position %d is negative", s, r, t)
			case b.Mask != nil && (b.Mask[r*b.T+t] == 0) != (s == 0):
				return fmt.Errorf("batch: row %d position %d: mask %d disagrees with seg %d (0 in both or neither)", r, t, b.Mask[r*b.T+t], s)
			case s != 0 && done[s]:
				return fmt.Errorf("batch: row %d: document %d resumes at position %d after another (documents must be contiguous)", r, s, t)
			}
			if t > 0 && row[t-1] != 0 && row[t-1] != s {
				if done == nil {
					done = map[int32]bool{}
				}
				done[row[t-1]] = true
			}
		}
	}
	return nil
}

func (m *Model) check(b Batch) error {
	if b.B <= 0 || b.T <= 0 || len(b.IDs) != b.B*b.T {
		return fmt.Errorf("batch: %d ids for shape %dx%d", len(b.IDs), b.B, b.T)
	}
	if b.Mask != nil && len(b.Mask) != len(b.IDs) {
		return fmt.Errorf("batch: mask has %d entries, want %d", len(b.Mask), len(b.IDs))
	}
	if b.Seg != nil {
		if err := checkSeg(b); err != nil {
			return err
		}
	}
	for i, id := range b.IDs {
		if id < 0 || int(id) >= m.Cfg.Vocab {
			return fmt.Errorf("batch: token id %d at position %d outside vocabulary [0,%d)", id, i, m.Cfg.Vocab)
		}
	}
	if m.Cfg.Arch == ArchGPT2 && b.T > m.Cfg.MaxPos {
		return fmt.Errorf("batch: sequence length %d exceeds n_positions %d", b.T, m.Cfg.MaxPos)
	}
	if m.Cfg.SlidingWindow > 0 && b.T > m.Cfg.SlidingWindow {
		return fmt.Errorf("batch: sequence length %d exceeds mistral sliding_window %d (not implemented)", b.T, m.Cfg.SlidingWindow)
	}
	return nil
}

// Forward runs the model on b, keeping every activation for Backward. With
// logits false it stops at the final hidden state (reward and value heads).
// The returned slices are views into the model's activation buffer, valid until
// the next Forward: logits [B*T, V] (nil when not asked), hidden [B*T, C].
func (m *Model) Forward(b Batch, logits bool) (lg, hidden []float32, err error) {
	if err := m.check(b); err != nil {
		return nil, nil, err
	}
	c := m.Cfg
	a := m.acts
	switch {
	case m.donor != nil:
		// Every pass is carved afresh over the donor's current buffer (its
		// gradient scratch is never touched: a borrower runs no backward).
		var reuse *acts
		switch {
		case m.donor.acts != nil:
			reuse = &acts{buf: m.donor.acts.buf}
		case m.acts != nil: // the donor has not run yet (precomputing): keep our own
			reuse = &acts{buf: m.acts.buf}
		}
		a = m.layoutActs(b.B, b.T, logits, reuse)
		m.acts = a
	case a == nil || a.B != b.B || a.T != b.T || (logits && a.logits == nil) || a.ckpt != m.ckpt:
		a = m.layoutActs(b.B, b.T, logits || (a != nil && a.logits != nil), a)
		m.acts = a
	}
	N, C := b.B*b.T, c.Dim
	eps := float32(c.NormEps)
	w := &m.W
	if b.Seg != nil {
		PositionsSeg(a.pos, b.Seg, b.B, b.T)
	} else {
		Positions(a.pos, b.Mask, b.B, b.T)
	}
	m.lastIDs = b.IDs
	a.mask = nn.AttnMask{Pad: b.Mask}
	if b.Seg != nil {
		a.mask = nn.AttnMask{Seg: b.Seg} // Mask, if given, is 0 exactly where Seg is
	}
	m.fwdLoRA = m.curLoRA()

	x := a.layers[0].x
	m.embed(x, b.IDs, N)
	if c.Arch == ArchGPT2 {
		nn.EmbeddingForward(x, a.pos, w.Wpe, N, C, true)
	} else {
		m.rope.ensure(b.T, c)
	}
	for l := range a.layers {
		next := a.out
		if l+1 < len(a.layers) {
			next = a.layers[l+1].x
		}
		m.layerForward(l, next)
	}
	m.norm(a.lnf, a.meanf, a.rf, a.out, w.NormFW, w.NormFB, N, C, eps)
	if logits {
		if m.W.LMHead == nil && m.headTable() == nil {
			return nil, nil, fmt.Errorf("forward: the model has no LM head (a compact sequence-classification checkpoint): ask for hidden states")
		}
		if q := m.headTable(); q != nil {
			nn.LinearForwardQP(m.prec, a.logits, a.lnf, q, nil, N)
		} else {
			nn.LinearForwardP(m.prec, a.logits, a.lnf, w.LMHead, nil, N, C, c.Vocab)
		}
		return a.logits, a.lnf, nil
	}
	return nil, a.lnf, nil
}

// embed writes the token embeddings of ids into x [N,C]: from the compact
// table a row at a time when the embedding is compact.
func (m *Model) embed(x []float32, ids []int32, N int) {
	if q := m.embedTable(); q != nil {
		nn.EmbeddingForwardQ(x, ids, q, N, m.Cfg.Dim, false)
		return
	}
	nn.EmbeddingForward(x, ids, m.W.Wte, N, m.Cfg.Dim, false)
}

// layerForward runs block l from its saved input a.layers[l].x, writing
// the block's activations into its layerActs and its output into next.
// Under gradient checkpointing every block shares one set of activations,
// and Backward calls this again to recompute them: same inputs, same
// kernels, so the same bits.
func (m *Model) layerForward(l int, next []float32) {
	c, a := m.Cfg, m.acts
	N, C, NH, NKV, HS, F := a.B*a.T, c.Dim, c.Heads, c.KVHeads, c.HeadDim, c.FFN
	Q, KV := NH*HS, NKV*HS
	eps := float32(c.NormEps)
	la, lw := &a.layers[l], &m.W.Layers[l]
	m.norm(la.ln1, la.mean1, la.r1, la.x, lw.Norm1W, lw.Norm1B, N, C, eps)
	if c.QKNorm {
		m.linear(l, modQ, la.qpre, la.ln1, lw.Wq, lw.Bq, N, C, Q)
		m.linear(l, modK, la.kpre, la.ln1, lw.Wk, lw.Bk, N, C, KV)
		nn.RMSNormForward(la.q, la.qr, la.qpre, lw.QNorm, N*NH, HS, eps)
		nn.RMSNormForward(la.k, la.kr, la.kpre, lw.KNorm, N*NKV, HS, eps)
	} else {
		m.linear(l, modQ, la.q, la.ln1, lw.Wq, lw.Bq, N, C, Q)
		m.linear(l, modK, la.k, la.ln1, lw.Wk, lw.Bk, N, C, KV)
	}
	m.linear(l, modV, la.v, la.ln1, lw.Wv, lw.Bv, N, C, KV)
	if c.Arch == ArchLlama {
		nn.RopeForward(la.q, a.pos, m.rope.cos, m.rope.sin, N, NH, HS)
		nn.RopeForward(la.k, a.pos, m.rope.cos, m.rope.sin, N, NKV, HS)
	}
	nn.AttentionForwardP(m.prec, la.y, la.lse, la.q, la.k, la.v, a.mask, a.B, a.T, NH, NKV, HS)
	m.linear(l, modO, la.res2, la.y, lw.Wo, lw.Bo, N, Q, C)
	addInto(la.res2, la.x)
	m.norm(la.ln2, la.mean2, la.r2, la.res2, lw.Norm2W, lw.Norm2B, N, C, eps)
	if c.Arch == ArchGPT2 {
		m.linear(l, modFC, la.fc, la.ln2, lw.Wfc, lw.Bfc, N, C, F)
		nn.GeluForward(la.fcAct, la.fc)
		m.linear(l, modDown, next, la.fcAct, lw.Wdown, lw.Bdown, N, F, C)
	} else {
		m.linear(l, modGate, la.gate, la.ln2, lw.Wgate, lw.Bgate, N, C, F)
		m.linear(l, modUp, la.up, la.ln2, lw.Wup, lw.Bup, N, C, F)
		nn.SwiGLUForward(la.h, la.gate, la.up)
		m.linear(l, modDown, next, la.h, lw.Wdown, lw.Bdown, N, F, C)
	}
	addInto(next, la.res2)
}

// norm is LayerNorm for GPT-2 and RMSNorm for the Llama family.
func (m *Model) norm(out, mean, rstd, inp, w, b []float32, N, C int, eps float32) {
	if m.Cfg.Arch == ArchGPT2 {
		nn.LayerNormForward(out, mean, rstd, inp, w, b, N, C, eps)
	} else {
		nn.RMSNormForward(out, rstd, inp, w, N, C, eps)
	}
}

func (m *Model) normBackward(dinp, dw, db, dout, inp, w, mean, rstd []float32, N, C int) {
	if m.Cfg.Arch == ArchGPT2 {
		nn.LayerNormBackward(dinp, dw, db, dout, inp, w, mean, rstd, N, C)
	} else {
		nn.RMSNormBackward(dinp, dw, dout, inp, w, rstd, N, C)
	}
}

// copyGrain is the fewest float32 elements worth giving a goroutine in the
// residual adds and the cache writes (64 KB: more than the hand-out costs).
const copyGrain = 1 << 14

// addInto adds src to dst elementwise, split across goroutines when large.
func addInto(dst, src []float32) {
	src = src[:len(dst)]
	tensor.ParallelFor(len(dst), copyGrain, func(lo, hi int) {
		d, s := dst[lo:hi], src[lo:hi]
		for i := range d {
			d[i] += s[i]
		}
	})
}
