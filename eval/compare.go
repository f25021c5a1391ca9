package eval

import (
	"errors"
	"math"
)

// Judgment is one pairwise verdict on the model's completion (A) against
// the baseline's (B), asked in both orders: PA is P(model better) averaged
// over the orders, Tie a verdict of 0.5 in effect, Inconsistent true when
// the two orders disagree (position bias rather than preference).
type Judgment struct {
	PA           float64
	Tie          bool
	Inconsistent bool
}

// WinRate summarises judgments: wins count 1, ties ½ (the usual
// convention, e.g. AlpacaEval), losses 0. A judgment is a win when PA > ½,
// a loss when PA < ½ and a tie when PA = ½ or Tie is set.
type WinRate struct {
	Rate   float64 `json:"rate"`
	Wins   int     `json:"wins"`
	Ties   int     `json:"ties"`
	Losses int     `json:"losses"`
	Incon  int     `json:"inconsistent"`
}

// WinRateOf computes the win-rate of judgments. It fails on an empty set
// rather than report a meaningless 0.
func WinRateOf(js []Judgment) (WinRate, error) {
	if len(js) == 0 {
		return WinRate{}, errors.New("eval: win-rate of no judgments")
	}
	var w WinRate
	for _, j := range js {
		switch {
		case j.Tie || j.PA == 0.5:
			w.Ties++
		case j.PA > 0.5:
			w.Wins++
		default:
			w.Losses++
		}
		if j.Inconsistent {
			w.Incon++
		}
	}
	w.Rate = (float64(w.Wins) + 0.5*float64(w.Ties)) / float64(len(js))
	return w, nil
}

// LengthDrift is the model's mean completion length over the baseline's,
// minus one: +0.25 means completions grew by a quarter, the classic sign
// of a policy hacking a length-biased reward.
func LengthDrift(model, baseline []int) (float64, error) {
	m, b := meanInt(model), meanInt(baseline)
	if len(model) == 0 || len(baseline) == 0 || b == 0 {
		return 0, errors.New("eval: length drift needs completions with a non-zero baseline mean length")
	}
	return m/b - 1, nil
}

// KL estimates KL(model ‖ baseline) from completions sampled from the
// model: for each completion the per-token log-probs under both, k1 sums
// logp − logq (unbiased, can go negative on few samples), k3 sums
// (r − 1) − log r with r = q/p (Schulman 2020; non-negative, lower
// variance). Both are means over completions of the per-sequence sums.
func KL(logp, logq [][]float64) (k1, k3 float64, err error) {
	if len(logp) == 0 || len(logp) != len(logq) {
		return 0, 0, errors.New("eval: KL needs the same, non-zero number of completions under both models")
	}
	for i := range logp {
		if len(logp[i]) != len(logq[i]) {
			return 0, 0, errors.New("eval: KL: completion token counts differ between the models")
		}
		for t := range logp[i] {
			d := logq[i][t] - logp[i][t]
			k1 -= d
			k3 += math.Expm1(d) - d
		}
	}
	n := float64(len(logp))
	return k1 / n, k3 / n, nil
}

// PassRate is the share of red-team prompts whose response passed (was
// refused or harmless).
func PassRate(passed []bool) float64 {
	if len(passed) == 0 {
		return 0
	}
	n := 0
	for _, p := range passed {
		if p {
			n++
		}
	}
	return float64(n) / float64(len(passed))
}

// MeanStd is the mean and population standard deviation of scores (as
// TRL logs reward_std).
func MeanStd(x []float64) (mean, std float64) {
	if len(x) == 0 {
		return math.NaN(), math.NaN()
	}
	for _, v := range x {
		mean += v
	}
	mean /= float64(len(x))
	for _, v := range x {
		std += (v - mean) * (v - mean)
	}
	return mean, math.Sqrt(std / float64(len(x)))
}

func meanInt(x []int) float64 {
	s := 0
	for _, v := range x {
		s += v
	}
	return float64(s) / float64(max(1, len(x)))
}
