package judge

import (
	"context"
	"fmt"
)

// Pairwise is a comparison judged in both orders.
type Pairwise struct {
	// PA is P(A better) averaged over the orders: (P_AB(A) + 1 - P_BA(B)) / 2,
	// so a judge that always picks the first position gives 0.5.
	PA float64
	// AB and BA are the raw answers in each order (BA.PA is P(B better)).
	AB, BA Preference
	// Tie: PA is 0.5. Inconsistent: the two orders do not give the same
	// verdict — opposite winners (position bias outweighs the content), or a
	// tie in one order and a winner in the other. This is the one
	// consistency rule: eval's win-rates and cai's labels both use it.
	Tie, Inconsistent bool
}

// CompareBoth asks j every comparison as given and with A and B swapped, in
// one batch (all as given, then all swapped), and combines the two answers.
// A probability outside [0,1] is an error naming the comparison.
func CompareBoth(ctx context.Context, j Judge, reqs []Comparison) ([]Pairwise, error) {
	all := make([]Comparison, 0, 2*len(reqs))
	all = append(all, reqs...)
	for _, c := range reqs {
		c.A, c.B = c.B, c.A
		all = append(all, c)
	}
	prefs, err := j.Compare(ctx, all)
	if err != nil {
		return nil, err
	}
	if len(prefs) != len(all) {
		return nil, fmt.Errorf("judge answered %d of %d comparisons", len(prefs), len(all))
	}
	out := make([]Pairwise, len(reqs))
	for i := range reqs {
		ab, ba := prefs[i], prefs[len(reqs)+i]
		for _, p := range []float64{ab.PA, ba.PA} {
			if !(p >= 0 && p <= 1) {
				return nil, fmt.Errorf("comparison %d: judge probability %v outside [0,1]", i, p)
			}
		}
		p1, p2 := ab.PA, 1-ba.PA // both P(A better)
		w1, w2 := side(p1), side(p2)
		pa := (p1 + p2) / 2
		out[i] = Pairwise{PA: pa, AB: ab, BA: ba, Tie: side(pa) == 0, Inconsistent: w1 != w2}
	}
	return out, nil
}

// side is +1 when p favours A, -1 when it favours B, 0 at a tie (within
// float rounding of averaged probabilities).
func side(p float64) int {
	const eps = 1e-9
	switch {
	case p > 0.5+eps:
		return 1
	case p < 0.5-eps:
		return -1
	}
	return 0
}
