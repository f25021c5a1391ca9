package generate

import (
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/align-go/align/model"
)

func tinyModel(t *testing.T, mt string) *model.Model {
	t.Helper()
	raw := map[string]any{"model_type": mt, "vocab_size": 40.0, "n_embd": 32.0, "n_layer": 2.0, "n_head": 2.0,
		"n_positions": 24.0, "hidden_size": 32.0, "num_hidden_layers": 2.0, "num_attention_heads": 4.0,
		"num_key_value_heads": 2.0, "intermediate_size": 48.0, "max_position_embeddings": 64.0}
	cfg, err := model.ParseConfig(raw)
	if err != nil {
		t.Fatal(err)
	}
	m := model.New(cfg)
	m.InitRandom(11)
	// Larger weights give peaked distributions, so greedy choices are not
	// decided by rounding-level differences between the two forward paths.
	for i := range m.Data {
		m.Data[i] *= 6
	}
	return m
}

var testPrompts = [][]int32{{3, 14, 15, 9, 2, 6}, {5}, {35, 8, 9}}

// naiveGreedy re-runs the full, uncached Forward on the whole sequence for
// every new token: the reference the cached generator must reproduce.
func naiveGreedy(t *testing.T, m *model.Model, prompt []int32, n int) ([]int32, []float64) {
	seq := append([]int32(nil), prompt...)
	var toks []int32
	var lps []float64
	V := m.Cfg.Vocab
	for i := 0; i < n; i++ {
		lg, _, err := m.Forward(model.Batch{B: 1, T: len(seq), IDs: seq}, true)
		if err != nil {
			t.Fatal(err)
		}
		row := lg[(len(seq)-1)*V:]
		best := 0
		for j, v := range row {
			if v > row[best] {
				best = j
			}
		}
		mx, sum := float64(row[best]), 0.0
		for _, v := range row {
			sum += math.Exp(float64(v) - mx)
		}
		lps = append(lps, float64(row[best])-mx-math.Log(sum))
		toks = append(toks, int32(best))
		seq = append(seq, int32(best))
	}
	return toks, lps
}

func TestGreedyMatchesUncachedLoop(t *testing.T) {
	for _, mt := range []string{"gpt2", "llama", "qwen2", "qwen3"} {
		t.Run(mt, func(t *testing.T) {
			m := tinyModel(t, mt)
			const steps = 8
			for _, bs := range []int{1, 2, 16} {
				cs, err := Generate(m, testPrompts, Options{MaxNewTokens: steps, BatchSize: bs, Logprobs: true})
				if err != nil {
					t.Fatal(err)
				}
				for p, pr := range testPrompts {
					want, wantLP := naiveGreedy(t, m, pr, steps)
					c := cs[p]
					if c.Prompt != p || !slices.Equal(c.Tokens, want) {
						t.Fatalf("batch %d prompt %d: tokens %v, want %v", bs, p, c.Tokens, want)
					}
					for i, lp := range c.Logprobs {
						if math.Abs(float64(lp)-wantLP[i]) > 1e-4 {
							t.Errorf("batch %d prompt %d token %d: logprob %v, want %v", bs, p, i, lp, wantLP[i])
						}
					}
					if c.FinishReason != FinishLength {
						t.Errorf("finish %q, want length", c.FinishReason)
					}
				}
			}
		})
	}
}

