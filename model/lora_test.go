package model

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

func randomizeB(m *Model, seed uint64) {
	r := rand.New(rand.NewPCG(seed, 1))
	lo := m.LoRA()
	for _, p := range lo.Params {
		if strings.HasSuffix(p.Name, "lora_B.weight") {
			for i := p.Offset; i < p.Offset+p.Size; i++ {
				lo.Data[i] = float32(r.NormFloat64() * 0.2)
			}
		}
	}
}

func logitsOf(t *testing.T, m *Model, b Batch) []float32 {
	t.Helper()
	lg, _, err := m.Forward(b, true)
	if err != nil {
		t.Fatal(err)
	}
	return append([]float32(nil), lg...)
}

func loraDiff(a, b []float32) float64 {
	d := 0.0
	for i := range a {
		d = math.Max(d, math.Abs(float64(a[i]-b[i])))
	}
	return d
}

// TestLoRAGradFiniteDifference checks adapter gradients (GPT-2's fused c_attn
// with a shared A, and the Llama family's separate projections) and that the
// frozen base gets none.
func TestLoRAGradFiniteDifference(t *testing.T) {
	for _, c := range []struct {
		mt      string
		targets []string
		dropout float64
	}{{"gpt2", []string{"c_attn", "c_proj", "c_fc"}, 0}, {"llama", []string{"all-linear"}, 0}, {"qwen3", []string{"q_proj", "v_proj", "down_proj"}, 0.3}} {
		t.Run(c.mt, func(t *testing.T) {
			m := New(tinyConfig(c.mt))
			m.InitRandom(2)
			if err := m.AttachLoRA(LoRAConfig{R: 3, Alpha: 6, Dropout: c.dropout, Targets: c.targets}, 7); err != nil {
				t.Fatal(err)
			}
			lo := m.LoRA()
			lo.Training = true
			lo.DropoutSeed = 11
			randomizeB(m, 3)
			r := rand.New(rand.NewPCG(9, 9))
			B, T, V := 2, 5, m.Cfg.Vocab
			ids := make([]int32, B*T)
			for i := range ids {
				ids[i] = int32(r.IntN(V))
			}
			mask := []int32{0, 1, 1, 1, 1, 1, 1, 1, 1, 0}
			R := make([]float32, B*T*V)
			for i := range R {
				R[i] = float32(r.NormFloat64())
			}
			loss := func() float64 {
				lo.DropoutSeed = 11 // same masks for every evaluation
				lg, _, err := m.Forward(Batch{B: B, T: T, IDs: ids, Mask: mask}, true)
				if err != nil {
					t.Fatal(err)
				}
				s := 0.0
				for i := range lg {
					s += float64(lg[i]) * float64(R[i])
				}
				return s
			}
			loss()
			m.EnableGrad()
			m.ZeroGrad()
			clear(lo.Grad)
			if err := m.Backward(R, nil); err != nil {
				t.Fatal(err)
			}
			for _, g := range m.Grad {
				if g != 0 {
					t.Fatal("frozen base parameters received gradient")
				}
			}
			for _, p := range lo.Params {
				for trial := 0; trial < 4; trial++ {
					i := p.Offset + r.IntN(p.Size)
					old := lo.Data[i]
					const h = 3e-3
					lo.Data[i] = old + h
					lp := loss()
					lo.Data[i] = old - h
					lm := loss()
					lo.Data[i] = old
					fd := (lp - lm) / (2 * h)
					if g := float64(lo.Grad[i]); math.Abs(fd-g) > 1e-2*math.Max(1, math.Abs(fd)) {
						t.Errorf("%s[%d]: backward %.5f, finite difference %.5f", p.Name, i-p.Offset, g, fd)
					}
				}
			}
		})
	}
}

// TestLoRAOffMergeAndPEFT: adapters off computes the base model; merging gives
// the adapted model's logits; PEFT save/load restores the adapters exactly.
func TestLoRAOffMergeAndPEFT(t *testing.T) {
	for _, mt := range []string{"gpt2", "llama"} {
		t.Run(mt, func(t *testing.T) {
			m := New(tinyConfig(mt))
			m.InitRandom(4)
			b := Batch{B: 1, T: 6, IDs: []int32{1, 2, 3, 4, 5, 6}}
			base := logitsOf(t, m, b)
			if err := m.AttachLoRA(LoRAConfig{R: 2, Alpha: 4, Targets: []string{"all-linear"}}, 1); err != nil {
				t.Fatal(err)
			}
			if d := loraDiff(base, logitsOf(t, m, b)); d != 0 {
				t.Fatalf("fresh adapters (B=0) changed logits by %g", d)
			}
			randomizeB(m, 5)
			adapted := logitsOf(t, m, b)
			if loraDiff(base, adapted) < 1e-3 {
				t.Fatal("adapters had no effect")
			}
			m.SetLoRAEnabled(false)
			if d := loraDiff(base, logitsOf(t, m, b)); d != 0 {
				t.Fatalf("adapters off: logits differ from base by %g", d)
			}
			m.SetLoRAEnabled(true)

			dir := t.TempDir()
			if err := m.SavePEFT(dir, "base"); err != nil {
				t.Fatal(err)
			}
			m2 := m.Clone()
			if err := m2.LoadPEFT(dir); err != nil {
				t.Fatal(err)
			}
			if d := loraDiff(adapted, logitsOf(t, m2, b)); d != 0 {
				t.Fatalf("PEFT round trip: logits differ by %g", d)
			}
			m.MergeLoRA()
			if d := loraDiff(adapted, logitsOf(t, m, b)); d > 1e-5 {
				t.Fatalf("merged model differs from adapted by %g", d)
			}
		})
	}
	t.Run("unknown target", func(t *testing.T) {
		m := New(tinyConfig("llama"))
		err := m.AttachLoRA(LoRAConfig{R: 2, Targets: []string{"c_attn"}}, 1)
		if err == nil || !strings.Contains(err.Error(), "c_attn") {
			t.Fatalf("got %v", err)
		}
	})
}

// TestLoRAInKVCache: the KV-cache (generation) path applies the adapters, so a
// LoRA model generates from the same logits its training forward computes.
func TestLoRAInKVCache(t *testing.T) {
	for _, mt := range []string{"gpt2", "llama", "qwen3"} {
		t.Run(mt, func(t *testing.T) {
			m := New(tinyConfig(mt))
			m.InitRandom(6)
			if err := m.AttachLoRA(LoRAConfig{R: 2, Alpha: 4, Targets: []string{"all-linear"}}, 3); err != nil {
				t.Fatal(err)
			}
			randomizeB(m, 8)
			ids := []int32{3, 1, 4, 1, 5, 9, 2}
			T, V := len(ids), m.Cfg.Vocab
			want := logitsOf(t, m, Batch{B: 1, T: T, IDs: ids})
			c, err := NewKVCache(m.Cfg, 1, T)
			if err != nil {
				t.Fatal(err)
			}
			got, err := m.ForwardCached(c, nil, ids[:4], nil, 4, true)
			if err != nil {
				t.Fatal(err)
			}
			if d := loraDiff(got, want[:4*V]); d > 1e-4 {
				t.Fatalf("prefill: cached logits differ from Forward by %g", d)
			}
			for i := 4; i < T; i++ {
				got, err := m.ForwardCached(c, nil, ids[i:i+1], nil, 1, true)
				if err != nil {
					t.Fatal(err)
				}
				if d := loraDiff(got, want[i*V:(i+1)*V]); d > 1e-4 {
					t.Fatalf("decode step %d: cached logits differ from Forward by %g", i, d)
				}
			}
		})
	}
}
