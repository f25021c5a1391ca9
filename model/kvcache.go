package model

import (
	"fmt"

	"github.com/align-go/align/internal/hugepage"
	"github.com/align-go/align/nn"
	"github.com/align-go/align/tensor"
)

// KVCache holds every layer's keys and values for B sequences of up to Cap
// slots, so generation runs each new token through the model once instead of
// re-running the whole prefix. Slots fill left to right; a slot holds a real
// token (Mask 1) or padding (Mask 0), and rows may hold different lengths.
//
// A cache belongs to one model shape; it is not safe for concurrent use.
type KVCache struct {
	B, Cap int
	K, V   [][]float32 // per layer [B, Cap, NKV, HS], keys after RoPE (and q/k norm)
	Mask   []int32     // [B, Cap]
	Len    []int       // [B] filled slots
	pos    []int32     // [B] real tokens so far: the next real token's position

	cfg  *Config
	rope ropeTable
	s    decodeScratch
}

// decodeScratch is ForwardCached's activations for N new tokens: one layer's
// worth, reused by every layer (nothing is kept for a backward pass).
type decodeScratch struct {
	n, outRows           int
	x, ln, q, k, v, y    []float32
	res2, ln2, fc, up    []float32
	mean, rstd, qr, kr   []float32
	last, lmean, lrstd   []float32 // final norm of the rows whose logits are returned
	logits               []float32
	pos, npos            []int32 // per token; per row after the call
	starts, rowIdx, outs []int
	seen                 []bool
}

// NewKVCache makes an empty cache for B sequences of up to capacity tokens
// (prompt, padding and generated tokens together).
func NewKVCache(cfg *Config, B, capacity int) (*KVCache, error) {
	if B <= 0 || capacity <= 0 {
		return nil, fmt.Errorf("kv cache: need positive rows and capacity, got %d x %d", B, capacity)
	}
	if cfg.SlidingWindow > 0 && capacity > cfg.SlidingWindow {
		return nil, fmt.Errorf("kv cache: capacity %d exceeds mistral sliding_window %d (not implemented)", capacity, cfg.SlidingWindow)
	}
	c := &KVCache{cfg: cfg, Cap: capacity}
	c.alloc(B)
	if cfg.Arch == ArchLlama {
		c.rope.ensure(capacity, cfg)
	}
	return c, nil
}

// Reuse empties the cache and reshapes it for B sequences of up to capacity
// tokens, keeping its memory when that is large enough. Generation calls it
// instead of NewKVCache so that successive batches do not each allocate (and
// page-fault in) a fresh cache of ~100 MB. It reports false, changing
// nothing, when the cache was made for another config.
func (c *KVCache) Reuse(cfg *Config, B, capacity int) (bool, error) {
	if B <= 0 || capacity <= 0 {
		return false, fmt.Errorf("kv cache: need positive rows and capacity, got %d x %d", B, capacity)
	}
	if cfg != c.cfg {
		return false, nil
	}
	if cfg.SlidingWindow > 0 && capacity > cfg.SlidingWindow {
		return false, fmt.Errorf("kv cache: capacity %d exceeds mistral sliding_window %d (not implemented)", capacity, cfg.SlidingWindow)
	}
	kv := cfg.KVHeads * cfg.HeadDim
	c.Cap = capacity
	if len(c.K) == 0 || cap(c.K[0]) < B*capacity*kv || cap(c.Mask) < B*capacity || cap(c.Len) < B {
		c.alloc(B)
	} else {
		c.B = B
		for l := range c.K {
			c.K[l] = c.K[l][:B*capacity*kv]
			c.V[l] = c.V[l][:B*capacity*kv]
		}
		c.Mask, c.Len, c.pos = c.Mask[:B*capacity], c.Len[:B], c.pos[:B]
		c.Reset()
	}
	if cfg.Arch == ArchLlama {
		c.rope.ensure(capacity, cfg)
	}
	return true, nil
}

func (c *KVCache) alloc(B int) {
	kv := c.cfg.KVHeads * c.cfg.HeadDim
	c.B = B
	c.K = make([][]float32, c.cfg.Layers)
	c.V = make([][]float32, c.cfg.Layers)
	for l := range c.K {
		c.K[l] = make([]float32, B*c.Cap*kv)
		c.V[l] = make([]float32, B*c.Cap*kv)
		hugepage.Advise(c.K[l])
		hugepage.Advise(c.V[l])
	}
	c.Mask = make([]int32, B*c.Cap)
	c.Len = make([]int, B)
	c.pos = make([]int32, B)
}

