package policy

import (
	"math"
	"math/rand/v2"
	"testing"
)

// direct computes log softmax(x/temp)[id] and the entropy in the plainest
// way, for finite differences and comparison.
func direct(row []float64, id int, temp float64) (float64, float64) {
	z := 0.0
	for _, l := range row {
		z += math.Exp(l / temp)
	}
	ent := 0.0
	for _, l := range row {
		p := math.Exp(l/temp) / z
		ent -= p * math.Log(p)
	}
	return row[id]/temp - math.Log(z), ent
}

func TestLogProbsAndBackwardAgainstFiniteDifferences(t *testing.T) {
	const B, T, V = 2, 4, 5
	const temp = 0.7
	r := rand.New(rand.NewPCG(1, 2))
	logits := make([]float32, B*T*V)
	for i := range logits {
		logits[i] = float32(r.NormFloat64() * 2)
	}
	ids := []int32{0, 1, 3, 2, 4, 0, 2, 1}
	cmask := []int32{0, 0, 1, 1, 0, 1, 1, 0} // row 1: completion after a 1-token prompt, right-padded
	tp := LogProbs(logits, ids, cmask, B, T, V, temp)
	row := func(i int) []float64 {
		out := make([]float64, V)
		for v := range out {
			out[v] = float64(logits[(i-1)*V+v])
		}
		return out
	}
	for i, m := range cmask {
		if m == 0 {
			if tp.Logp[i] != 0 || tp.Entropy[i] != 0 {
				t.Errorf("masked position %d: logp %v entropy %v, want 0", i, tp.Logp[i], tp.Entropy[i])
			}
			continue
		}
		lp, ent := direct(row(i), int(ids[i]), temp)
		raw, _ := direct(row(i), int(ids[i]), 1)
		if math.Abs(lp-tp.Logp[i]) > 1e-9 || math.Abs(ent-tp.Entropy[i]) > 1e-9 || math.Abs(raw-tp.Raw[i]) > 1e-9 {
			t.Errorf("position %d: got (%v %v %v), want (%v %v %v)", i, tp.Logp[i], tp.Entropy[i], tp.Raw[i], lp, ent, raw)
		}
	}
	// L = Σ a_i logp_i + Σ b_i H_i with random a, b.
	a, b := make([]float64, B*T), make([]float64, B*T)
	for i, m := range cmask {
		if m != 0 {
			a[i], b[i] = r.NormFloat64(), r.NormFloat64()
		}
	}
	d := make([]float32, len(logits))
	Backward(d, logits, ids, a, b, T, V, temp)
	L := func() float64 {
		s := 0.0
		for i, m := range cmask {
			if m != 0 {
				lp, ent := direct(row(i), int(ids[i]), temp)
				s += a[i]*lp + b[i]*ent
			}
		}
		return s
	}
	for k := range logits {
		old := logits[k]
		const h = 1e-2
		logits[k] = old + h
		up := L()
		logits[k] = old - h
		dn := L()
		logits[k] = old
		fd := (up - dn) / (2 * h)
		if math.Abs(fd-float64(d[k])) > 1e-3*(1+math.Abs(fd)) {
			t.Errorf("d logits[%d] = %v, finite difference %v", k, d[k], fd)
		}
	}
}
