package model

import (
	"fmt"
	"math"
	"testing"
)

// cacheConfig is tinyConfig's shape, or a wider one (head size 16, dims that
// are multiples of 16) so the assembly decode tiles run too.
func cacheConfig(mt string, wide bool) *Config {
	if !wide {
		return tinyConfig(mt)
	}
	raw := map[string]any{"model_type": mt, "vocab_size": 70.0, "n_embd": 64.0, "n_layer": 2.0, "n_head": 4.0,
		"n_positions": 40.0, "hidden_size": 64.0, "num_hidden_layers": 2.0, "num_attention_heads": 4.0,
		"num_key_value_heads": 2.0, "intermediate_size": 96.0, "max_position_embeddings": 64.0,
		"tie_word_embeddings": mt == "qwen2"}
	c, err := ParseConfig(raw)
	if err != nil {
		panic(err)
	}
	return c
}

var cacheFamilies = []string{"gpt2", "llama", "mistral", "qwen2", "qwen3"}

func maxDiff(a, b []float32) float64 {
	d := 0.0
	for i := range a {
		d = math.Max(d, math.Abs(float64(a[i])-float64(b[i])))
	}
	return d
}

// TestForwardCachedMatchesForward feeds left-padded sequences through the
// cache in pieces — a prefill, single tokens, a 3-token chunk — and checks the
// logits of every position against one full Forward over the whole batch.
func TestForwardCachedMatchesForward(t *testing.T) {
	for _, mt := range cacheFamilies {
		for _, wide := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/wide=%v", mt, wide), func(t *testing.T) {
				m := New(cacheConfig(mt, wide))
				m.InitRandom(7)
				const B, T = 3, 11
				V := m.Cfg.Vocab
				ids := make([]int32, B*T)
				mask := make([]int32, B*T)
				pads := []int{0, 3, 5} // left padding per row
				for b := 0; b < B; b++ {
					for t := 0; t < T; t++ {
						ids[b*T+t] = int32((b*31 + t*17 + 5) % V)
						if t >= pads[b] {
							mask[b*T+t] = 1
						}
					}
				}
				full, _, err := m.Forward(Batch{B: B, T: T, IDs: ids, Mask: mask}, true)
				if err != nil {
					t.Fatal(err)
				}
				want := append([]float32(nil), full...)

				c, err := NewKVCache(m.Cfg, B, T+2)
				if err != nil {
					t.Fatal(err)
				}
				pieces := []int{6, 1, 1, 3} // = T
				at := 0
				for _, n := range pieces {
					pi, pm := make([]int32, B*n), make([]int32, B*n)
					for b := 0; b < B; b++ {
						copy(pi[b*n:], ids[b*T+at:b*T+at+n])
						copy(pm[b*n:], mask[b*T+at:b*T+at+n])
					}
					lg, err := m.ForwardCached(c, nil, pi, pm, n, true)
					if err != nil {
						t.Fatal(err)
					}
					for b := 0; b < B; b++ {
						for j := 0; j < n; j++ {
							if at+j < pads[b] {
								continue // a padding query's output is never used
							}
							got := lg[(b*n+j)*V : (b*n+j+1)*V]
							ref := want[(b*T+at+j)*V : (b*T+at+j+1)*V]
							if d := maxDiff(got, ref); d > 1e-4 {
								t.Fatalf("row %d position %d: max |cached - full| = %g", b, at+j, d)
							}
						}
					}
					at += n
				}
				// all=false returns each row's last position only.
				c2, _ := NewKVCache(m.Cfg, B, T)
				last, err := m.ForwardCached(c2, nil, ids, mask, T, false)
				if err != nil {
					t.Fatal(err)
				}
				for b := 0; b < B; b++ {
					if d := maxDiff(last[b*V:(b+1)*V], want[(b*T+T-1)*V:(b*T+T)*V]); d > 1e-4 {
						t.Fatalf("last logits row %d: max diff %g", b, d)
					}
				}
			})
		}
	}
}

