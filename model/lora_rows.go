package model

import "fmt"

// Several adapters in one pass (the S-LoRA / Punica idea): a server decoding
// rows of different LoRA adapters on one base runs the base Linears once over
// every row — the weights stream from memory once per step, which is what a
// decode step costs — and adds each row's own low-rank term, x·Aᵀ·Bᵀ·α/r,
// with the rows of one set taken together as one small product. A row's
// result does not depend on which other rows share the pass: the base
// products are row-independent at decode sizes (nn.LinearDecode) and each
// set's term is computed over its own rows, as a pass with only that set
// would.

// ForwardCachedSets is ForwardCached with each row under its own adapter set:
// sets[r] is the set row r (rows[r], or r when rows is nil) uses, nil for the
// base model. Rows of one set are best placed next to each other: each run
// of equal consecutive sets is one product per Linear. A set may be one
// detached since (DetachLoRASet): its weights stay valid while it is held,
// so a server can finish the sequences that use an adapter it has unloaded.
// The selection of UseLoRA is ignored (and left as it was).
func (m *Model) ForwardCachedSets(c *KVCache, rows []int, sets []*LoRA, ids, mask []int32, T int, all bool) ([]float32, error) {
	R := c.B
	if rows != nil {
		R = len(rows)
	}
	if len(sets) != R {
		return nil, fmt.Errorf("forward cached: %d adapter sets for %d rows", len(sets), R)
	}
	adapted := false
	for r, lo := range sets {
		if lo == nil {
			continue
		}
		if lo.owner != m {
			return nil, fmt.Errorf("forward cached: row %d's adapter set %q belongs to another model", r, lo.Name)
		}
		adapted = true
	}
	if !adapted {
		// No adapter at all: the plain pass, without the per-run bookkeeping.
		off := m.loraOff
		m.loraOff = true
		defer func() { m.loraOff = off }()
		return m.ForwardCached(c, rows, ids, mask, T, all)
	}
	m.rowSets, m.rowT = sets, T
	defer func() { m.rowSets, m.rowT = nil, 0 }()
	return m.ForwardCached(c, rows, ids, mask, T, all)
}

// loraAddRows adds, for each run of consecutive rows under one set, that
// set's term for linear (l, mod) to those rows of out (rows are rowT tokens
// each, in the order of ForwardCachedSets' rows).
func (m *Model) loraAddRows(l, mod int, out, inp []float32, IC, OC int) {
	sets, T := m.rowSets, m.rowT
	for r0 := 0; r0 < len(sets); {
		r1 := r0 + 1
		for r1 < len(sets) && sets[r1] == sets[r0] {
			r1++
		}
		if lo := sets[r0]; lo != nil {
			lo.addInference(l, mod, out[r0*T*OC:r1*T*OC], inp[r0*T*IC:r1*T*IC], (r1-r0)*T, IC, OC)
		}
		r0 = r1
	}
}
