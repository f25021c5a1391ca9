package model

import (
	"math"
	"testing"
)

var mathLog, mathExp = math.Log, math.Exp

func tinyConfig(mt string) *Config {
	raw := map[string]any{"model_type": mt, "vocab_size": 50.0, "n_embd": 16.0, "n_layer": 2.0, "n_head": 2.0,
		"n_positions": 16.0, "hidden_size": 16.0, "num_hidden_layers": 2.0, "num_attention_heads": 4.0,
		"num_key_value_heads": 2.0, "intermediate_size": 24.0, "max_position_embeddings": 32.0}
	c, err := ParseConfig(raw)
	if err != nil {
		panic(err)
	}
	return c
}

// TestTrainingStepsReduceLoss is a whole-model sanity check independent of the
// fixtures: plain SGD on one repeated batch must drive cross-entropy down.
func TestTrainingStepsReduceLoss(t *testing.T) {
	for _, mt := range []string{"gpt2", "llama", "qwen3"} {
		t.Run(mt, func(t *testing.T) {
			m := New(tinyConfig(mt))
			m.InitRandom(1)
			m.EnableGrad()
			B, T, V := 2, 8, m.Cfg.Vocab
			ids := make([]int32, B*T)
			for i := range ids {
				ids[i] = int32((i * 7) % V)
			}
			first, last := 0.0, 0.0
			for step := 0; step < 30; step++ {
				logits, _, err := m.Forward(Batch{B: B, T: T, IDs: ids}, true)
				if err != nil {
					t.Fatal(err)
				}
				dl := make([]float32, len(logits))
				loss := 0.0
				n := 0
				for i := 0; i < B*T; i++ {
					if (i+1)%T == 0 {
						continue
					}
					row := logits[i*V : (i+1)*V]
					tgt := int(ids[i+1])
					loss -= logSoftmax64(row, tgt)
					n++
					p := softmax64(row)
					for j := range p {
						dl[i*V+j] = float32(p[j])
					}
					dl[i*V+tgt] -= 1
				}
				for i := range dl {
					dl[i] /= float32(n)
				}
				loss /= float64(n)
				if step == 0 {
					first = loss
				}
				last = loss
				m.ZeroGrad()
				if err := m.Backward(dl, nil); err != nil {
					t.Fatal(err)
				}
				for i := range m.Data {
					m.Data[i] -= 0.5 * m.Grad[i]
				}
			}
			if !(last < 0.5*first) {
				t.Fatalf("loss %.4f -> %.4f: did not halve", first, last)
			}
		})
	}
}

func logSoftmax64(row []float32, j int) float64 {
	p := softmax64(row)
	return mathLog(p[j])
}

func softmax64(row []float32) []float64 {
	mx := float64(row[0])
	for _, v := range row {
		if float64(v) > mx {
			mx = float64(v)
		}
	}
	p := make([]float64, len(row))
	s := 0.0
	for i, v := range row {
		p[i] = mathExp(float64(v) - mx)
		s += p[i]
	}
	for i := range p {
		p[i] /= s
	}
	return p
}

// TestShapeChangesReuseBuffers: after a larger batch, a smaller one reuses the
// activation buffer and still computes exactly what a fresh model does.
func TestShapeChangesReuseBuffers(t *testing.T) {
	m := New(tinyConfig("llama"))
	m.InitRandom(8)
	fresh := m.Clone()
	big := Batch{B: 2, T: 8, IDs: make([]int32, 16)}
	for i := range big.IDs {
		big.IDs[i] = int32(i % 50)
	}
	if _, _, err := m.Forward(big, true); err != nil {
		t.Fatal(err)
	}
	m.EnableGrad()
	if err := m.Backward(nil, make([]float32, 16*m.Cfg.Dim)); err != nil {
		t.Fatal(err)
	}
	bufBefore := &m.acts.buf[0]
	small := Batch{B: 1, T: 5, IDs: []int32{3, 1, 4, 1, 5}}
	got, _, _ := m.Forward(small, true)
	want, _, _ := fresh.Forward(small, true)
	if &m.acts.buf[0] != bufBefore {
		t.Error("smaller batch reallocated the activation buffer")
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("logit %d: %g after reuse, %g fresh", i, got[i], want[i])
		}
	}
}

// TestBorrowActivations: a reference model that borrows the policy's buffer,
// run before each policy forward/backward, changes neither model's results and
// ends up holding no buffer of its own.
func TestBorrowActivations(t *testing.T) {
	run := func(borrow bool) (refLogits, grads []float32, shared bool) {
		policy := New(tinyConfig("llama"))
		policy.InitRandom(3)
		ref := policy.Clone()
		for i := range ref.Data {
			ref.Data[i] *= 0.9 // a different model, so mixed-up buffers would show
		}
		if borrow {
			ref.BorrowActivations(policy)
		}
		policy.EnableGrad()
		for step, T := range []int{6, 9, 4} {
			ids := make([]int32, 2*T)
			for i := range ids {
				ids[i] = int32((i*7 + step) % 50)
			}
			b := Batch{B: 2, T: T, IDs: ids}
			rl, _, err := ref.Forward(b, true)
			if err != nil {
				t.Fatal(err)
			}
			refLogits = append(refLogits, rl...)
			pl, _, err := policy.Forward(b, true)
			if err != nil {
				t.Fatal(err)
			}
			if err := policy.Backward(pl, nil); err != nil {
				t.Fatal(err)
			}
		}
		if borrow {
			if err := ref.Backward(nil, make([]float32, 8*16)); err == nil {
				t.Error("a borrowing model ran backward")
			}
		}
		shared = &ref.acts.buf[:1][0] == &policy.acts.buf[:1][0]
		return refLogits, append([]float32(nil), policy.Grad...), shared
	}
	r0, g0, _ := run(false)
	r1, g1, shared := run(true)
	for i := range r0 {
		if r0[i] != r1[i] {
			t.Fatalf("reference logit %d: %g borrowing, %g not", i, r1[i], r0[i])
		}
	}
	for i := range g0 {
		if g0[i] != g1[i] {
			t.Fatalf("policy gradient %d: %g with a borrowing reference, %g without", i, g1[i], g0[i])
		}
	}
	if !shared {
		t.Fatal("the reference does not use the policy's buffer")
	}
}
