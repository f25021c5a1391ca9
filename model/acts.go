package model

import (
	"github.com/align-go/align/internal/hugepage"
	"github.com/align-go/align/nn"
)

// layerActs are one block's saved activations, all views into acts.buf.
type layerActs struct {
	x              []float32 // [N,C] block input (residual stream)
	ln1, mean1, r1 []float32 // [N,C], [N], [N]
	q, k, v        []float32 // [N,Q], [N,KV], [N,KV]: attention inputs (after norm and RoPE)
	qpre, kpre     []float32 // qwen3: projections before q_norm/k_norm
	qr, kr         []float32 // qwen3: per-head rstd [N*NH], [N*NKV]
	lse            []float32 // [B,NH,T] attention log-sum-exp per query row
	y              []float32 // [N,Q] attention output
	res2           []float32 // [N,C] x + attention
	ln2, mean2, r2 []float32
	fc, fcAct      []float32 // gpt2 [N,F]
	gate, up, h    []float32 // llama [N,F]
}

// acts holds every activation of one forward pass (one allocation) plus the
// backward scratch (another), sized for B×T and reused while the shape fits.
type acts struct {
	B, T   int
	ckpt   bool // laid out for gradient checkpointing: one layerActs shared by all blocks
	buf    []float32
	layers []layerActs
	out    []float32 // [N,C] last residual
	lnf    []float32 // [N,C] final hidden state
	meanf  []float32
	rf     []float32
	logits []float32   // [N,V]
	pos    []int32     // [N]
	mask   nn.AttnMask // the last Forward's Batch.Mask and Batch.Seg, for Backward

	grad                           []float32
	gradCap                        []float32 // an earlier layout's scratch, reused when large enough
	dres, dln, dy, dq, dk, dv, dqn []float32
	dknorm, datt, dfc, dgate, dh   []float32
	dlnf                           []float32
}

// carver hands out consecutive slices of one buffer; with buf nil it only counts.
type carver struct {
	buf []float32
	off int
}

func (c *carver) take(n int) []float32 {
	c.off += n
	if c.buf == nil {
		return nil
	}
	return c.buf[c.off-n : c.off : c.off]
}

// layoutActs carves activations for B×T, reusing reuse's buffers when they are big enough.
func (m *Model) layoutActs(B, T int, logits bool, reuse *acts) *acts {
	c := m.Cfg
	N, C, Q, KV, F := B*T, c.Dim, c.Heads*c.HeadDim, c.KVHeads*c.HeadDim, c.FFN
	// A borrower runs forward only, where the shared layout computes the same
	// bits in less memory (and fits a checkpointing donor's buffer).
	a := &acts{B: B, T: T, ckpt: m.ckpt || m.donor != nil, layers: make([]layerActs, c.Layers), pos: make([]int32, N)}
	carve := func(cv *carver) {
		var shared layerActs
		for l := range a.layers {
			la := &a.layers[l]
			la.x = cv.take(N * C)
			if a.ckpt && l > 0 {
				// Checkpointing keeps each block's input only; the rest is
				// block 0's, recomputed per block in Backward.
				x := la.x
				*la = shared
				la.x = x
				continue
			}
			la.ln1, la.mean1, la.r1 = cv.take(N*C), cv.take(N), cv.take(N)
			la.q, la.k, la.v = cv.take(N*Q), cv.take(N*KV), cv.take(N*KV)
			if c.QKNorm {
				la.qpre, la.kpre = cv.take(N*Q), cv.take(N*KV)
				la.qr, la.kr = cv.take(N*c.Heads), cv.take(N*c.KVHeads)
			}
			la.lse = cv.take(B * c.Heads * T)
			la.y = cv.take(N * Q)
			la.res2 = cv.take(N * C)
			la.ln2, la.mean2, la.r2 = cv.take(N*C), cv.take(N), cv.take(N)
			if c.Arch == ArchGPT2 {
				la.fc, la.fcAct = cv.take(N*F), cv.take(N*F)
			} else {
				la.gate, la.up, la.h = cv.take(N*F), cv.take(N*F), cv.take(N*F)
			}
			shared = *la
		}
		a.out = cv.take(N * C)
		a.lnf, a.meanf, a.rf = cv.take(N*C), cv.take(N), cv.take(N)
		if logits {
			a.logits = cv.take(N * c.Vocab)
		}
	}
	var count carver
	carve(&count)
	if reuse != nil && cap(reuse.buf) >= count.off {
		// Variable-length batches (SFT, DPO) keep one buffer at its high-water mark.
		a.buf = reuse.buf[:count.off]
	} else {
		// Gigabytes at real sizes, written by the first step: on huge pages
		// that is 512× fewer page faults (internal/hugepage).
		a.buf = make([]float32, count.off)
		hugepage.Advise(a.buf)
	}
	carve(&carver{buf: a.buf})
	if reuse != nil && cap(reuse.grad) > 0 {
		a.gradCap = reuse.grad[:0]
	}
	return a
}

// ensureGradScratch allocates backward scratch on first use (inference never pays for it).
func (a *acts) ensureGradScratch(c *Config) {
	if a.grad != nil {
		return
	}
	N, C, Q, KV, F := a.B*a.T, c.Dim, c.Heads*c.HeadDim, c.KVHeads*c.HeadDim, c.FFN
	var cv carver
	take := func() {
		a.dres, a.dln, a.dlnf = cv.take(N*C), cv.take(N*C), cv.take(N*C)
		a.dy, a.dq, a.dk, a.dv = cv.take(N*Q), cv.take(N*Q), cv.take(N*KV), cv.take(N*KV)
		if c.QKNorm {
			a.dqn, a.dknorm = cv.take(N*Q), cv.take(N*KV)
		}
		a.datt = cv.take(nn.AttentionScratchLen(a.B, a.T, c.Heads, c.KVHeads, c.HeadDim))
		a.dh = cv.take(N * F) // llama: d(up) too, once d(h) is spent (SwiGLUBackwardInPlace)
		if c.Arch == ArchLlama {
			a.dgate = cv.take(N * F)
		} else {
			a.dfc = cv.take(N * F) // GPT-2's d(fc); SwiGLU has dgate (and dh, then d(up))
		}
	}
	take()
	if cap(a.gradCap) >= cv.off {
		a.grad = a.gradCap[:cv.off]
		clear(a.grad)
	} else {
		a.grad = make([]float32, cv.off)
		hugepage.Advise(a.grad)
	}
	a.gradCap = nil
	cv = carver{buf: a.grad}
	take()
}

// ropeTable caches cos/sin for positions [0, T).
type ropeTable struct {
	T        int
	cos, sin []float32
}

func (r *ropeTable) ensure(T int, c *Config) {
	if r.T >= T {
		return
	}
	r.T = max(T, 2*r.T)
	inv := c.RopeInvFreq()
	r.cos = make([]float32, r.T*len(inv))
	r.sin = make([]float32, r.T*len(inv))
	nn.RopeTableFreqs(r.cos, r.sin, r.T, inv)
}
