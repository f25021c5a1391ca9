package model

import (
	"fmt"
	"math"
	"testing"

	"github.com/align-go/align/nn"
	"github.com/align-go/align/tensor"
)

// decodeRun prefills 3 left-padded rows of 6 tokens (18 rows: below both
// decode thresholds, so every Linear runs the dot tiles) and decodes 5 more
// tokens per row, returning every position's logits.
func decodeRun(t *testing.T, m *Model) []float32 {
	t.Helper()
	const B, T, steps = 3, 6, 5
	V := m.Cfg.Vocab
	ids, mask := make([]int32, B*T), make([]int32, B*T)
	for b := 0; b < B; b++ {
		for j := 0; j < T; j++ {
			ids[b*T+j] = int32((b*31 + j*17 + 5) % V)
			if j >= b {
				mask[b*T+j] = 1
			}
		}
	}
	c, err := NewKVCache(m.Cfg, B, T+steps)
	if err != nil {
		t.Fatal(err)
	}
	lg, err := m.ForwardCached(c, nil, ids, mask, T, true)
	if err != nil {
		t.Fatal(err)
	}
	out := append([]float32(nil), lg...)
	for s := 0; s < steps; s++ {
		next := []int32{int32((s*7 + 1) % V), int32((s*11 + 2) % V), int32((s*13 + 3) % V)}
		lg, err := m.ForwardCached(c, nil, next, nil, 1, true)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, lg...)
	}
	return out
}

// roundedCopy is m with every weight that SetDecodeDType("bf16") converts
// replaced, in f32, by its bf16 value.
func roundedCopy(m *Model) *Model {
	r := m.Clone()
	f32, _ := (&bf16Weights{}).pairs(r)
	for _, w := range f32 {
		h := make([]uint16, len(w))
		tensor.ToBF16(h, w)
		nn.FromBF16(w, h)
	}
	return r
}

func withBF16Kernel(t *testing.T, name string) {
	t.Helper()
	old := nn.BF16Kernel()
	t.Cleanup(func() { nn.SetBF16Kernel(old) })
	if err := nn.SetBF16Kernel(name); err != nil {
		t.Fatal(err)
	}
}

// TestBF16DecodeIsRoundedWeights: decoding from the bf16 copy computes what
// f32 decoding computes on weights rounded to bf16. The widening kernel does
// exactly the f32 tiles' arithmetic, so it must agree bit for bit; the Go
// path sums in another order (f32 rounding only), and VDPBF16PS also rounds
// every Linear's input to bf16 (relative error <= 2^-8 per input, so a few
// 2^-8 of a logit's scale after the layers add up).
func TestBF16DecodeIsRoundedWeights(t *testing.T) {
	for _, mt := range cacheFamilies {
		for _, kern := range nn.BF16Kernels() {
			t.Run(fmt.Sprintf("%s/%s", mt, kern), func(t *testing.T) {
				withBF16Kernel(t, kern)
				m := New(cacheConfig(mt, true))
				m.InitRandom(11)
				if m.Cfg.Tied {
					// The head is the embedding: round it in m too, so that
					// the rounded copy's embeddings are m's.
					copy(m.W.Wte, roundedCopy(m).W.Wte)
				}
				want := decodeRun(t, roundedCopy(m))
				if err := m.SetDecodeDType("bf16"); err != nil {
					t.Fatal(err)
				}
				got := decodeRun(t, m)
				scale := 0.0
				for _, v := range want {
					scale = math.Max(scale, math.Abs(float64(v)))
				}
				d := maxDiff(got, want)
				switch kern {
				case "widen":
					if d != 0 {
						t.Fatalf("max |bf16 - f32 on rounded weights| = %g, want 0", d)
					}
				case "go":
					if d > 1e-5*(1+scale) {
						t.Fatalf("max |bf16 - f32 on rounded weights| = %g (logit scale %g)", d, scale)
					}
				default:
					if d > 4*scale/256 {
						t.Fatalf("max |bf16 - f32 on rounded weights| = %g, above 4·2^-8 of the logit scale %g", d, scale)
					}
				}
			})
		}
	}
}

// TestBF16DecodeLogprobs compares bf16 with f32 decoding on the same model:
// the log-probability of every vocabulary entry at every position, and the
// greedy choice. Rounding a weight moves it by at most 2^-8 of itself, so a
// logit moves by a few 2^-8 of |x|·|w|: on this model's logits (|z| <~ 1)
// log-probs move by ~1e-3, and by far less than 0.05.
func TestBF16DecodeLogprobs(t *testing.T) {
	for _, mt := range []string{"gpt2", "qwen3"} {
		t.Run(mt, func(t *testing.T) {
			m := New(cacheConfig(mt, true))
			m.InitRandom(12)
			want := decodeRun(t, m)
			m.SetDecodeDType("bf16")
			got := decodeRun(t, m)
			V := m.Cfg.Vocab
			worst, sum, n, same := 0.0, 0.0, 0, 0
			for p := 0; p < len(got)/V; p++ {
				g, w := got[p*V:(p+1)*V], want[p*V:(p+1)*V]
				gb, wb := 0, 0
				for j := 0; j < V; j++ {
					d := math.Abs(logSoftmax64(g, j) - logSoftmax64(w, j))
					worst, sum, n = math.Max(worst, d), sum+d, n+1
					if g[j] > g[gb] {
						gb = j
					}
					if w[j] > w[wb] {
						wb = j
					}
				}
				if gb == wb {
					same++
				}
			}
			t.Logf("%s: |Δ log p| max %.3g mean %.3g; greedy argmax equal at %d of %d positions", mt, worst, sum/float64(n), same, len(got)/V)
			if worst > 0.05 || sum/float64(n) > 0.005 {
				t.Fatalf("|Δ log p| max %g mean %g: above 0.05 / 0.005", worst, sum/float64(n))
			}
			if same < len(got)/V*9/10 {
				t.Fatalf("greedy argmax equal at only %d of %d positions", same, len(got)/V)
			}
		})
	}
}

// TestBF16DecodeFollowsWeights: after the parameters change (an optimizer
// step), the next ForwardCached decodes the new weights, exactly as a model
// converted afresh does.
func TestBF16DecodeFollowsWeights(t *testing.T) {
	m := New(cacheConfig("llama", true))
	m.InitRandom(13)
	if err := m.SetDecodeDType("bf16"); err != nil || m.DecodeDType() != "bf16" {
		t.Fatalf("SetDecodeDType: %v, dtype %s", err, m.DecodeDType())
	}
	before := decodeRun(t, m)
	for i := range m.Data {
		m.Data[i] *= 1.01
	}
	after := decodeRun(t, m)
	fresh := m.Clone()
	fresh.SetDecodeDType("bf16")
	want := decodeRun(t, fresh)
	if d := maxDiff(after, want); d != 0 {
		t.Fatalf("after a weight change: max |decode - fresh conversion| = %g", d)
	}
	if maxDiff(before, after) == 0 {
		t.Fatal("the weight change did not change the logits")
	}
	if err := m.SetDecodeDType("F32"); err != nil || m.DecodeDType() != "f32" {
		t.Fatalf("SetDecodeDType(F32): %v, dtype %s", err, m.DecodeDType())
	}
	if err := m.SetDecodeDType("f16"); err == nil {
		t.Fatal("f16 accepted")
	}
}
