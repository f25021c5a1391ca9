package train

import (
	"reflect"
	"sort"
	"testing"
)

func TestEpochPlan(t *testing.T) {
	n := 1003
	lengths := make([]int, n)
	for i := range lengths {
		lengths[i] = 1 + (i*7919)%509
	}
	padded := func(p *plan) (pad int) {
		for _, st := range p.steps {
			for _, mb := range st {
				m := 0
				for _, i := range mb {
					m = max(m, lengths[i])
				}
				for _, i := range mb {
					pad += m - lengths[i]
				}
			}
		}
		return pad
	}
	for _, group := range []bool{false, true} {
		batch, accum := 4, 3
		p := epochPlan(lengths, batch, accum, 42, 0, group)
		if len(p.steps) != stepsPerEpoch(n, batch, accum) {
			t.Fatalf("group %v: %d steps, want %d", group, len(p.steps), stepsPerEpoch(n, batch, accum))
		}
		var all []int
		for s, st := range p.steps {
			if len(st) != accum && s != len(p.steps)-1 {
				t.Fatalf("step %d has %d micro-batches", s, len(st))
			}
			for _, mb := range st {
				if len(mb) > batch || len(mb) == 0 {
					t.Fatalf("micro-batch of %d", len(mb))
				}
				all = append(all, mb...)
			}
		}
		sort.Ints(all)
		for i, v := range all {
			if v != i {
				t.Fatalf("group %v: epoch does not visit every example once", group)
			}
		}
		if q := epochPlan(lengths, batch, accum, 42, 0, group); !reflect.DeepEqual(p, q) {
			t.Fatal("plan not deterministic")
		}
		if q := epochPlan(lengths, batch, accum, 42, 1, group); reflect.DeepEqual(p.steps, q.steps) {
			t.Fatal("epochs 0 and 1 have the same order")
		}
		if q := epochPlan(lengths, batch, accum, 43, 0, group); reflect.DeepEqual(p.steps, q.steps) {
			t.Fatal("seeds 42 and 43 have the same order")
		}
	}
	// Bucketing must cut padding substantially (random batches of lengths
	// uniform in [1,509] pad ~40%; sorted windows of 600 pad ~1%).
	plain, grouped := padded(epochPlan(lengths, 4, 3, 42, 0, false)), padded(epochPlan(lengths, 4, 3, 42, 0, true))
	if grouped*10 > plain {
		t.Fatalf("grouped padding %d vs ungrouped %d", grouped, plain)
	}
	// Grouped micro-batches are shuffled: step order does not follow length.
	p := epochPlan(lengths, 4, 1, 42, 0, true)
	desc := 0
	for s := 1; s < len(p.steps); s++ {
		if lengths[p.steps[s][0][0]] <= lengths[p.steps[s-1][0][0]] {
			desc++
		}
	}
	if desc > len(p.steps)*3/4 {
		t.Fatalf("%d of %d consecutive steps are in descending length: not shuffled", desc, len(p.steps))
	}
}
