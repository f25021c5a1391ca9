package engine

import (
	"cmp"
	"slices"

	"github.com/align-go/align/generate"
	"github.com/align-go/align/model"
	"github.com/align-go/align/nn"
)

// One forward pass serves rows of any mix of adapters (adapter.go). Within a
// pass the rows are ordered by adapter set, so each set's low-rank term is
// one small product over its rows (the S-LoRA / Punica grouping), and the
// base weights stream from memory once for all of them.
//
// A row's logits do not depend on the other rows of its pass: the decode
// kernels are row-independent up to nn.DecodeMaxRows rows (model.
// ForwardCachedSets), so a request gets bitwise the output it gets alone,
// whoever shares its steps, while MaxBatch is at most that (32; the default
// is 8). Wider passes take the blocked products, whose last bits depend on
// the row count, adapters or not.

// prefillAdmitted prefills the jobs admitted into slots this round and
// samples their first tokens. A job with the same prompt and adapter as
// another admitted with it (the n choices of one request) takes a copy of
// that job's cache row instead of a prefill of its own. Prompts of one
// length are prefilled together, as many per pass as keep the pass within
// nn.DecodeMaxRows tokens (where a row's result is still independent of the
// others); longer prompts, or lengths seen once, go alone. Rows hold no
// padding either way, so the context check of Submit is exact.
func (e *Engine) prefillAdmitted(cache *model.KVCache, slots []*slot) {
	var fresh []int
	for b, s := range slots {
		if s == nil || s.rng != nil {
			continue
		}
		r := &s.job.req
		s.rng = generate.NewRand(r.Seed, r.Stream)
		s.sampler = generate.Sampler{Sampling: r.Sampling}
		if err := s.job.ctx.Err(); err != nil {
			e.finishErr(s.job, err)
			slots[b] = nil
			continue
		}
		fresh = append(fresh, b)
	}
	// copies[b]: the rows that copy row b once it is prefilled.
	copies := map[int][]int{}
	uniq := fresh[:0]
	for _, b := range fresh {
		j, dup := slots[b].job, false
		for _, u := range uniq {
			if ju := slots[u].job; ju.lora == j.lora && slices.Equal(ju.req.Prompt, j.req.Prompt) {
				copies[u], dup = append(copies[u], b), true
				break
			}
		}
		if !dup {
			uniq = append(uniq, b)
		}
	}
	fresh = uniq
	plen := func(b int) int { return len(slots[b].job.req.Prompt) }
	slices.SortStableFunc(fresh, func(x, y int) int {
		return cmp.Or(cmp.Compare(plen(x), plen(y)), compareSets(slots[x].job.lora, slots[y].job.lora))
	})
	for len(fresh) > 0 {
		T := plen(fresh[0])
		n := 1
		for n < len(fresh) && plen(fresh[n]) == T && (n+1)*T <= nn.DecodeMaxRows {
			n++
		}
		e.prefillRows(cache, slots, fresh[:n], T, copies)
		fresh = fresh[n:]
	}
}

// prefillRows prefills the rows (prompts of T tokens each) in one pass, then
// copies each into the rows copies names for it.
func (e *Engine) prefillRows(cache *model.KVCache, slots []*slot, rows []int, T int, copies map[int][]int) {
	ids := make([]int32, 0, len(rows)*T)
	sets := make([]*model.LoRA, len(rows))
	for k, b := range rows {
		ids = append(ids, slots[b].job.req.Prompt...)
		sets[k] = slots[b].job.lora
	}
	var lg []float32
	var err error
	for _, b := range rows {
		if err = cache.ResetRow(b); err != nil {
			break
		}
	}
	if err == nil {
		lg, err = e.Model.ForwardCachedSets(cache, rows, sets, ids, nil, T, false)
		e.prefilled.Add(int64(len(ids)))
	}
	V := e.Model.Cfg.Vocab
	for k, b := range rows {
		for _, d := range append(copies[b], b) {
			cerr := err
			if cerr == nil && d != b {
				cerr = cache.CopyRow(d, b)
			}
			if cerr != nil {
				e.finishErr(slots[d].job, cerr)
				slots[d] = nil
				continue
			}
			row := lg[k*V : (k+1)*V]
			if d != b {
				row = slices.Clone(row) // each sampler has the logits to itself
			}
			e.step(slots[d], row)
		}
	}
}

// PrefillTokens is the number of prompt tokens run through the model so far;
// a prompt shared by several sequences admitted together counts once.
func (e *Engine) PrefillTokens() int64 { return e.prefilled.Load() }

// decode advances the active rows one token in one forward pass. It orders
// active (and ids with it) by adapter set in place; the logits follow that
// order.
func (e *Engine) decode(cache *model.KVCache, slots []*slot, active []int, ids []int32) ([]float32, error) {
	perm := make([]int, len(active))
	for k := range perm {
		perm[k] = k
	}
	slices.SortStableFunc(perm, func(x, y int) int {
		return compareSets(slots[active[x]].job.lora, slots[active[y]].job.lora)
	})
	rows := make([]int, len(active))
	rowIDs := make([]int32, len(active))
	sets := make([]*model.LoRA, len(active))
	for k, p := range perm {
		rows[k], rowIDs[k], sets[k] = active[p], ids[p], slots[active[p]].job.lora
	}
	copy(active, rows)
	copy(ids, rowIDs)
	return e.Model.ForwardCachedSets(cache, active, sets, ids, nil, 1, false)
}

// compareSets orders adapter sets for grouping: the base model first, then
// by name. An unloaded set and its successor under the same name compare
// equal, which costs at most an extra run, never a wrong result: runs are
// cut where the set itself changes.
func compareSets(a, b *model.LoRA) int {
	switch {
	case a == b:
		return 0
	case a == nil:
		return -1
	case b == nil:
		return 1
	}
	return cmp.Compare(a.Name, b.Name)
}
