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
