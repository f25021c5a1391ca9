package optim

import (
	"fmt"
	"math"
	"sort"
)

// The schedule functions return the multiplier applied to the base learning
// rate, exactly as HuggingFace transformers' lr_lambda functions do. step is
// the number of optimizer updates already taken, so the first update uses
// step 0 (LambdaLR is evaluated once at construction and after every
// optimizer.step()); with warmup > 0 that first update therefore has lr 0,
// as in HF.

// ConstantFactor is get_constant_schedule: always 1.
func ConstantFactor(step int) float64 { return 1 }

// ConstantWithWarmupFactor is get_constant_schedule_with_warmup: step/warmup
// during warmup, then 1.
func ConstantWithWarmupFactor(step, warmup int) float64 {
	if step < warmup {
		return float64(step) / math.Max(1, float64(warmup))
	}
	return 1
}

// LinearWithWarmupFactor is get_linear_schedule_with_warmup: linear rise to 1
// over warmup steps, then linear decay reaching 0 at step total.
func LinearWithWarmupFactor(step, warmup, total int) float64 {
	if step < warmup {
		return float64(step) / float64(max(1, warmup))
	}
	return math.Max(0, float64(total-step)/float64(max(1, total-warmup)))
}

// CosineWithWarmupFactor is get_cosine_schedule_with_warmup (minRatio = 0) and
// get_cosine_with_min_lr_schedule_with_warmup (min_lr_rate = minRatio):
// linear warmup, then 0.5·(1+cos(π·2·cycles·progress)) rescaled into
// [minRatio, 1]. cycles = 0.5 is HF's default half cosine. As in HF the
// factor is not held at its floor past total: with cycles = 0.5 it climbs
// again, so train for exactly total steps.
func CosineWithWarmupFactor(step, warmup, total int, cycles, minRatio float64) float64 {
	if step < warmup {
		return float64(step) / float64(max(1, warmup))
	}
	progress := float64(step-warmup) / float64(max(1, total-warmup))
	f := 0.5 * (1 + math.Cos(math.Pi*cycles*2*progress))
	if minRatio != 0 {
		f = f*(1-minRatio) + minRatio
	}
	return math.Max(0, f)
}

// Schedule is a named learning-rate schedule with its parameters, for
// configuration files and command-line flags.
type Schedule struct {
	// Name is an HF lr_scheduler_type: "constant", "constant_with_warmup",
	// "linear", "cosine" or "cosine_with_min_lr". "constant" ignores Warmup,
	// as HF does.
	Name     string
	Warmup   int     // warmup steps
	Total    int     // total optimizer steps (linear and cosine)
	Cycles   float64 // cosine waves; 0 means HF's default 0.5
	MinRatio float64 // cosine_with_min_lr: floor as a fraction of the base lr
}

var scheduleNames = map[string]bool{
	"constant": true, "constant_with_warmup": true, "linear": true, "cosine": true, "cosine_with_min_lr": true,
}

// ScheduleNames lists the accepted Schedule.Name values.
func ScheduleNames() []string {
	out := make([]string, 0, len(scheduleNames))
	for k := range scheduleNames {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Validate reports a schedule whose name or parameters cannot work.
func (s Schedule) Validate() error {
	if !scheduleNames[s.Name] {
		return fmt.Errorf("optim: unknown lr schedule %q (want one of %v)", s.Name, ScheduleNames())
	}
	if s.Warmup < 0 {
		return fmt.Errorf("optim: lr schedule %q: negative warmup %d", s.Name, s.Warmup)
	}
	if (s.Name == "linear" || s.Name == "cosine" || s.Name == "cosine_with_min_lr") && s.Total <= 0 {
		return fmt.Errorf("optim: lr schedule %q: total steps %d must be positive", s.Name, s.Total)
	}
	if s.Cycles < 0 || math.IsNaN(s.Cycles) || math.IsInf(s.Cycles, 0) {
		return fmt.Errorf("optim: lr schedule %q: cycles %v must be finite and >= 0", s.Name, s.Cycles)
	}
	if !(s.MinRatio >= 0 && s.MinRatio <= 1) {
		return fmt.Errorf("optim: lr schedule %q: min ratio %v outside [0,1]", s.Name, s.MinRatio)
	}
	return nil
}

// Factor is the multiplier for the update after step updates. It assumes
// Validate passed; an unknown name yields 1.
func (s Schedule) Factor(step int) float64 {
	cycles := s.Cycles
	if cycles == 0 {
		cycles = 0.5
	}
	switch s.Name {
	case "constant_with_warmup":
		return ConstantWithWarmupFactor(step, s.Warmup)
	case "linear":
		return LinearWithWarmupFactor(step, s.Warmup, s.Total)
	case "cosine":
		return CosineWithWarmupFactor(step, s.Warmup, s.Total, cycles, 0)
	case "cosine_with_min_lr":
		return CosineWithWarmupFactor(step, s.Warmup, s.Total, cycles, s.MinRatio)
	}
	return ConstantFactor(step)
}
