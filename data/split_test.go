package data

import (
	"reflect"
	"slices"
	"testing"
)

// The reference sequences below come from an independent Python
// implementation of PCG-DXSM (checked against Go's own PCG test vectors),
// Lemire's bounded draw and Fisher-Yates from the end.

func TestRNGReference(t *testing.T) {
	r := NewRNG(1, 2)
	for i, want := range []uint64{0xc4f5a58656eef510, 0x9dcec3ad077dec6c, 0xc8d04605312f8088} {
		if got := r.Uint64(); got != want {
			t.Fatalf("Uint64 #%d = %#x, want %#x", i, got, want)
		}
	}
	cases := []struct {
		seed, stream, n uint64
		want            []uint64
	}{
		{42, 3, 1000003, []uint64{705171, 941413, 83465, 578035, 848914}},
		// n just above 2^63 rejects about half the draws: covers the loop.
		{42, 3, 1<<63 + 1, []uint64{8682984435131043152, 5331423110332325250, 7829826518206416940,
			3089667060382811825, 6666813019952762631, 9050048055190407712}},
	}
	for _, c := range cases {
		r := NewRNG(c.seed, c.stream)
		for i, want := range c.want {
			if got := r.Uint64n(c.n); got != want {
				t.Fatalf("Uint64n(%d) #%d = %d, want %d", c.n, i, got, want)
			}
		}
	}
	perms := []struct {
		seed, stream uint64
		n            int
		want         []int
	}{
		{7, 0, 10, []int{7, 8, 6, 4, 3, 5, 1, 0, 9, 2}},
		{42, 3, 20, []int{12, 3, 7, 0, 8, 10, 2, 6, 18, 15, 5, 11, 16, 4, 19, 13, 9, 1, 17, 14}},
	}
	for _, c := range perms {
		if got := NewRNG(c.seed, c.stream).Perm(c.n); !slices.Equal(got, c.want) {
			t.Fatalf("Perm(%d) seed %d/%d = %v, want %v", c.n, c.seed, c.stream, got, c.want)
		}
	}
	if got, want := EpochOrder(12, 5, 2), []int{8, 1, 10, 6, 2, 4, 0, 7, 3, 11, 9, 5}; !slices.Equal(got, want) {
		t.Fatalf("EpochOrder = %v, want %v", got, want)
	}
	if slices.Equal(EpochOrder(12, 5, 2), EpochOrder(12, 5, 3)) {
		t.Fatal("epochs 2 and 3 share an order")
	}
}

func TestRNGSaveRestore(t *testing.T) {
	r := NewRNG(11, 0)
	xs := make([]int, 50)
	for i := range xs {
		xs[i] = i
	}
	Shuffle(xs, r)
	state, err := r.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	a := slices.Clone(xs)
	Shuffle(a, r)
	tail := r.Uint64()

	var back RNG
	if err := back.UnmarshalBinary(state); err != nil {
		t.Fatal(err)
	}
	b := slices.Clone(xs)
	Shuffle(b, &back)
	if !slices.Equal(a, b) || back.Uint64() != tail {
		t.Fatal("restored RNG diverged")
	}
	if err := back.UnmarshalBinary([]byte("junk")); err == nil {
		t.Fatal("bad state accepted")
	}
}

func TestSplit(t *testing.T) {
	rows := []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}
	// Seed 9's split permutation is [6 4 5 2 8 0 3 1 9 7] (Python
	// reference); the first three are held out and both parts keep order.
	train, eval, err := Split(rows, 0.3, 9)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(eval, []int{4, 5, 6}) || !slices.Equal(train, []int{0, 1, 2, 3, 7, 8, 9}) {
		t.Fatalf("train %v eval %v", train, eval)
	}
	train2, eval2, _ := Split(rows, 0.3, 9)
	if !reflect.DeepEqual(train, train2) || !reflect.DeepEqual(eval, eval2) {
		t.Fatal("split not deterministic")
	}

	sizes := []struct {
		n     int
		frac  float64
		eval  int
		fails bool
	}{
		{10, 0, 0, false},
		{10, 0.01, 1, false}, // a positive fraction holds out at least one row
		{10, 0.25, 3, false}, // round(2.5) = 3
		{1000, 0.05, 50, false},
		{0, 0.1, 0, false},
		{1, 0.5, 0, true}, // would leave no training rows
		{10, 1, 0, true},
		{10, -0.1, 0, true},
	}
	for _, c := range sizes {
		rows := make([]int, c.n)
		for i := range rows {
			rows[i] = i
		}
		train, eval, err := Split(rows, c.frac, 1)
		if c.fails {
			if err == nil {
				t.Errorf("n=%d frac=%v: no error", c.n, c.frac)
			}
			continue
		}
		if err != nil || len(eval) != c.eval || len(train)+len(eval) != c.n {
			t.Errorf("n=%d frac=%v: %d/%d %v", c.n, c.frac, len(train), len(eval), err)
			continue
		}
		all := append(slices.Clone(train), eval...)
		slices.Sort(all)
		for i, x := range all {
			if x != i {
				t.Fatalf("n=%d: split lost or duplicated rows", c.n)
			}
		}
	}
}

// TestShuffleUniform checks that every position is equally likely to receive
// every item, which a biased bounded draw or an off-by-one in the loop
// would break.
func TestShuffleUniform(t *testing.T) {
	const n, trials = 5, 50000
	var counts [n][n]int
	r := NewRNG(3, 0)
	for range trials {
		for pos, item := range r.Perm(n) {
			counts[pos][item]++
		}
	}
	expect := float64(trials) / n
	chi2 := 0.0
	for pos := range n {
		for item := range n {
			d := float64(counts[pos][item]) - expect
			chi2 += d * d / expect
		}
	}
	// 16 degrees of freedom; P(chi2 > 45) is about 1e-4.
	if chi2 > 45 {
		t.Fatalf("chi2 = %.1f, counts %v", chi2, counts)
	}
}
