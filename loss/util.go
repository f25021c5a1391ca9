package loss

import (
	"fmt"
	"math"
)

// logSigmoid is log σ(x), computed without overflow for either sign.
func logSigmoid(x float64) float64 {
	if x >= 0 {
		return -math.Log1p(math.Exp(-x))
	}
	return x - math.Log1p(math.Exp(x))
}

// sigmoid is σ(x) without overflow for either sign.
func sigmoid(x float64) float64 {
	if x >= 0 {
		return 1 / (1 + math.Exp(-x))
	}
	e := math.Exp(x)
	return e / (1 + e)
}

func checkVec(name string, x []float64, n int) error {
	if len(x) != n {
		return fmt.Errorf("loss: %s has %d values, want %d", name, len(x), n)
	}
	for i, v := range x {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("loss: %s[%d] is %v", name, i, v)
		}
	}
	return nil
}

// checkLabels validates per-pair soft labels (nil: every pair is p = 1).
func checkLabels(p []float64, n int) error {
	if p == nil {
		return nil
	}
	if len(p) != n {
		return fmt.Errorf("loss: p_chosen has %d values, want %d", len(p), n)
	}
	for i, v := range p {
		if !(v >= 0 && v <= 1) {
			return fmt.Errorf("loss: p_chosen[%d] = %v outside [0,1]", i, v)
		}
	}
	return nil
}

// agreement scores whether a model that prefers chosen (c > r), rejected
// (r > c) or neither agrees with the soft label p: 1 when it sides with
// p > 0.5 or p < 0.5, 0 when it does not (a model tie agrees with no
// label), and ½ for p = 0.5 whatever the model says. Counting label ties
// as half, rather than leaving them out, keeps the metric a mean over all
// pairs, which the training loop needs to add up micro-batches; and it is
// what an uninformed guess scores on them. With p = 1 it is the plain
// accuracy, 1 exactly when c > r.
func agreement(c, r, p float64) float64 {
	switch {
	case p == 0.5:
		return 0.5
	case p > 0.5 && c > r, p < 0.5 && r > c:
		return 1
	}
	return 0
}

func checkParam(name string, v float64) error {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return fmt.Errorf("loss: %s is %v", name, v)
	}
	return nil
}

// shape checks a token-level [B, T] mask and returns B.
func shape(mask []float64, T int) (int, error) {
	if T <= 0 {
		return 0, fmt.Errorf("loss: sequence length T = %d must be positive", T)
	}
	if len(mask)%T != 0 {
		return 0, fmt.Errorf("loss: mask has %d values, not a multiple of T = %d", len(mask), T)
	}
	if err := checkVec("mask", mask, len(mask)); err != nil {
		return 0, err
	}
	for i, m := range mask {
		if m < 0 {
			return 0, fmt.Errorf("loss: mask[%d] = %v is negative", i, m)
		}
	}
	return len(mask) / T, nil
}
