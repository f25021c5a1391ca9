package model

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

func randomizeSetB(lo *LoRA, seed uint64) {
	r := rand.New(rand.NewPCG(seed, 1))
	for _, p := range lo.Params {
		if strings.HasSuffix(p.Name, "lora_B.weight") {
			for i := p.Offset; i < p.Offset+p.Size; i++ {
				lo.Data[i] = float32(r.NormFloat64() * 0.2)
			}
		}
	}
}

// TestLoRASetsMatchSingle: with two sets on one base, each set computes
// exactly what a model holding only that set computes, switching sets leaves
// the other set and the base untouched, and "" is the base model.
func TestLoRASetsMatchSingle(t *testing.T) {
	for _, mt := range []string{"gpt2", "llama"} {
		t.Run(mt, func(t *testing.T) {
			base := New(tinyConfig(mt))
			base.InitRandom(4)
			b := Batch{B: 2, T: 4, IDs: []int32{1, 2, 3, 4, 5, 6, 7, 8}, Mask: []int32{0, 1, 1, 1, 1, 1, 1, 1}}
			plain := logitsOf(t, base, b)
			cfgA := LoRAConfig{R: 2, Alpha: 4, Targets: []string{"all-linear"}}
			cfgB := LoRAConfig{R: 3, Alpha: 3, Targets: []string{"all-linear"}}
			if mt == "llama" {
				cfgB.Targets = []string{"q_proj", "down_proj"}
			}
			m := base.Clone()
			if err := m.AttachLoRASet("policy", cfgA, 1); err != nil {
				t.Fatal(err)
			}
			if err := m.AttachLoRASet("value", cfgB, 2); err != nil {
				t.Fatal(err)
			}
			if err := m.AttachLoRASet("value", cfgB, 2); err == nil {
				t.Fatal("attaching a second set named value succeeded")
			}
			randomizeSetB(m.LoRASet("policy"), 5)
			randomizeSetB(m.LoRASet("value"), 6)
			if m.LoRA() != m.LoRASet("policy") {
				t.Fatal("the first set attached is not the selected one")
			}
			for _, name := range []string{"policy", "value"} {
				single := base.Clone()
				cfg := cfgA
				if name == "value" {
					cfg = cfgB
				}
				if err := single.AttachLoRA(cfg, 9); err != nil {
					t.Fatal(err)
				}
				copy(single.LoRA().Data, m.LoRASet(name).Data)
				want := logitsOf(t, single, b)
				if loraDiff(want, plain) < 1e-3 {
					t.Fatalf("%s: adapters had no effect", name)
				}
				if err := m.UseLoRA(name); err != nil {
					t.Fatal(err)
				}
				if d := loraDiff(want, logitsOf(t, m, b)); d != 0 {
					t.Fatalf("set %s differs from a model holding only it by %g", name, d)
				}
			}
			if err := m.UseLoRA(""); err != nil {
				t.Fatal(err)
			}
			if d := loraDiff(plain, logitsOf(t, m, b)); d != 0 {
				t.Fatalf("all sets off differs from the base by %g", d)
			}
			if err := m.UseLoRA("nope"); err == nil || !strings.Contains(err.Error(), "nope") {
				t.Fatalf("unknown set: %v", err)
			}
			// A backward through the value set touches only the value set.
			if err := m.UseLoRA("value"); err != nil {
				t.Fatal(err)
			}
			lg := logitsOf(t, m, b)
			m.EnableGrad()
			if err := m.UseLoRA("policy"); err != nil { // switching after Forward must not matter
				t.Fatal(err)
			}
			if err := m.Backward(lg, nil); err != nil {
				t.Fatal(err)
			}
			for _, g := range m.LoRASet("policy").Grad {
				if g != 0 {
					t.Fatal("policy adapters got gradient from a value-set pass")
				}
			}
			nz := false
			for _, g := range m.LoRASet("value").Grad {
				nz = nz || g != 0
			}
			if !nz {
				t.Fatal("value adapters got no gradient")
			}
			if m.Grad != nil {
				t.Fatal("the frozen base holds a gradient buffer")
			}
		})
	}
}

