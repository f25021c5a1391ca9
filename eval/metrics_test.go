package eval

import (
	"math"
	"testing"
)

// Every expected value below is worked by hand in the comment beside it.

func near(t *testing.T, name string, got, want float64) {
	t.Helper()
	if math.Abs(got-want) > 1e-6 {
		t.Errorf("%s = %.7f, want %.7f", name, got, want)
	}
}

func TestDistinctN(t *testing.T) {
	c := [][]string{{"a", "b", "a"}, {"a", "c"}}
	near(t, "distinct-1", DistinctN(c, 1), 3.0/5) // a b a a c: {a,b,c} of 5
	near(t, "distinct-2", DistinctN(c, 2), 1)     // ab ba ac: all unique
	ids := [][]int32{{1, 1, 1, 1}}
	near(t, "distinct-2 repeat", DistinctN(ids, 2), 1.0/3) // (1,1) three times
	near(t, "distinct-1 repeat", DistinctN(ids, 1), 1.0/4)
	near(t, "no n-grams", DistinctN([][]int32{{1}}, 2), 0)
}

func TestBLEU(t *testing.T) {
	w := Words
	cases := []struct {
		name string
		hyp  string
		refs []string
		want float64
	}{
		// p1 3/4, p2 (2+1)/(3+1), p3 (1+1)/(2+1), p4 (0+1)/(1+1); equal lengths.
		{"near copy", "a b c d", []string{"a b c e"}, math.Pow(0.75*0.75*(2.0/3)*0.5, 0.25)},
		// all precisions 1 (smoothed 1/1 for n ≥ 3), brevity exp(1 − 4/2).
		{"short", "a b", []string{"a b c d"}, math.Exp(-1)},
		// clipping: p1 1/4 (one "a" in the ref), p2 (0+1)/(3+1), p3 1/3, p4 1/2.
		{"clipped", "a a a a", []string{"a b"}, math.Pow(1.0/96, 0.25)},
		{"identical", "x y z w v", []string{"x y z w v"}, 1},
		{"disjoint", "a b", []string{"c d"}, 0},
		// closest reference: length 4 (exact) beats length 2, so no penalty.
		{"closest ref", "a b c d", []string{"a b c e", "q r"}, math.Pow(0.75*0.75*(2.0/3)*0.5, 0.25)},
	}
	for _, c := range cases {
		refs := make([][]string, len(c.refs))
		for i, r := range c.refs {
			refs[i] = w(r)
		}
		near(t, c.name, BLEU(w(c.hyp), refs, 4), c.want)
	}
}

func TestSelfBLEU(t *testing.T) {
	same := [][]string{Words("the cat sat"), Words("the cat sat")}
	near(t, "identical pair", SelfBLEU(same), 1)
	// The two near copies score 0.658037 each against the set (the
	// closest-length reference is the other copy); "x y" shares no word: 0.
	three := [][]string{Words("a b c d"), Words("a b c e"), Words("x y")}
	b := math.Pow(0.75*0.75*(2.0/3)*0.5, 0.25)
	near(t, "three", SelfBLEU(three), 2*b/3)
	near(t, "single", SelfBLEU(three[:1]), 0)
}

func TestWinRateTiesHalf(t *testing.T) {
	js := []Judgment{
		{PA: 0.9},                     // win
		{PA: 0.2},                     // loss
		{PA: 0.5},                     // tie
		{PA: 0.7, Inconsistent: true}, // win, orders disagreed
		{PA: 0.6, Tie: true},          // tie flagged by the judge
	}
	w, err := WinRateOf(js)
	if err != nil {
		t.Fatal(err)
	}
	if w.Wins != 2 || w.Losses != 1 || w.Ties != 2 || w.Incon != 1 {
		t.Errorf("counts %+v, want 2 wins, 1 loss, 2 ties, 1 inconsistent", w)
	}
	near(t, "rate", w.Rate, (2+0.5*2)/5.0) // 0.6
	if _, err := WinRateOf(nil); err == nil {
		t.Error("win-rate of nothing: no error")
	}
}

func TestLengthKLPassMean(t *testing.T) {
	d, err := LengthDrift([]int{10, 20}, []int{10, 10})
	if err != nil {
		t.Fatal(err)
	}
	near(t, "length drift", d, 0.5) // 15 / 10 − 1
	if _, err := LengthDrift([]int{1}, nil); err == nil {
		t.Error("length drift without baseline: no error")
	}

	// Completion 1: p = ½, q = ¼ at its one token: k1 = ln 2,
	// k3 = (q/p − 1) − ln(q/p) = −½ + ln 2. Completion 2: p = q, both 0.
	lp := [][]float64{{math.Log(0.5)}, {math.Log(0.3), math.Log(0.9)}}
	lq := [][]float64{{math.Log(0.25)}, {math.Log(0.3), math.Log(0.9)}}
	k1, k3, err := KL(lp, lq)
	if err != nil {
		t.Fatal(err)
	}
	near(t, "k1", k1, math.Ln2/2)
	near(t, "k3", k3, (math.Ln2-0.5)/2)
	if _, _, err := KL(lp, lq[:1]); err == nil {
		t.Error("KL with mismatched completions: no error")
	}

	near(t, "pass rate", PassRate([]bool{true, false, true, true}), 0.75)
	m, s := MeanStd([]float64{1, 2, 3, 4})
	near(t, "mean", m, 2.5)
	near(t, "std", s, math.Sqrt(1.25)) // (2.25+0.25+0.25+2.25)/4
}
