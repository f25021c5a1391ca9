package loss

import (
	"fmt"
	"math"
)

// KLController holds the coefficient of the KL penalty PPO folds into the
// reward. Fixed when Target is 0; otherwise the adaptive controller of
// Ziegler et al. 2019 (TRL's AdaptiveKLController): after a batch of n
// episodes with mean KL k it multiplies Coef by
//
//	1 + clip(k/Target − 1, −0.2, 0.2) · n / Horizon
//
// so the coefficient rises while the policy drifts past the target and
// falls while it stays under it, at most 20 % per Horizon episodes.
type KLController struct {
	Coef    float64 `json:"kl_coef"`
	Target  float64 `json:"target_kl"`  // 0: fixed coefficient
	Horizon float64 `json:"kl_horizon"` // episodes over which Coef may change by 20 %
}

// Validate reports a controller that cannot run.
func (c *KLController) Validate() error {
	switch {
	case !(c.Coef >= 0) || math.IsInf(c.Coef, 0):
		return fmt.Errorf("kl coef %v: want a finite value >= 0", c.Coef)
	case !(c.Target >= 0) || math.IsInf(c.Target, 0):
		return fmt.Errorf("target kl %v: want a finite value >= 0 (0 keeps the coefficient fixed)", c.Target)
	case c.Target > 0 && !(c.Horizon > 0):
		return fmt.Errorf("kl horizon %v: want > 0 with an adaptive controller", c.Horizon)
	}
	return nil
}

// Update adapts Coef to the mean KL of a batch of n episodes and returns it.
func (c *KLController) Update(kl float64, n int) float64 {
	if c.Target == 0 || math.IsNaN(kl) {
		return c.Coef
	}
	e := math.Max(-0.2, math.Min(0.2, kl/c.Target-1))
	c.Coef *= 1 + e*float64(n)/c.Horizon
	return c.Coef
}