// TestSeededSamplingIsBatchInvariant: completion (p, i) depends on the seed,
// p and i only, not on batch size or on N's fan-out.
func TestSeededSamplingIsBatchInvariant(t *testing.T) {
	m := tinyModel(t, "llama")
	opt := Options{Sampling: Sampling{Temperature: 1.3, TopP: 0.95}, MaxNewTokens: 10, N: 3, Seed: 42}
	var runs [][]Completion
	for _, bs := range []int{1, 4, 9} {
		o := opt
		o.BatchSize = bs
		cs, err := Generate(m, testPrompts, o)
		if err != nil {
			t.Fatal(err)
		}
		runs = append(runs, cs)
	}
	distinct := false
	for i := range runs[0] {
		for _, r := range runs[1:] {
			if !slices.Equal(r[i].Tokens, runs[0][i].Tokens) {
				t.Fatalf("completion %d differs across batch sizes: %v vs %v", i, r[i].Tokens, runs[0][i].Tokens)
			}
		}
		if i%3 != 0 && !slices.Equal(runs[0][i].Tokens, runs[0][i-1].Tokens) {
			distinct = true
		}
	}
	if !distinct {
		t.Error("the N samples of each prompt are all identical: seeds not per sample")
	}
	o := opt
	o.Seed = 43
	other, _ := Generate(m, testPrompts, o)
	same := true
	for i := range other {
		same = same && slices.Equal(other[i].Tokens, runs[0][i].Tokens)
	}
	if same {
		t.Error("a different seed gave identical completions")
	}
}

func letters(ids []int32) string {
	var b strings.Builder
	for _, id := range ids {
		b.WriteByte(byte('a' + id%26))
	}
	return b.String()
}

func TestStopConditions(t *testing.T) {
	m := tinyModel(t, "qwen3")
	prompt := [][]int32{testPrompts[0]}
	ref, _ := naiveGreedy(t, m, prompt[0], 8)

	// EOS: the token greedy emits third ends the completion there.
	cs, err := Generate(m, prompt, Options{MaxNewTokens: 8, EOS: []int32{ref[2]}, Decode: letters})
	if err != nil {
		t.Fatal(err)
	}
	c := cs[0]
	first := slices.Index(ref, ref[2]) // it may already occur earlier
	if len(c.Tokens) != first+1 || c.FinishReason != FinishStop || c.Text != letters(ref[:first]) {
		t.Errorf("eos: %d tokens %q finish %q; want %d tokens %q stop", len(c.Tokens), c.Text, c.FinishReason, first+1, letters(ref[:first]))
	}

	// Stop string spanning tokens 3 and 4: text is cut before it, the
	// tokens run through the one completing it.
	text := letters(ref)
	stop := text[3:5]
	at := strings.Index(text, stop)
	cs, err = Generate(m, prompt, Options{MaxNewTokens: 8, Stop: []string{"zzzzzz", stop}, Decode: letters})
	if err != nil {
		t.Fatal(err)
	}
	c = cs[0]
	if c.Text != text[:at] || len(c.Tokens) != at+2 || c.FinishReason != FinishStop {
		t.Errorf("stop %q: text %q (%d tokens) finish %q; want %q, %d tokens, stop", stop, c.Text, len(c.Tokens), c.FinishReason, text[:at], at+2)
	}

	// Length.
	cs, _ = Generate(m, prompt, Options{MaxNewTokens: 5, Decode: letters})
	if c := cs[0]; len(c.Tokens) != 5 || c.FinishReason != FinishLength || c.Text != text[:5] {
		t.Errorf("length: %d tokens %q finish %q", len(c.Tokens), c.Text, c.FinishReason)
	}

	// GPT-2 stops at n_positions (24 here): 6 prompt tokens leave 18.
	g := tinyModel(t, "gpt2")
	cs, err = Generate(g, prompt, Options{MaxNewTokens: 100})
	if err != nil {
		t.Fatal(err)
	}
	if c := cs[0]; len(c.Tokens) != 18 || c.FinishReason != FinishLength {
		t.Errorf("n_positions: %d tokens, finish %q; want 18, length", len(c.Tokens), c.FinishReason)
	}
}

func TestGenerateErrors(t *testing.T) {
	m := tinyModel(t, "gpt2")
	for _, tc := range []struct {
		name    string
		prompts [][]int32
		opt     Options
	}{
		{"empty prompt", [][]int32{{1}, {}}, Options{MaxNewTokens: 2}},
		{"bad id", [][]int32{{1, 40}}, Options{MaxNewTokens: 2}},
		{"no max", [][]int32{{1}}, Options{}},
		{"stop without decode", [][]int32{{1}}, Options{MaxNewTokens: 2, Stop: []string{"x"}}},
		{"empty stop", [][]int32{{1}}, Options{MaxNewTokens: 2, Stop: []string{""}, Decode: letters}},
		{"temperature", [][]int32{{1}}, Options{MaxNewTokens: 2, Sampling: Sampling{Temperature: -1}}},
		{"prompt too long", [][]int32{make([]int32, 24)}, Options{MaxNewTokens: 2}},
	} {
		if _, err := Generate(m, tc.prompts, tc.opt); err == nil {
			t.Errorf("%s: no error", tc.name)
		}
	}
}