// TestForwardCachedPaddingInvariance: a prompt decoded inside a left-padded
// batch gives the logits it gives alone, and decoding a subset of rows (rows
// argument) or a fanned-out copy (Select) changes nothing.
func TestForwardCachedPaddingInvariance(t *testing.T) {
	for _, mt := range cacheFamilies {
		t.Run(mt, func(t *testing.T) {
			m := New(cacheConfig(mt, true))
			m.InitRandom(3)
			V := m.Cfg.Vocab
			prompts := [][]int32{{5, 9, 2, 44, 7, 7}, {13}, {60, 1, 2}}
			next := []int32{11, 12, 13, 14}
			alone := make([][]float32, len(prompts)) // per prompt: logits after each decode step
			for p, pr := range prompts {
				c, _ := NewKVCache(m.Cfg, 1, 16)
				lg, err := m.ForwardCached(c, nil, pr, nil, len(pr), false)
				if err != nil {
					t.Fatal(err)
				}
				alone[p] = append(alone[p], lg...)
				for _, id := range next {
					lg, err = m.ForwardCached(c, nil, []int32{id}, nil, 1, false)
					if err != nil {
						t.Fatal(err)
					}
					alone[p] = append(alone[p], lg...)
				}
			}
			const T = 6
			ids, mask := make([]int32, 3*T), make([]int32, 3*T)
			for p, pr := range prompts {
				for j, id := range pr {
					ids[p*T+T-len(pr)+j], mask[p*T+T-len(pr)+j] = id, 1
				}
			}
			c, _ := NewKVCache(m.Cfg, 3, 16)
			lg, err := m.ForwardCached(c, nil, ids, mask, T, false)
			if err != nil {
				t.Fatal(err)
			}
			check := func(what string, p, step int, got []float32) {
				t.Helper()
				if d := maxDiff(got, alone[p][step*V:(step+1)*V]); d > 1e-5 {
					t.Fatalf("%s: prompt %d step %d differs from the prompt alone by %g", what, p, step, d)
				}
			}
			for p := range prompts {
				check("padded prefill", p, 0, lg[p*V:(p+1)*V])
			}
			// Step 1 for rows 2 and 0 only (in that order), then row 1 alone.
			lg, err = m.ForwardCached(c, []int{2, 0}, []int32{next[0], next[0]}, nil, 1, false)
			if err != nil {
				t.Fatal(err)
			}
			check("rows subset", 2, 1, lg[:V])
			check("rows subset", 0, 1, lg[V:2*V])
			if lg, err = m.ForwardCached(c, []int{1}, next[:1], nil, 1, false); err != nil {
				t.Fatal(err)
			}
			check("rows subset", 1, 1, lg)
			// Fan row 1 out twice and drop row 2; all three continue alike.
			if err := c.Select([]int{1, 0, 1}); err != nil {
				t.Fatal(err)
			}
			lg, err = m.ForwardCached(c, nil, []int32{next[1], next[1], next[1]}, nil, 1, false)
			if err != nil {
				t.Fatal(err)
			}
			check("select", 1, 2, lg[:V])
			check("select", 0, 2, lg[V:2*V])
			check("select", 1, 2, lg[2*V:])
			// In-place compaction.
			if err := c.Select([]int{1, 2}); err != nil {
				t.Fatal(err)
			}
			if lg, err = m.ForwardCached(c, nil, []int32{next[2], next[2]}, nil, 1, false); err != nil {
				t.Fatal(err)
			}
			check("compact", 0, 3, lg[:V])
			check("compact", 1, 3, lg[V:])
		})
	}
}

func TestForwardCachedErrors(t *testing.T) {
	m := New(tinyConfig("gpt2")) // n_positions 16
	m.InitRandom(1)
	c, _ := NewKVCache(m.Cfg, 2, 20)
	for _, tc := range []struct {
		name string
		run  func() error
	}{
		{"id outside vocab", func() error { _, err := m.ForwardCached(c, nil, []int32{1, 50}, nil, 1, false); return err }},
		{"length", func() error { _, err := m.ForwardCached(c, nil, []int32{1, 2, 3}, nil, 1, false); return err }},
		{"repeated row", func() error { _, err := m.ForwardCached(c, []int{1, 1}, []int32{1, 2}, nil, 1, false); return err }},
		{"row range", func() error { _, err := m.ForwardCached(c, []int{2}, []int32{1}, nil, 1, false); return err }},
		{"capacity", func() error { _, err := m.ForwardCached(c, nil, make([]int32, 2*21), nil, 21, false); return err }},
		{"n_positions", func() error { _, err := m.ForwardCached(c, nil, make([]int32, 2*17), nil, 17, false); return err }},
		{"select range", func() error { return c.Select([]int{0, 3}) }},
	} {
		if err := tc.run(); err == nil {
			t.Errorf("%s: no error", tc.name)
		}
	}
	if c.Len[0] != 0 || c.Len[1] != 0 {
		t.Errorf("failed calls changed the cache: Len %v", c.Len)
	}
	if _, err := NewKVCache(m.Cfg, 0, 4); err == nil {
		t.Error("zero rows: no error")
	}
}
