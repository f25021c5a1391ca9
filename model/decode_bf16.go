package model

import (
	"fmt"
	"strings"
	"sync"

	"github.com/align-go/align/internal/hugepage"
	"github.com/align-go/align/tensor"
)

// Decoding (ForwardCached) can read its Linear weights from a bfloat16 copy
// instead of the f32 parameters: a decode step streams every weight from
// memory, so half the bytes is nearly half the time (see BENCHMARKS.md).
// Sums stay f32, embeddings, norms, biases and LoRA adapters stay f32, and
// training never sees the copy. Prefill rows above nn.DecodeMaxRowsBF16 use
// the f32 weights through the blocked GEMM.

// bf16Weights is the bf16 copy of every Linear weight (nil where the
// architecture has none), each the same [out,in] layout as its f32 tensor.
type bf16Weights struct {
	mu     sync.RWMutex // ForwardCached reads under RLock; a refresh writes
	layers []bf16Layer
	head   []uint16
}

type bf16Layer struct{ q, k, v, o, fc, gate, up, down []uint16 }

// SetDecodeDType chooses the weights ForwardCached (generation) reads: "f32"
// (the parameters; the default) or "bf16" (a copy rounded to bfloat16, made
// now; f32 accumulation). Case does not matter; "float32" and "bfloat16" are
// accepted too. Setting "bf16" again re-converts the current weights.
//
// The copy follows the parameters: each ForwardCached call compares a sample
// of every tensor with its copy and re-converts when they differ, so an RL
// loop that generates between optimizer steps decodes the current policy.
// Changes smaller than bf16 resolution at every sampled element go unseen
// until they add up; call SetDecodeDType("bf16") after changing the weights
// to be exact. Not safe to call concurrently with ForwardCached.
func (m *Model) SetDecodeDType(dtype string) error {
	d, err := ParseDecodeDType(dtype)
	if err != nil {
		return err
	}
	if d == "f32" {
		m.bf16 = nil
		return nil
	}
	if m.bf16 == nil {
		m.bf16 = &bf16Weights{}
	}
	m.bf16.convert(m)
	return nil
}

// ParseDecodeDType normalises a decode dtype name (a --dtype flag, checked
// before a model loads) to "f32" or "bf16".
func ParseDecodeDType(dtype string) (string, error) {
	switch strings.ToLower(dtype) {
	case "f32", "float32", "fp32":
		return "f32", nil
	case "bf16", "bfloat16":
		return "bf16", nil
	}
	return "", fmt.Errorf("decode dtype %q: want f32 or bf16", dtype)
}

// DecodeDType reports the weights ForwardCached reads: "f32" or "bf16".
func (m *Model) DecodeDType() string {
	if m.bf16 != nil {
		return "bf16"
	}
	return "f32"
}

// pairs lists every (f32 tensor, bf16 copy) of the model, allocating copies
// of the right sizes when missing.
func (w *bf16Weights) pairs(m *Model) (f32 [][]float32, b16 []*[]uint16) {
	if len(w.layers) != len(m.W.Layers) {
		w.layers = make([]bf16Layer, len(m.W.Layers))
	}
	add := func(src []float32, dst *[]uint16) {
		if src == nil {
			*dst = nil
			return
		}
		if len(*dst) != len(src) {
			*dst = make([]uint16, len(src))
			hugepage.Advise(*dst)
		}
		f32, b16 = append(f32, src), append(b16, dst)
	}
	for l := range m.W.Layers {
		s, d := &m.W.Layers[l], &w.layers[l]
		add(s.Wq, &d.q)
		add(s.Wk, &d.k)
		add(s.Wv, &d.v)
		add(s.Wo, &d.o)
		add(s.Wfc, &d.fc)
		add(s.Wgate, &d.gate)
		add(s.Wup, &d.up)
		add(s.Wdown, &d.down)
	}
	add(m.W.LMHead, &w.head)
	return f32, b16
}

// convert rounds every weight into its copy, in parallel chunks.
func (w *bf16Weights) convert(m *Model) {
	f32, b16 := w.pairs(m)
	const chunk = 1 << 16
	type piece struct{ t, lo int }
	var ps []piece
	for t, src := range f32 {
		for lo := 0; lo < len(src); lo += chunk {
			ps = append(ps, piece{t, lo})
		}
	}
	tensor.ParallelFor(len(ps), 1, func(a, b int) {
		for _, p := range ps[a:b] {
			hi := min(p.lo+chunk, len(f32[p.t]))
			tensor.ToBF16((*b16[p.t])[p.lo:hi], f32[p.t][p.lo:hi])
		}
	})
}

// staleSamples is how many elements of each tensor fresh checks.
const staleSamples = 16

// fresh reports whether sampled elements of every tensor still round to
// their copies (a few thousand reads: nothing next to a decode step).
func (w *bf16Weights) fresh(m *Model) bool {
	i := 0
	ok := true
	check := func(src []float32, dst []uint16) {
		if src == nil || !ok {
			return
		}
		if len(dst) != len(src) {
			ok = false
			return
		}
		// A stride coprime to most tensor shapes, offset per tensor, so the
		// samples land in different rows and columns.
		step := max(1, len(src)/staleSamples)
		for j := (i * 7919) % step; j < len(src); j += step {
			if tensor.RoundBF16(src[j]) != dst[j] {
				ok = false
				return
			}
		}
		i++
	}
	for l := range m.W.Layers {
		s, d := &m.W.Layers[l], &w.layers[l]
		check(s.Wq, d.q)
		check(s.Wk, d.k)
		check(s.Wv, d.v)
		check(s.Wo, d.o)
		check(s.Wfc, d.fc)
		check(s.Wgate, d.gate)
		check(s.Wup, d.up)
		check(s.Wdown, d.down)
	}
	check(m.W.LMHead, w.head)
	return ok && len(w.layers) == len(m.W.Layers)
}

// acquire read-locks the copy for one ForwardCached call, re-converting it
// first if the parameters moved; the caller runs release when done.
func (w *bf16Weights) acquire(m *Model) (release func()) {
	w.mu.RLock()
	if w.fresh(m) {
		return w.mu.RUnlock
	}
	w.mu.RUnlock()
	w.mu.Lock()
	if !w.fresh(m) {
		w.convert(m)
	}
	w.mu.Unlock()
	w.mu.RLock()
	return w.mu.RUnlock
}
