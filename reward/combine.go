package reward

import (
	"context"
	"errors"
	"fmt"
	"io"
)

// Combined is a weighted sum of rewards. Trainers log the total as
// "reward" and each part as "reward/<Names[i]>".
type Combined struct {
	Funcs   []Func
	Weights []float64
	// Names are the parts' metric names, made unique ("regex", "regex_2").
	Names []string
}

// Combine weights funcs; nil weights mean 1 each.
func Combine(funcs []Func, weights []float64) (*Combined, error) {
	if len(funcs) == 0 {
		return nil, errors.New("reward: no reward functions")
	}
	if weights == nil {
		weights = make([]float64, len(funcs))
		for i := range weights {
			weights[i] = 1
		}
	}
	if len(weights) != len(funcs) {
		return nil, fmt.Errorf("reward: %d weights for %d rewards", len(weights), len(funcs))
	}
	c := &Combined{Funcs: funcs, Weights: weights}
	seen := map[string]int{}
	for _, f := range funcs {
		n := f.Name()
		seen[n]++
		if seen[n] > 1 {
			n = fmt.Sprintf("%s_%d", n, seen[n])
		}
		c.Names = append(c.Names, n)
	}
	return c, nil
}

// Name is the metric name of the total.
func (c *Combined) Name() string { return "reward" }

// Score returns the weighted totals.
func (c *Combined) Score(ctx context.Context, samples []Sample) ([]float64, error) {
	total, _, err := c.ScoreParts(ctx, samples)
	return total, err
}

// ScoreParts returns the weighted totals and each reward's unweighted
// scores (parts[i][j]: reward i, sample j).
func (c *Combined) ScoreParts(ctx context.Context, samples []Sample) (total []float64, parts [][]float64, err error) {
	total = make([]float64, len(samples))
	for i, f := range c.Funcs {
		s, err := f.Score(ctx, samples)
		if err != nil {
			return nil, nil, fmt.Errorf("reward %s: %w", c.Names[i], err)
		}
		if len(s) != len(samples) {
			return nil, nil, fmt.Errorf("reward %s: %d scores for %d samples", c.Names[i], len(s), len(samples))
		}
		for j, v := range s {
			total[j] += c.Weights[i] * v
		}
		parts = append(parts, s)
	}
	return total, parts, nil
}

// Close closes every part that holds resources (cmd: programs).
func (c *Combined) Close() error {
	var errs []error
	for _, f := range c.Funcs {
		if cl, ok := f.(io.Closer); ok {
			errs = append(errs, cl.Close())
		}
	}
	return errors.Join(errs...)
}
