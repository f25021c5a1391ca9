package ppo

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/align-go/align/model"
)

// TestValueHeadGrad: value-adapter and head gradients of Σ v·R against
// central differences, with the policy set attached beside the value set.
func TestValueHeadGrad(t *testing.T) {
	m := tinyLlama(t, 5)
	for i, n := range []string{"policy", "value"} {
		if err := m.AttachLoRASet(n, model.LoRAConfig{R: 2, Alpha: 4, Targets: []string{"all-linear"}}, uint64(i)); err != nil {
			t.Fatal(err)
		}
	}
	lo := m.LoRASet("value")
	r := rand.New(rand.NewPCG(1, 2))
	for i := range lo.Data {
		lo.Data[i] += float32(r.NormFloat64() * 0.1)
	}
	v := &ValueModel{Model: m, Set: "value", Head: NewValueHead(m.Cfg.Dim, 3)}
	m.EnableGrad()
	b := model.Batch{B: 2, T: 4, IDs: []int32{2, 3, 5, 6, 0, 4, 7, 1}, Mask: []int32{1, 1, 1, 1, 0, 1, 1, 1}}
	R := make([]float64, 8)
	for i := range R {
		R[i] = r.NormFloat64()
	}
	f := func() float64 {
		vs, err := v.Forward(b)
		if err != nil {
			t.Fatal(err)
		}
		s := 0.0
		for i := range vs {
			s += vs[i] * R[i]
		}
		return s
	}
	f()
	if err := v.Backward(R); err != nil {
		t.Fatal(err)
	}
	check := func(name string, data, grad []float32, i int) {
		old := data[i]
		const h = 1e-3
		data[i] = old + h
		p := f()
		data[i] = old - h
		q := f()
		data[i] = old
		fd := (p - q) / (2 * h)
		if g := float64(grad[i]); math.Abs(g-fd) > 1e-2*math.Max(1, math.Abs(fd)) {
			t.Errorf("%s[%d]: backward %.5f, finite difference %.5f", name, i, g, fd)
		}
	}
	for k := 0; k < 6; k++ {
		check("lora", lo.Data, lo.Grad, r.IntN(len(lo.Data)))
		check("head", v.Head, v.HeadGrad, r.IntN(len(v.Head)))
	}
	for _, g := range m.LoRASet("policy").Grad {
		if g != 0 {
			t.Fatal("a value pass wrote policy-adapter gradients")
		}
	}
}
