package loss

import (
	"strings"
	"testing"
)

// TestTokenRewards by hand: row 0 ends in EOS at column 2 with one pad after
// it, row 1 runs to the last column, row 2's prompt is left-padded (masked)
// and its completion is one token. coef 0.5.
func TestTokenRewards(t *testing.T) {
	mask := []float64{
		1, 1, 1, 0,
		0, 1, 1, 1,
		0, 0, 1, 0,
	}
	kl := []float64{
		0.2, -0.4, 1, 9, // 9 sits on padding: never read
		7, 0.1, 0, 2,
		5, 5, -2, 3,
	}
	scores := []float64{3, -1, 0.25}
	r, ns, err := TokenRewards(scores, kl, mask, 4, 0.5)
	if err != nil {
		t.Fatal(err)
	}
	want := []float64{
		-0.1, 0.2, -0.5 + 3, 0,
		0, -0.05, 0, -1 - 1,
		0, 0, 1 + 0.25, 0,
	}
	wantNS := []float64{-0.1, 0.2, -0.5, 0, 0, -0.05, 0, -1, 0, 0, 1, 0}
	for i := range want {
		if !near(r[i], want[i]) || !near(ns[i], wantNS[i]) {
			t.Errorf("[%d]: reward %v (want %v), non-score %v (want %v)", i, r[i], want[i], ns[i], wantNS[i])
		}
	}
	if _, _, err := TokenRewards(scores, kl, []float64{1, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1}, 4, 0.5); err == nil || !strings.Contains(err.Error(), "row 1") {
		t.Errorf("a row without tokens: %v", err)
	}
	if _, _, err := TokenRewards(scores[:2], kl, mask, 4, 0.5); err == nil {
		t.Error("two scores for three rows accepted")
	}
}