// Reset empties every row, keeping the memory.
func (c *KVCache) Reset() {
	clear(c.Mask)
	clear(c.Len)
	clear(c.pos)
}

// ResetRow empties row b alone, so a server can start a new sequence there
// while the other rows keep decoding (continuous batching).
func (c *KVCache) ResetRow(b int) error {
	if b < 0 || b >= c.B {
		return fmt.Errorf("kv cache reset: row %d out of range [0,%d)", b, c.B)
	}
	clear(c.Mask[b*c.Cap : (b+1)*c.Cap])
	c.Len[b], c.pos[b] = 0, 0
	return nil
}

// Select rebuilds the cache from rows of itself: new row i is old row rows[i].
// Rows may repeat (one prefilled prompt fanned out to several samples) or be
// dropped (finished sequences). Only filled slots are copied.
func (c *KVCache) Select(rows []int) error {
	kv := c.cfg.KVHeads * c.cfg.HeadDim
	inPlace := len(rows) <= c.B
	for i, r := range rows {
		if r < 0 || r >= c.B {
			return fmt.Errorf("kv cache select: row %d out of range [0,%d)", r, c.B)
		}
		if i > 0 && r <= rows[i-1] {
			inPlace = false
		}
	}
	if len(rows) == 0 {
		return fmt.Errorf("kv cache select: no rows")
	}
	old := *c
	if !inPlace {
		c.alloc(len(rows))
	} else {
		// rows is strictly increasing, so rows[i] >= i: copying in order never
		// overwrites a row still to be read.
		c.B = len(rows)
		for l := range c.K {
			c.K[l] = c.K[l][:c.B*c.Cap*kv]
			c.V[l] = c.V[l][:c.B*c.Cap*kv]
		}
		c.Mask, c.Len, c.pos = c.Mask[:c.B*c.Cap], c.Len[:c.B], c.pos[:c.B]
	}
	for i, r := range rows {
		n := old.Len[r]
		if inPlace && r == i {
			continue
		}
		for l := range c.K {
			copy(c.K[l][i*c.Cap*kv:][:n*kv], old.K[l][r*c.Cap*kv:][:n*kv])
			copy(c.V[l][i*c.Cap*kv:][:n*kv], old.V[l][r*c.Cap*kv:][:n*kv])
		}
		copy(c.Mask[i*c.Cap:(i+1)*c.Cap], old.Mask[r*c.Cap:(r+1)*c.Cap])
		c.Len[i], c.pos[i] = n, old.pos[r]
	}
	return nil
}

func grow(s *[]float32, n int) []float32 {
	if cap(*s) < n {
		*s = make([]float32, n)
	}
	return (*s)[:n]
}

func (s *decodeScratch) ensure(c *Config, N, outRows, R int) {
	C, Q, KV, F := c.Dim, c.Heads*c.HeadDim, c.KVHeads*c.HeadDim, c.FFN
	s.x, s.ln, s.y = grow(&s.x, N*C), grow(&s.ln, N*C), grow(&s.y, N*Q)
	s.q, s.k, s.v = grow(&s.q, N*Q), grow(&s.k, N*KV), grow(&s.v, N*KV)
	s.res2, s.ln2 = grow(&s.res2, N*C), grow(&s.ln2, N*C)
	s.fc = grow(&s.fc, N*F)
	if c.Arch == ArchLlama {
		s.up = grow(&s.up, N*F)
	}
	s.mean, s.rstd = grow(&s.mean, N), grow(&s.rstd, N)
	s.qr, s.kr = grow(&s.qr, N*c.Heads), grow(&s.kr, N*c.KVHeads)
	s.last, s.lmean, s.lrstd = grow(&s.last, outRows*C), grow(&s.lmean, outRows), grow(&s.lrstd, outRows)
	s.logits = grow(&s.logits, outRows*c.Vocab)
	if cap(s.pos) < N {
		s.pos = make([]int32, N)
	}
	s.pos = s.pos[:N]
	if cap(s.starts) < R {
		s.starts, s.rowIdx, s.npos = make([]int, R), make([]int, R), make([]int32, R)
	}
	s.starts, s.rowIdx, s.npos = s.starts[:R], s.rowIdx[:R], s.npos[:R]
	if cap(s.outs) < outRows {
		s.outs = make([]int, outRows)
	}
	s.outs = s.outs[:outRows]
}

