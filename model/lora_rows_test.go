package model

import (
	"strings"
	"testing"
)

// rowSetsModel is a tiny model with two adapter sets of different ranks and
// targets, their B matrices random so that each changes the output.
func rowSetsModel(t testing.TB, mt string) (*Model, *LoRA, *LoRA) {
	m := New(tinyConfig(mt))
	m.InitRandom(4)
	cfgB := LoRAConfig{R: 3, Alpha: 3, Targets: []string{"all-linear"}}
	if mt != "gpt2" {
		cfgB.Targets = []string{"q_proj", "v_proj", "down_proj"}
	}
	if err := m.AttachLoRASet("a", LoRAConfig{R: 2, Alpha: 4, Targets: []string{"all-linear"}}, 1); err != nil {
		t.Fatal(err)
	}
	if err := m.AttachLoRASet("b", cfgB, 2); err != nil {
		t.Fatal(err)
	}
	randomizeSetB(m.LoRASet("a"), 5)
	randomizeSetB(m.LoRASet("b"), 6)
	return m, m.LoRASet("a"), m.LoRASet("b")
}

// TestForwardCachedSetsMatchAlone: rows of the base model and of two adapter
// sets prefilled and decoded together in one pass each give bitwise the
// logits of each row run alone on a one-row cache with only its set
// selected (the path generation has always taken), runs of one set split
// apart included, and within 1e-5 the training forward pass's; and the
// selection is left as it was.
func TestForwardCachedSetsMatchAlone(t *testing.T) {
	for _, mt := range []string{"gpt2", "llama", "qwen3"} {
		t.Run(mt, func(t *testing.T) {
			m, a, b := rowSetsModel(t, mt)
			sets := []*LoRA{nil, a, a, b, nil, a}
			names := []string{"", "a", "a", "b", "", "a"}
			R, T, steps := len(sets), 3, 4
			V := m.Cfg.Vocab
			tok := func(r, i int) int32 { return int32((r*7 + i*3 + 1) % V) }
			// ids[s] are step s's tokens: the prompt at s = 0, one token after.
			ids := make([][]int32, steps)
			for s := range ids {
				n := 1
				if s == 0 {
					n = T
				}
				for r := 0; r < R; r++ {
					for i := 0; i < n; i++ {
						ids[s] = append(ids[s], tok(r, s*T+i))
					}
				}
			}
			if err := m.UseLoRA("b"); err != nil {
				t.Fatal(err)
			}
			c, err := NewKVCache(m.Cfg, R, 16)
			if err != nil {
				t.Fatal(err)
			}
			got := make([][]float32, steps)
			for s := range ids {
				lg, err := m.ForwardCachedSets(c, nil, sets, ids[s], nil, len(ids[s])/R, s == 0)
				if err != nil {
					t.Fatal(err)
				}
				got[s] = append([]float32(nil), lg...)
			}
			if m.LoRA() != b || m.curLoRA() != b {
				t.Fatal("ForwardCachedSets changed the selected set")
			}
			perRow := map[string][]float32{}
			for r := 0; r < R; r++ {
				if err := m.UseLoRA(names[r]); err != nil {
					t.Fatal(err)
				}
				c1, err := NewKVCache(m.Cfg, 1, 16)
				if err != nil {
					t.Fatal(err)
				}
				for s := range ids {
					n := len(ids[s]) / R
					want, err := m.ForwardCached(c1, nil, ids[s][r*n:(r+1)*n], nil, n, s == 0)
					if err != nil {
						t.Fatal(err)
					}
					rows := 1
					if s == 0 {
						rows = T
					}
					g := got[s][r*rows*V : (r+1)*rows*V]
					if d := loraDiff(want, g); d != 0 {
						t.Fatalf("row %d (set %q) step %d: differs from the row alone by %g", r, names[r], s, d)
					}
					if s == 0 {
						// The training pass (blocked GEMMs, the adapter term
						// kept for backward) is an independent reference.
						ref := logitsOf(t, m, Batch{B: 1, T: T, IDs: ids[0][r*T : (r+1)*T]})
						if d := loraDiff(ref, g); d > 1e-5 {
							t.Fatalf("row %d (set %q): prefill logits differ from Forward's by %g", r, names[r], d)
						}
					}
					if s == steps-1 {
						perRow[names[r]] = g
					}
				}
			}
			if loraDiff(perRow[""], perRow["a"]) < 1e-4 || loraDiff(perRow["a"], perRow["b"]) < 1e-4 {
				t.Fatal("the sets change nothing")
			}
		})
	}
}

// TestForwardCachedSetsDetachedAndErrors: a set detached from the model
// still computes what it did (a server finishing the streams of an unloaded
// adapter), a set of another model and a wrong count are refused.
func TestForwardCachedSetsDetachedAndErrors(t *testing.T) {
	m, a, _ := rowSetsModel(t, "llama")
	ids := []int32{3, 4, 5}
	run := func(sets []*LoRA) []float32 {
		t.Helper()
		c, err := NewKVCache(m.Cfg, 1, 8)
		if err != nil {
			t.Fatal(err)
		}
		lg, err := m.ForwardCachedSets(c, nil, sets, ids, nil, 3, false)
		if err != nil {
			t.Fatal(err)
		}
		return append([]float32(nil), lg...)
	}
	before, base := run([]*LoRA{a}), run([]*LoRA{nil})
	if err := m.DetachLoRASet("a"); err != nil {
		t.Fatal(err)
	}
	if err := m.DetachLoRASet("b"); err != nil {
		t.Fatal(err)
	}
	if d := loraDiff(before, run([]*LoRA{a})); d != 0 {
		t.Fatalf("the detached set computes differently by %g", d)
	}
	if d := loraDiff(base, run([]*LoRA{nil})); d != 0 {
		t.Fatalf("the base changed by %g", d)
	}
	other, oa, _ := rowSetsModel(t, "llama")
	_ = other
	c, _ := NewKVCache(m.Cfg, 2, 8)
	if _, err := m.ForwardCachedSets(c, nil, []*LoRA{oa, nil}, []int32{1, 2}, nil, 1, false); err == nil || !strings.Contains(err.Error(), "another model") {
		t.Fatalf("a set of another model: %v", err)
	}
	if _, err := m.ForwardCachedSets(c, nil, []*LoRA{nil}, []int32{1, 2}, nil, 1, false); err == nil || !strings.Contains(err.Error(), "1 adapter sets for 2 rows") {
		t.Fatalf("one set for two rows: %v", err)
	}
}
