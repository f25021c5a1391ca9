package ppo

import "math"

// TODO(policy): the policy/ package (differentiable per-token log-probs at
// the sampling temperature over a generate.Rollout) replaces this file once
// it lands on main.

// tokenLogProbs returns, for every position t with cmask[t] = 1, log
// softmax(logits[t−1]/temp)[ids[t]] (0 elsewhere): the log-prob of each
// sampled token under the distribution it was sampled from.
func tokenLogProbs(logits []float32, ids, cmask []int32, B, T, V int, temp float64) []float64 {
	out := make([]float64, B*T)
	inv := 1 / temp
	for i := range out {
		if cmask[i] == 0 || i%T == 0 {
			continue
		}
		row := logits[(i-1)*V : i*V]
		mx := math.Inf(-1)
		for _, l := range row {
			mx = math.Max(mx, float64(l)*inv)
		}
		s := 0.0
		for _, l := range row {
			s += math.Exp(float64(l)*inv - mx)
		}
		out[i] = float64(row[ids[i]])*inv - mx - math.Log(s)
	}
	return out
}

// tokenLogProbsBackward writes d(loss)/d(logits) given d(loss)/d(logp) per
// position: d logit_v = (1[v = id] − p_v) · g / temp at the row before.
func tokenLogProbsBackward(dlogits, logits []float32, ids []int32, dlogp []float64, T, V int, temp float64) {
	clear(dlogits)
	inv := 1 / temp
	for i, g := range dlogp {
		if g == 0 || i%T == 0 {
			continue
		}
		row, d := logits[(i-1)*V:i*V], dlogits[(i-1)*V:i*V]
		mx := math.Inf(-1)
		for _, l := range row {
			mx = math.Max(mx, float64(l)*inv)
		}
		s := 0.0
		for _, l := range row {
			s += math.Exp(float64(l)*inv - mx)
		}
		for v, l := range row {
			d[v] = float32(-math.Exp(float64(l)*inv-mx) / s * g * inv)
		}
		d[ids[i]] += float32(g * inv)
	}
}