func TestRollout(t *testing.T) {
	prompts := [][]int32{{7, 8, 9}, {4}}
	cs := []Completion{
		{Prompt: 0, Tokens: []int32{1}, Logprobs: []float32{-0.5}},
		{Prompt: 1, Tokens: []int32{2, 3}, Logprobs: []float32{-1, -2}},
	}
	r, err := NewRollout(prompts, cs, 0)
	if err != nil {
		t.Fatal(err)
	}
	// Width 3 (prompt) + 2 (completion).
	wantIDs := []int32{7, 8, 9, 1, 0 /**/, 0, 0, 4, 2, 3}
	wantMask := []int32{1, 1, 1, 1, 0 /**/, 0, 0, 1, 1, 1}
	wantComp := []int32{0, 0, 0, 1, 0 /**/, 0, 0, 0, 1, 1}
	wantLP := []float32{0, 0, 0, -0.5, 0 /**/, 0, 0, 0, -1, -2}
	if r.B != 2 || r.T != 5 || r.P != 3 || !slices.Equal(r.IDs, wantIDs) || !slices.Equal(r.Mask, wantMask) ||
		!slices.Equal(r.CompletionMask, wantComp) || !slices.Equal(r.Logprobs, wantLP) {
		t.Errorf("rollout %+v", r)
	}
	if _, err := NewRollout(prompts, []Completion{{Prompt: 2}}, 0); err == nil {
		t.Error("bad prompt index: no error")
	}
}

// TestReusedCacheMatchesFresh: a cache emptied by Reuse after holding other
// rows (another batch shape, stale keys left in its memory) gives the same
// logits, bit for bit, as a new one.
func TestReusedCacheMatchesFresh(t *testing.T) {
	for _, mt := range []string{"gpt2", "llama"} {
		t.Run(mt, func(t *testing.T) {
			m := tinyModel(t, mt)
			ids := []int32{3, 14, 15, 9, 2, 6, 35, 8, 9, 1, 7, 4}
			run := func(c *model.KVCache) []float32 {
				lg, err := m.ForwardCached(c, nil, ids, nil, 6, false)
				if err != nil {
					t.Fatal(err)
				}
				out := slices.Clone(lg)
				lg, err = m.ForwardCached(c, nil, []int32{5, 11}, nil, 1, false)
				if err != nil {
					t.Fatal(err)
				}
				return append(out, lg...)
			}
			fresh, err := model.NewKVCache(m.Cfg, 2, 10)
			if err != nil {
				t.Fatal(err)
			}
			want := run(fresh)
			for _, shape := range [][2]int{{3, 12}, {1, 4}} {
				c, err := model.NewKVCache(m.Cfg, shape[0], shape[1])
				if err != nil {
					t.Fatal(err)
				}
				dirty := make([]int32, shape[0]*shape[1])
				for i := range dirty {
					dirty[i] = int32(i % m.Cfg.Vocab)
				}
				if _, err := m.ForwardCached(c, nil, dirty, nil, shape[1], false); err != nil {
					t.Fatal(err)
				}
				if ok, err := c.Reuse(m.Cfg, 2, 10); !ok || err != nil {
					t.Fatalf("reuse: %v %v", ok, err)
				}
				if got := run(c); !slices.Equal(got, want) {
					t.Fatalf("cache reused from %v: logits differ from a fresh cache's", shape)
				}
			}
			other := tinyModel(t, mt)
			if ok, _ := fresh.Reuse(other.Cfg, 2, 10); ok {
				t.Error("a cache was reused for another model's config")
			}
		})
	}
}
