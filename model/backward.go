package model

import (
	"errors"

	"github.com/align-go/align/nn"
)

// Backward propagates from d(logits) [B*T,V] and/or d(final hidden) [B*T,C]
// (either may be nil) through the last Forward, ACCUMULATING into m.Grad so
// micro-batches can be summed. Frozen parameters get no gradient.
func (m *Model) Backward(dlogits, dhidden []float32) error {
	a := m.acts
	if a == nil {
		return errors.New("backward: no forward pass to differentiate")
	}
	if m.donor != nil {
		return errors.New("backward: this model borrows another's activation buffer (BorrowActivations) and runs forward only")
	}
	if !m.gradOn {
		m.EnableGrad()
	}
	if dlogits != nil && a.logits == nil {
		return errors.New("backward: forward ran without logits")
	}
	a.ensureGradScratch(m.Cfg)
	c := m.Cfg
	B, T := a.B, a.T
	N, C, NH, NKV, HS, F := B*T, c.Dim, c.Heads, c.KVHeads, c.HeadDim, c.FFN
	Q, KV := NH*HS, NKV*HS
	w, g := &m.W, &m.G

	// d(final hidden) from the head and/or the caller.
	dlnf := a.dlnf
	clear(dlnf)
	if dlogits != nil {
		if q := m.headTable(); q != nil {
			nn.LinearBackwardQP(m.prec, dlnf, dlogits, q, N) // frozen: no weight gradient
		} else {
			nn.LinearBackwardP(m.prec, dlnf, g.LMHead, nil, dlogits, a.lnf, w.LMHead, N, C, c.Vocab)
		}
	}
	if dhidden != nil {
		addInto(dlnf, dhidden)
	}
	// dres carries d(residual stream) downwards; norm backwards accumulate into it,
	// which is exactly the residual connection's gradient sum.
	dres := a.dres
	clear(dres)
	m.normBackward(dres, g.NormFW, g.NormFB, dlnf, a.out, w.NormFW, a.meanf, a.rf, N, C)

	for l := len(a.layers) - 1; l >= 0; l-- {
		if a.ckpt && l < len(a.layers)-1 {
			// The shared activations hold block l+1's (the last block's
			// are still there from Forward): recompute block l's from its
			// saved input. Its output is not needed; dlnf is free scratch.
			m.layerForward(l, a.dlnf)
		}
		la, lw, lg := &a.layers[l], &w.Layers[l], &g.Layers[l]
		// MLP: out = res2 + down(act(ln2)); dres is d(out).
		dln := a.dln
		clear(dln)
		if c.Arch == ArchGPT2 {
			dact, dfc := a.dh, a.dfc
			clear(dact)
			m.linearBack(l, modDown, dact, lg.Wdown, lg.Bdown, dres, la.fcAct, lw.Wdown, N, F, C)
			clear(dfc)
			nn.GeluBackward(dfc, la.fc, dact)
			m.linearBack(l, modFC, dln, lg.Wfc, lg.Bfc, dfc, la.ln2, lw.Wfc, N, C, F)
		} else {
			dh, dgate := a.dh, a.dgate
			clear(dh)
			m.linearBack(l, modDown, dh, lg.Wdown, lg.Bdown, dres, la.h, lw.Wdown, N, F, C)
			clear(dgate)
			nn.SwiGLUBackwardInPlace(dgate, dh, la.gate, la.up)
			dup := dh // d(h) is spent: it now holds d(up)
			m.linearBack(l, modGate, dln, lg.Wgate, lg.Bgate, dgate, la.ln2, lw.Wgate, N, C, F)
			m.linearBack(l, modUp, dln, lg.Wup, lg.Bup, dup, la.ln2, lw.Wup, N, C, F)
		}
		m.normBackward(dres, lg.Norm2W, lg.Norm2B, dln, la.res2, lw.Norm2W, la.mean2, la.r2, N, C)
		// dres is now d(res2); attention: res2 = x + o(attn(ln1)).
		clear(a.dy)
		m.linearBack(l, modO, a.dy, lg.Wo, lg.Bo, dres, la.y, lw.Wo, N, Q, C)
		clear(a.dq)
		clear(a.dk)
		clear(a.dv)
		nn.AttentionBackwardP(m.prec, a.dq, a.dk, a.dv, a.datt, a.dy, la.q, la.k, la.v, la.y, la.lse, a.mask, B, T, NH, NKV, HS)
		dq, dk := a.dq, a.dk
		if c.Arch == ArchLlama {
			nn.RopeBackward(dq, a.pos, m.rope.cos, m.rope.sin, N, NH, HS)
			nn.RopeBackward(dk, a.pos, m.rope.cos, m.rope.sin, N, NKV, HS)
		}
		if c.QKNorm {
			clear(a.dqn)
			clear(a.dknorm)
			nn.RMSNormBackward(a.dqn, lg.QNorm, dq, la.qpre, lw.QNorm, la.qr, N*NH, HS)
			nn.RMSNormBackward(a.dknorm, lg.KNorm, dk, la.kpre, lw.KNorm, la.kr, N*NKV, HS)
			dq, dk = a.dqn, a.dknorm
		}
		clear(dln)
		m.linearBack(l, modQ, dln, lg.Wq, lg.Bq, dq, la.ln1, lw.Wq, N, C, Q)
		m.linearBack(l, modK, dln, lg.Wk, lg.Bk, dk, la.ln1, lw.Wk, N, C, KV)
		m.linearBack(l, modV, dln, lg.Wv, lg.Bv, a.dv, la.ln1, lw.Wv, N, C, KV)
		m.normBackward(dres, lg.Norm1W, lg.Norm1B, dln, la.x, lw.Norm1W, la.mean1, la.r1, N, C)
	}
	ids := m.lastIDs
	if g.Wte != nil {
		nn.EmbeddingBackward(g.Wte, dres, ids, N, C)
	}
	if g.Wpe != nil {
		nn.EmbeddingBackward(g.Wpe, dres, a.pos, N, C)
	}
	return nil
}