// ForwardCached appends T tokens to each of the cache rows listed in rows
// (nil = every row, in order) and returns logits: [R, V] for each row's last
// new token, or [R*T, V] for all of them when all is true. ids and mask are
// [R, T] (mask nil = all real; 0 marks padding, which later tokens never
// attend to). Positions continue each row's count of real tokens, so a
// left-padded prompt sees the positions it would see alone.
//
// The logits are a view into the cache's scratch, valid until the next call.
func (m *Model) ForwardCached(c *KVCache, rows []int, ids, mask []int32, T int, all bool) ([]float32, error) {
	cfg := m.Cfg
	if c.cfg.Layers != cfg.Layers || c.cfg.KVHeads != cfg.KVHeads || c.cfg.HeadDim != cfg.HeadDim {
		return nil, fmt.Errorf("forward cached: cache shaped for another model")
	}
	R := c.B
	if rows != nil {
		R = len(rows)
	}
	if R == 0 || T <= 0 || len(ids) != R*T {
		return nil, fmt.Errorf("forward cached: %d ids for %d rows x %d tokens", len(ids), R, T)
	}
	if mask != nil && len(mask) != len(ids) {
		return nil, fmt.Errorf("forward cached: mask has %d entries, want %d", len(mask), len(ids))
	}
	for i, id := range ids {
		if id < 0 || int(id) >= cfg.Vocab {
			return nil, fmt.Errorf("forward cached: token id %d at position %d outside vocabulary [0,%d)", id, i, cfg.Vocab)
		}
	}
	N, outRows := R*T, R
	if all {
		outRows = N
	}
	s := &c.s
	s.ensure(cfg, N, outRows, R)
	if len(s.seen) < c.B {
		s.seen = make([]bool, c.B)
	}
	seen := s.seen[:c.B]
	clear(seen)
	for r := 0; r < R; r++ {
		b := r
		if rows != nil {
			b = rows[r]
		}
		if b < 0 || b >= c.B || seen[b] {
			return nil, fmt.Errorf("forward cached: row %d out of range [0,%d) or repeated", b, c.B)
		}
		seen[b] = true
		if c.Len[b]+T > c.Cap {
			return nil, fmt.Errorf("forward cached: row %d would hold %d tokens, cache capacity is %d", b, c.Len[b]+T, c.Cap)
		}
		s.rowIdx[r], s.starts[r] = b, c.Len[b]
		n := c.pos[b]
		for t := 0; t < T; t++ {
			i := r*T + t
			real := mask == nil || mask[i] != 0
			if real {
				n++
			}
			s.pos[i] = max(n-1, 0)
			if cfg.Arch == ArchGPT2 && int(s.pos[i]) >= cfg.MaxPos {
				return nil, fmt.Errorf("forward cached: row %d reaches position %d, n_positions is %d", b, s.pos[i], cfg.MaxPos)
			}
		}
		s.npos[r] = n
	}
	var w16 *bf16Weights
	if m.bf16 != nil {
		w16 = m.bf16
		defer w16.acquire(m)()
	}
	// Validated: from here on the cache changes.
	for r, b := range s.rowIdx {
		for t := 0; t < T; t++ {
			v := int32(1)
			if mask != nil && mask[r*T+t] == 0 {
				v = 0
			}
			c.Mask[b*c.Cap+c.Len[b]+t] = v
		}
	}
	m.cachedLayers(c, w16, ids, N, T)
	for r, b := range s.rowIdx {
		c.Len[b] += T
		c.pos[b] = s.npos[r]
	}

	C := cfg.Dim
	for o := range s.outs {
		src := o
		if !all {
			src = o*T + T - 1
		}
		copy(s.last[o*C:(o+1)*C], s.x[src*C:(src+1)*C])
	}
	m.norm(s.last, s.lmean, s.lrstd, s.last, m.W.NormFW, m.W.NormFB, outRows, C, float32(cfg.NormEps))
	var head []uint16
	if w16 != nil {
		head = w16.head
	}
	out := nn.DecodeOut{Out: s.logits, W: m.W.LMHead, W16: head, OC: cfg.Vocab}
	if q := m.headTable(); q != nil { // a compact head, read in its own dtype
		out = nn.DecodeOut{Out: s.logits, Q: q, OC: cfg.Vocab}
	}
	nn.LinearDecodeMany(s.last, outRows, C, out)
	return s.logits, nil
}

