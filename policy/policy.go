// Package policy turns a causal LM's logits over a prepared rollout batch
// (generate.Rollout: prompt left-padded, completion right-padded) into the
// per-token quantities RL losses need — the log-prob of each sampled token
// at the sampling temperature (logits/temperature, as TRL does), the
// entropy of that distribution and the raw (temperature 1) log-prob for
// comparing with generation — and turns d(loss)/d(logp) and
// d(loss)/d(entropy) back into d(loss)/d(logits) for model.Backward.
//
// Position t of a row holds the token predicted by the logits at t−1, so
// every [B,T] output is aligned with the rollout's IDs and CompletionMask.
// Work is one vocabulary row at a time in float64; nothing [B,T,V] is kept
// beyond the model's own float32 logits.
//
//	lg, _, _ := m.Forward(model.Batch{B: ro.B, T: ro.T, IDs: ro.IDs, Mask: ro.Mask}, true)
//	tp := policy.LogProbs(lg, ro.IDs, ro.CompletionMask, ro.B, ro.T, V, temp)
//	... loss gives dlogp (and optionally dent) per token ...
//	policy.Backward(dlogits, lg, ro.IDs, dlogp, dent, ro.T, V, temp)
//	m.Backward(dlogits, nil)
package policy

import (
	"math"

	"github.com/align-go/align/tensor"
)

// Tokens are per-token values, [B,T], zero where the completion mask is 0.
type Tokens struct {
	Logp    []float64 // log softmax(logits/temp)[id]
	Entropy []float64 // −Σ p log p of softmax(logits/temp)
	Raw     []float64 // log softmax(logits)[id], generation's convention
}

// rowStats returns max(x/temp) and log Σ exp(x/temp − max).
func rowStats(row []float32, inv float64) (mx, lse float64) {
	mx = math.Inf(-1)
	for _, l := range row {
		mx = math.Max(mx, float64(l)*inv)
	}
	s := 0.0
	for _, l := range row {
		s += math.Exp(float64(l)*inv - mx)
	}
	return mx, math.Log(s)
}

// LogProbs computes Tokens for every position with cmask = 1 (the first
// column of a row never is: nothing predicts it).
func LogProbs(logits []float32, ids, cmask []int32, B, T, V int, temp float64) Tokens {
	n := B * T
	out := Tokens{Logp: make([]float64, n), Entropy: make([]float64, n), Raw: make([]float64, n)}
	inv := 1 / temp
	tensor.ParallelFor(n, 16, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			if cmask[i] == 0 || i%T == 0 {
				continue
			}
			row := logits[(i-1)*V : i*V]
			mx, lse := rowStats(row, inv)
			z := mx + lse
			ent := 0.0
			for _, l := range row {
				x := float64(l)*inv - z
				ent -= math.Exp(x) * x
			}
			out.Logp[i] = float64(row[ids[i]])*inv - z
			out.Entropy[i] = ent
			if temp == 1 {
				out.Raw[i] = out.Logp[i]
			} else {
				m1, l1 := rowStats(row, 1)
				out.Raw[i] = float64(row[ids[i]]) - m1 - l1
			}
		}
	})
	return out
}

// Backward writes d(loss)/d(logits) into dlogits (cleared first) from
// dlogp and dent (either may be nil), both [B,T] as LogProbs returns them.
// With p = softmax(z), z = logits/temp and H = −Σ p log p:
//
//	d logp_id / d z_v = 1[v = id] − p_v
//	d H / d z_v       = −p_v (log p_v + H)
//
// and d/d logits = d/dz / temp.
func Backward(dlogits, logits []float32, ids []int32, dlogp, dent []float64, T, V int, temp float64) {
	clear(dlogits)
	inv := 1 / temp
	n := len(logits) / V
	tensor.ParallelFor(n, 16, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			var gl, ge float64
			if dlogp != nil {
				gl = dlogp[i]
			}
			if dent != nil {
				ge = dent[i]
			}
			if (gl == 0 && ge == 0) || i%T == 0 {
				continue
			}
			row, d := logits[(i-1)*V:i*V], dlogits[(i-1)*V:i*V]
			mx, lse := rowStats(row, inv)
			z := mx + lse
			h := 0.0
			if ge != 0 {
				for _, l := range row {
					x := float64(l)*inv - z
					h -= math.Exp(x) * x
				}
			}
			for v, l := range row {
				x := float64(l)*inv - z
				p := math.Exp(x)
				d[v] = float32((-p*gl - ge*p*(x+h)) * inv)
			}
			d[ids[i]] += float32(gl * inv)
		}
	})
}
