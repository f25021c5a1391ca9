package model

import (
	"strings"
	"testing"
	"time"
)

// rowSetsModel is a tiny model with two adapter sets of different ranks and
// targets, their B matrices random so that each changes the output. dtype
// "bf16" decodes from bf16 weights (SetDecodeDType); "int8" and "nf4" load
// the Linear weights compact (LoadDirOpts).
func rowSetsModel(t testing.TB, mt, dtype string) (*Model, *LoRA, *LoRA) {
	m := New(tinyConfig(mt))
	m.InitRandom(4)
	switch dtype {
	case "bf16":
		if err := m.SetDecodeDType("bf16"); err != nil {
			t.Fatal(err)
		}
	case "int8", "nf4":
		dir := t.TempDir()
		if err := m.SaveDir(dir, "F32"); err != nil {
			t.Fatal(err)
		}
		var err error
		if m, _, err = LoadDirOpts(dir, LoadOptions{WeightDType: dtype}); err != nil {
			t.Fatal(err)
		}
	}
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
	for _, v := range []struct{ mt, dtype string }{{"gpt2", ""}, {"llama", ""}, {"qwen3", ""}, {"qwen3", "bf16"}, {"llama", "int8"}, {"llama", "nf4"}} {
		t.Run(v.mt+v.dtype, func(t *testing.T) {
			m, a, b := rowSetsModel(t, v.mt, v.dtype)
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
					if s == 0 && v.dtype != "bf16" { // bf16 decoding: other weights than Forward's
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
	m, a, _ := rowSetsModel(t, "llama", "")
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
	other, oa, _ := rowSetsModel(t, "llama", "")
	_ = other
	c, _ := NewKVCache(m.Cfg, 2, 8)
	if _, err := m.ForwardCachedSets(c, nil, []*LoRA{oa, nil}, []int32{1, 2}, nil, 1, false); err == nil || !strings.Contains(err.Error(), "another model") {
		t.Fatalf("a set of another model: %v", err)
	}
	if _, err := m.ForwardCachedSets(c, nil, []*LoRA{nil}, []int32{1, 2}, nil, 1, false); err == nil || !strings.Contains(err.Error(), "1 adapter sets for 2 rows") {
		t.Fatalf("one set for two rows: %v", err)
	}
}

// BenchmarkMixedAdapterDecode times one decode step of 8 rows on a small
// Llama-shaped model (hidden 256, 4 layers, vocab 8192) with rank-16
// adapters on every Linear: "base" with no adapter, "one-adapter" with every
// row under one adapter, "one-pass" with rows of the base and of four
// adapters (2,2,1,1,2 rows) in one ForwardCachedSets pass, "per-adapter" with
// the same rows as one ForwardCached pass per set (what the engine did
// before). "one-pass" should cost about "one-adapter", "per-adapter" several
// times more; "ratios" reports those ratios measured side by side:
//
//	go test ./model/ -run '^$' -bench MixedAdapterDecode -benchtime 200x
func BenchmarkMixedAdapterDecode(b *testing.B) {
	cfg, err := ParseConfig(map[string]any{"model_type": "llama", "vocab_size": 8192.0, "hidden_size": 256.0,
		"num_hidden_layers": 4.0, "num_attention_heads": 8.0, "num_key_value_heads": 4.0,
		"intermediate_size": 688.0, "max_position_embeddings": 1024.0})
	if err != nil {
		b.Fatal(err)
	}
	m := New(cfg)
	m.InitRandom(1)
	names := []string{"a", "b", "c", "d"}
	for i, n := range names {
		if err := m.AttachLoRASet(n, LoRAConfig{R: 16, Alpha: 32, Targets: []string{"all-linear"}}, uint64(i)); err != nil {
			b.Fatal(err)
		}
		randomizeSetB(m.LoRASet(n), uint64(10+i))
	}
	set := func(n string) *LoRA { return m.LoRASet(n) }
	rowNames := []string{"", "", "a", "a", "b", "c", "d", "d"}
	mixed := make([]*LoRA, len(rowNames))
	for r, n := range rowNames {
		if n != "" {
			mixed[r] = set(n)
		}
	}
	const R, prompt = 8, 16
	c, err := NewKVCache(cfg, R, 1024)
	if err != nil {
		b.Fatal(err)
	}
	ids := make([]int32, R*prompt)
	for i := range ids {
		ids[i] = int32((i*7919 + 13) % cfg.Vocab)
	}
	next := make([]int32, R)
	for i := range next {
		next[i] = int32(i + 1)
	}
	groups := map[string][]int{}
	var order []string
	for r, n := range rowNames {
		if groups[n] == nil {
			order = append(order, n)
		}
		groups[n] = append(groups[n], r)
	}
	modes := []string{"base", "one-adapter", "one-pass", "per-adapter"}
	setsOf := func(mode string) []*LoRA {
		sets := make([]*LoRA, R)
		switch mode {
		case "one-adapter":
			for r := range sets {
				sets[r] = set("a")
			}
		case "one-pass", "per-adapter":
			sets = mixed
		}
		return sets
	}
	// step decodes one token in every row of c as mode does, prefilling
	// the rows again once the cache is full.
	step := func(c *KVCache, mode string) {
		sets := setsOf(mode)
		if c.Len[0] == 0 || c.Len[0] == c.Cap {
			c.Reset()
			if _, err := m.ForwardCachedSets(c, nil, sets, ids, nil, prompt, false); err != nil {
				b.Fatal(err)
			}
		}
		if mode != "per-adapter" {
			if _, err := m.ForwardCachedSets(c, nil, sets, next, nil, 1, false); err != nil {
				b.Fatal(err)
			}
			return
		}
		for _, n := range order {
			if err := m.UseLoRA(n); err != nil {
				b.Fatal(err)
			}
			rows := groups[n]
			if _, err := m.ForwardCached(c, rows, next[:len(rows)], nil, 1, false); err != nil {
				b.Fatal(err)
			}
		}
	}
	for _, mode := range modes {
		b.Run(mode, func(b *testing.B) {
			c.Reset()
			step(c, mode)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				step(c, mode)
			}
		})
	}
	// "ratios" runs the modes in turn within each iteration, each on a
	// cache of its own, and reports each mode's time over one-adapter's:
	// on a busy machine the load then weighs on all of them alike.
	b.Run("ratios", func(b *testing.B) {
		caches := make([]*KVCache, len(modes))
		for k := range caches {
			if caches[k], err = NewKVCache(cfg, R, 1024); err != nil {
				b.Fatal(err)
			}
			step(caches[k], modes[k])
		}
		spent := make([]time.Duration, len(modes))
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			for k, mode := range modes {
				t0 := time.Now()
				step(caches[k], mode)
				spent[k] += time.Since(t0)
			}
		}
		for k, mode := range modes {
			if mode != "one-adapter" {
				b.ReportMetric(float64(spent[k])/float64(spent[1]), mode+"/one-adapter")
			}
		}
	})
}

// A set whose gradient buffer was dropped (a server's adapter) gets it back
// at the next Backward, with the gradients of a set that never dropped it.
func TestLoRADropGrad(t *testing.T) {
	base := New(tinyConfig("llama"))
	base.InitRandom(4)
	grad := func(drop bool) []float32 {
		m := base.Clone()
		if err := m.AttachLoRA(LoRAConfig{R: 2, Alpha: 4, Targets: []string{"all-linear"}}, 1); err != nil {
			t.Fatal(err)
		}
		lo := m.LoRA()
		randomizeSetB(lo, 5)
		if drop {
			lo.DropGrad()
			if lo.Grad != nil {
				t.Fatal("DropGrad kept the buffer")
			}
		}
		lg, _, err := m.Forward(Batch{B: 1, T: 4, IDs: []int32{1, 2, 3, 4}}, true)
		if err != nil {
			t.Fatal(err)
		}
		dl := make([]float32, len(lg))
		for i := range dl {
			dl[i] = float32(i%7) - 3
		}
		if err := m.Backward(dl, nil); err != nil {
			t.Fatal(err)
		}
		return lo.Grad
	}
	want, got := grad(false), grad(true)
	if loraDiff(want, make([]float32, len(want))) == 0 || len(got) != len(want) || loraDiff(want, got) != 0 {
		t.Fatal("the gradients after DropGrad differ")
	}
}