// cachedLayers runs the embeddings and every block for the N validated new
// tokens, writing their keys and values into the cache and leaving the last
// residual stream in s.x. The op order is Forward's, LoRA adapters included.
// w16, when not nil, holds bf16 copies of the Linear weights to read instead.
func (m *Model) cachedLayers(c *KVCache, w16 *bf16Weights, ids []int32, N, T int) {
	cfg, s, w := m.Cfg, &c.s, &m.W
	C, NH, NKV, HS, F := cfg.Dim, cfg.Heads, cfg.KVHeads, cfg.HeadDim, cfg.FFN
	Q, KV := NH*HS, NKV*HS
	eps := float32(cfg.NormEps)
	R := len(s.rowIdx)

	m.embed(s.x, ids, N)
	if cfg.Arch == ArchGPT2 {
		nn.EmbeddingForward(s.x, s.pos, w.Wpe, N, C, true)
	}
	for l := range w.Layers {
		lw := &w.Layers[l]
		var h bf16Layer
		if w16 != nil {
			h = w16.layers[l]
		}
		m.norm(s.ln, s.mean, s.rstd, s.x, lw.Norm1W, lw.Norm1B, N, C, eps)
		nn.LinearDecodeMany(s.ln, N, C, nn.DecodeOut{Out: s.q, W: lw.Wq, Q: m.qweight(l, modQ), W16: h.q, B: lw.Bq, OC: Q},
			nn.DecodeOut{Out: s.k, W: lw.Wk, Q: m.qweight(l, modK), W16: h.k, B: lw.Bk, OC: KV}, nn.DecodeOut{Out: s.v, W: lw.Wv, Q: m.qweight(l, modV), W16: h.v, B: lw.Bv, OC: KV})
		m.loraAddInference(l, modQ, s.q, s.ln, N, C, Q)
		m.loraAddInference(l, modK, s.k, s.ln, N, C, KV)
		m.loraAddInference(l, modV, s.v, s.ln, N, C, KV)
		if cfg.QKNorm {
			nn.RMSNormForward(s.q, s.qr, s.q, lw.QNorm, N*NH, HS, eps)
			nn.RMSNormForward(s.k, s.kr, s.k, lw.KNorm, N*NKV, HS, eps)
		}
		if cfg.Arch == ArchLlama {
			nn.RopeForward(s.q, s.pos, c.rope.cos, c.rope.sin, N, NH, HS)
			nn.RopeForward(s.k, s.pos, c.rope.cos, c.rope.sin, N, NKV, HS)
		}
		kc, vc := c.K[l], c.V[l]
		// Split across goroutines: at batch 64 the copies were ~2% of a
		// step on one core while the other waited.
		tensor.ParallelFor(R, max(1, copyGrain/(T*KV)), func(lo, hi int) {
			for r := lo; r < hi; r++ {
				dst := (s.rowIdx[r]*c.Cap + s.starts[r]) * KV
				copy(kc[dst:dst+T*KV], s.k[r*T*KV:(r+1)*T*KV])
				copy(vc[dst:dst+T*KV], s.v[r*T*KV:(r+1)*T*KV])
			}
		})
		nn.AttentionCached(s.y, s.q, kc, vc, c.Mask, s.rowIdx, s.starts, R, T, c.Cap, NH, NKV, HS)
		nn.LinearDecodeMany(s.y, N, Q, nn.DecodeOut{Out: s.res2, W: lw.Wo, Q: m.qweight(l, modO), W16: h.o, B: lw.Bo, OC: C})
		m.loraAddInference(l, modO, s.res2, s.y, N, Q, C)
		addInto(s.res2, s.x)
		m.norm(s.ln2, s.mean, s.rstd, s.res2, lw.Norm2W, lw.Norm2B, N, C, eps)
		fc := s.fc[:N*F]
		if cfg.Arch == ArchGPT2 {
			nn.LinearDecodeMany(s.ln2, N, C, nn.DecodeOut{Out: fc, W: lw.Wfc, Q: m.qweight(l, modFC), W16: h.fc, B: lw.Bfc, OC: F})
			m.loraAddInference(l, modFC, fc, s.ln2, N, C, F)
			nn.GeluForward(fc, fc)
		} else {
			nn.LinearDecodeMany(s.ln2, N, C, nn.DecodeOut{Out: fc, W: lw.Wgate, Q: m.qweight(l, modGate), W16: h.gate, B: lw.Bgate, OC: F},
				nn.DecodeOut{Out: s.up[:N*F], W: lw.Wup, Q: m.qweight(l, modUp), W16: h.up, B: lw.Bup, OC: F})
			m.loraAddInference(l, modGate, fc, s.ln2, N, C, F)
			m.loraAddInference(l, modUp, s.up[:N*F], s.ln2, N, C, F)
			nn.SwiGLUForward(fc, fc, s.up[:N*F])
		}
		nn.LinearDecodeMany(fc, N, F, nn.DecodeOut{Out: s.x, W: lw.Wdown, Q: m.qweight(l, modDown), W16: h.down, B: lw.Bdown, OC: C})
		m.loraAddInference(l, modDown, s.x, fc, N, F, C)
		addInto(s.x, s.res2)
	}
}
