package optim

import (
	"math"
	"testing"
)

// Expected factors are worked by hand from HF's lr_lambda formulas.
func TestScheduleFactors(t *testing.T) {
	cos := func(step int) float64 { return CosineWithWarmupFactor(step, 2, 10, 0.5, 0) }
	cases := []struct {
		name string
		got  float64
		want float64
	}{
		// linear, warmup 2, total 10: rise 0, 1/2, then (10−s)/8
		{"linear s0", LinearWithWarmupFactor(0, 2, 10), 0},
		{"linear s1", LinearWithWarmupFactor(1, 2, 10), 0.5},
		{"linear s2", LinearWithWarmupFactor(2, 2, 10), 1},
		{"linear s6", LinearWithWarmupFactor(6, 2, 10), 0.5},
		{"linear s10", LinearWithWarmupFactor(10, 2, 10), 0},
		{"linear s12 clamps", LinearWithWarmupFactor(12, 2, 10), 0},
		{"linear no warmup s0", LinearWithWarmupFactor(0, 0, 4), 1},
		{"linear no warmup s3", LinearWithWarmupFactor(3, 0, 4), 0.25},
		// cosine, warmup 2, total 10: progress p = (s−2)/8, f = (1+cos πp)/2
		{"cosine s1", cos(1), 0.5},
		{"cosine s2", cos(2), 1},
		{"cosine s4 p=1/4", cos(4), 0.5 + math.Sqrt2/4}, // (1+√2/2)/2
		{"cosine s6 p=1/2", cos(6), 0.5},
		{"cosine s10", cos(10), 0},
		{"cosine s14 rises again as in HF", cos(14), 0.5},
		{"cosine one full cycle s6", CosineWithWarmupFactor(6, 2, 10, 1, 0), 0},
		// min ratio 0.1: f·0.9 + 0.1
		{"cosine min s6", CosineWithWarmupFactor(6, 2, 10, 0.5, 0.1), 0.55},
		{"cosine min s10", CosineWithWarmupFactor(10, 2, 10, 0.5, 0.1), 0.1},
		{"cosine min warmup s1", CosineWithWarmupFactor(1, 2, 10, 0.5, 0.1), 0.5},
		// constant with warmup 4
		{"const warm s0", ConstantWithWarmupFactor(0, 4), 0},
		{"const warm s1", ConstantWithWarmupFactor(1, 4), 0.25},
		{"const warm s4", ConstantWithWarmupFactor(4, 4), 1},
		{"const warm 0 s0", ConstantWithWarmupFactor(0, 0), 1},
		{"constant", ConstantFactor(123), 1},
		// Schedule dispatch
		{"Schedule cosine default cycles", Schedule{Name: "cosine", Warmup: 2, Total: 10}.Factor(6), 0.5},
		{"Schedule min lr", Schedule{Name: "cosine_with_min_lr", Warmup: 2, Total: 10, MinRatio: 0.1}.Factor(10), 0.1},
		{"Schedule linear", Schedule{Name: "linear", Warmup: 2, Total: 10}.Factor(6), 0.5},
		{"Schedule constant ignores warmup", Schedule{Name: "constant", Warmup: 5}.Factor(0), 1},
		{"Schedule constant_with_warmup", Schedule{Name: "constant_with_warmup", Warmup: 4}.Factor(2), 0.5},
	}
	for _, c := range cases {
		if math.Abs(c.got-c.want) > 1e-15 {
			t.Errorf("%s: got %.17g, want %.17g", c.name, c.got, c.want)
		}
	}
}

func TestScheduleValidate(t *testing.T) {
	bad := []Schedule{
		{Name: "cosine_annealing", Total: 10},
		{Name: "cosine", Total: 0},
		{Name: "linear", Warmup: -1, Total: 5},
		{Name: "cosine_with_min_lr", Total: 5, MinRatio: 1.5},
		{Name: "cosine", Total: 5, Cycles: math.NaN()},
	}
	for _, s := range bad {
		if s.Validate() == nil {
			t.Errorf("%+v accepted", s)
		}
	}
	for _, n := range ScheduleNames() {
		if err := (Schedule{Name: n, Warmup: 1, Total: 10}).Validate(); err != nil {
			t.Errorf("%s rejected: %v", n, err)
		}
	}
}
