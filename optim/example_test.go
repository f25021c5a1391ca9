package optim_test

import (
	"fmt"

	"github.com/align-go/align/optim"
)

// A training step: clip, check, then update with the scheduled learning rate.
func Example() {
	spans := []optim.Span{
		{Name: "base.weight", Offset: 0, Size: 4, Frozen: true},
		{Name: "lora_A", Offset: 4, Size: 2, Decay: true},
		{Name: "lora_B", Offset: 6, Size: 2, Decay: true},
	}
	params := make([]float32, 8)
	grads := []float32{9, 9, 9, 9, 3, 0, 0, 4}
	opt, _ := optim.NewAdamW(optim.DefaultAdamWConfig(), spans, len(params))
	sched := optim.Schedule{Name: "cosine", Warmup: 1, Total: 10}

	for step := 0; step < 2; step++ {
		g := append([]float32(nil), grads...)
		norm := optim.ClipGradNorm(g, spans, 1.0)
		if err := optim.CheckFinite(g, spans); err != nil {
			continue // skip the update, as a loss-scaler would
		}
		_ = opt.Step(params, g, 1e-3*sched.Factor(step))
		fmt.Printf("step %d: norm %.1f lr %.4f\n", step, norm, 1e-3*sched.Factor(step))
	}
	fmt.Println("moment bytes:", opt.StateBytes())
	// Output:
	// step 0: norm 5.0 lr 0.0000
	// step 1: norm 5.0 lr 0.0010
	// moment bytes: 32
}