// TestLoRASetGradFiniteDifference: the second set's adapter gradients (with
// dropout) against central differences, with another set attached but idle.
func TestLoRASetGradFiniteDifference(t *testing.T) {
	m := New(tinyConfig("qwen3"))
	m.InitRandom(2)
	if err := m.AttachLoRASet("policy", LoRAConfig{R: 2, Targets: []string{"all-linear"}}, 3); err != nil {
		t.Fatal(err)
	}
	if err := m.AttachLoRASet("value", LoRAConfig{R: 3, Alpha: 6, Dropout: 0.2, Targets: []string{"v_proj", "up_proj", "o_proj"}}, 7); err != nil {
		t.Fatal(err)
	}
	randomizeSetB(m.LoRASet("policy"), 1)
	lo := m.LoRASet("value")
	randomizeSetB(lo, 3)
	lo.Training = true
	if err := m.UseLoRA("value"); err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(9, 9))
	B, T, C := 2, 5, m.Cfg.Dim
	ids := make([]int32, B*T)
	for i := range ids {
		ids[i] = int32(r.IntN(m.Cfg.Vocab))
	}
	mask := []int32{0, 1, 1, 1, 1, 1, 1, 1, 1, 0}
	R := make([]float32, B*T*C) // a value-head-like loss: Σ hidden·R
	for i := range R {
		R[i] = float32(r.NormFloat64())
	}
	loss := func() float64 {
		lo.DropoutSeed = 11
		_, h, err := m.Forward(Batch{B: B, T: T, IDs: ids, Mask: mask}, false)
		if err != nil {
			t.Fatal(err)
		}
		s := 0.0
		for i := range h {
			s += float64(h[i]) * float64(R[i])
		}
		return s
	}
	loss()
	m.EnableGrad()
	if err := m.Backward(nil, R); err != nil {
		t.Fatal(err)
	}
	for _, p := range lo.Params {
		for trial := 0; trial < 3; trial++ {
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
}

// TestLoRASetPEFTAndMerge: each set saves and loads under its own name, and
// merging the selected set leaves the other attached and the base frozen.
func TestLoRASetPEFTAndMerge(t *testing.T) {
	m := New(tinyConfig("llama"))
	m.InitRandom(4)
	b := Batch{B: 1, T: 5, IDs: []int32{1, 2, 3, 4, 5}}
	for i, n := range []string{"policy", "value"} {
		if err := m.AttachLoRASet(n, LoRAConfig{R: 2, Targets: []string{"all-linear"}}, uint64(i)); err != nil {
			t.Fatal(err)
		}
		randomizeSetB(m.LoRASet(n), uint64(10+i))
	}
	if err := m.UseLoRA("value"); err != nil {
		t.Fatal(err)
	}
	wantValue := logitsOf(t, m, b)
	dir := t.TempDir()
	if err := m.SavePEFTSet(dir, "base", "value"); err != nil {
		t.Fatal(err)
	}
	m2 := m.Clone()
	if err := m2.LoadPEFTSet(dir, "value"); err != nil {
		t.Fatal(err)
	}
	if d := loraDiff(wantValue, logitsOf(t, m2, b)); d != 0 {
		t.Fatalf("PEFT round trip of a named set differs by %g", d)
	}
	if err := m.UseLoRA("policy"); err != nil {
		t.Fatal(err)
	}
	wantPolicy := logitsOf(t, m, b)
	m.MergeLoRA()
	if got := m.LoRASets(); len(got) != 1 || got[0] != "value" {
		t.Fatalf("after merging policy the sets are %v", got)
	}
	if !m.Frozen("embed") {
		t.Fatal("the base thawed while a set is still attached")
	}
	if err := m.UseLoRA(""); err != nil {
		t.Fatal(err)
	}
	if d := loraDiff(wantPolicy, logitsOf(t, m, b)); d > 1e-5 {
		t.Fatalf("merged base differs from the policy set by %g", d)
	}
}
