package generate

import (
	"fmt"
	"math"
	"testing"
)

// TestBF16GreedyMatchesF32: greedy completions decoded from bf16 weights
// follow the f32 ones; where both have chosen the same tokens so far, the
// log-probs they report differ by rounding only. Batches of 4 decode through
// the bf16 dot tiles, batches of 48 through the wide tiles (where the CPU
// has them).
func TestBF16GreedyMatchesF32(t *testing.T) {
	for _, c := range []struct {
		mt      string
		prompts int
		batch   int
	}{{"gpt2", 8, 4}, {"llama", 8, 4}, {"gpt2", 48, 48}, {"llama", 48, 48}} {
		mt := c.mt
		t.Run(fmt.Sprintf("%s/batch=%d", mt, c.batch), func(t *testing.T) {
			m := tinyModel(t, mt)
			// tinyModel's weights are 6× GPT-2's init for peaked logits; at
			// 2× they are less peaked, and bf16's error (relative to the
			// weights, so to the logits' scale) stays small.
			for i := range m.Data {
				m.Data[i] /= 3
			}
			var prompts [][]int32
			for p := 0; p < c.prompts; p++ {
				prompts = append(prompts, []int32{int32(p*5+1) % 40, int32(p*3+2) % 40, int32(p+7) % 40})
			}
			opt := Options{MaxNewTokens: 16, Logprobs: true, BatchSize: c.batch}
			f32, err := Generate(m, prompts, opt)
			if err != nil {
				t.Fatal(err)
			}
			if err := m.SetDecodeDType("bf16"); err != nil {
				t.Fatal(err)
			}
			defer m.SetDecodeDType("f32")
			bf, err := Generate(m, prompts, opt)
			if err != nil {
				t.Fatal(err)
			}
			same, total, worst := 0, 0, 0.0
			for i := range f32 {
				a, b := f32[i], bf[i]
				total += len(a.Tokens)
				for j := 0; j < len(a.Tokens) && j < len(b.Tokens) && a.Tokens[j] == b.Tokens[j]; j++ {
					same++
					worst = math.Max(worst, math.Abs(float64(a.Logprobs[j]-b.Logprobs[j])))
				}
			}
			t.Logf("%s: %d of %d greedy tokens before the first divergence; max |Δ log p| there %.3g", mt, same, total, worst)
			if same < total*9/10 {
				t.Errorf("only %d of %d tokens agree before the first divergence", same, total)
			}
			if worst > 0.05 {
				t.Errorf("max |Δ log p| %g on agreeing prefixes, above 0.05", worst)
			}
		})
	}
}
