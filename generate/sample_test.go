package generate

import (
	"math"
	"math/rand/v2"
	"sort"
	"testing"
)

func logits64(p []float64) []float32 {
	out := make([]float32, len(p))
	for i, v := range p {
		out[i] = float32(math.Log(v))
	}
	return out
}

// TestSamplerFrequencies draws many tokens and compares the frequencies with
// distributions worked out by hand from the definitions.
func TestSamplerFrequencies(t *testing.T) {
	// Probabilities, deliberately not sorted by id.
	base := []float64{0.15, 0.5, 0.05, 0.2, 0.1}
	sq := []float64{math.Sqrt(0.15), math.Sqrt(0.5), math.Sqrt(0.05), math.Sqrt(0.2), math.Sqrt(0.1)}
	norm := func(w []float64) []float64 {
		s := 0.0
		for _, v := range w {
			s += v
		}
		out := make([]float64, len(w))
		for i, v := range w {
			out[i] = v / s
		}
		return out
	}
	for _, tc := range []struct {
		name string
		s    Sampling
		want []float64
	}{
		{"temperature 1", Sampling{Temperature: 1}, base},
		// p^(1/T) renormalised: T=2 is the square root.
		{"temperature 2", Sampling{Temperature: 2}, norm(sq)},
		{"top-k 3", Sampling{Temperature: 1, TopK: 3}, norm([]float64{0.15, 0.5, 0, 0.2, 0})},
		// Mass above 0.2 is 0.5 < 0.6: kept; above 0.15 is 0.7: dropped.
		{"top-p 0.6", Sampling{Temperature: 1, TopP: 0.6}, norm([]float64{0, 0.5, 0, 0.2, 0})},
		// 0.5 alone already reaches 0.45.
		{"top-p 0.45", Sampling{Temperature: 1, TopP: 0.45}, []float64{0, 1, 0, 0, 0}},
		{"top-p 0.9", Sampling{Temperature: 1, TopP: 0.9}, norm([]float64{0.15, 0.5, 0, 0.2, 0.1})},
		// top-k first (keeps .5,.2,.15), then top-p over the renormalised
		// three: .5/.85 = .588 < .65 so .2 is kept; .7/.85 = .82 ≥ .65 drops .15.
		{"top-k then top-p", Sampling{Temperature: 1, TopK: 3, TopP: 0.65}, norm([]float64{0, 0.5, 0, 0.2, 0})},
		{"top-k 1 is greedy", Sampling{Temperature: 1.5, TopK: 1}, []float64{0, 1, 0, 0, 0}},
		{"greedy", Sampling{}, []float64{0, 1, 0, 0, 0}},
		// Bias ln 0.2 on token 1 scales its weight 0.5 to 0.1; id 9 is past
		// the vocabulary and ignored.
		{"logit bias", Sampling{Temperature: 1, LogitBias: map[int32]float32{1: float32(math.Log(0.2)), 9: 5}},
			norm([]float64{0.15, 0.1, 0.05, 0.2, 0.1})},
		// Greedy sees the bias too: ln 0.2 + 1 = -0.61 beats ln 0.5 = -0.69.
		{"greedy logit bias", Sampling{LogitBias: map[int32]float32{3: 1}}, []float64{0, 0, 0, 1, 0}},
	} {
		const draws = 40000
		s := Sampler{Sampling: tc.s}
		rng := rand.New(rand.NewPCG(1, 2))
		counts := make([]float64, len(base))
		lg := logits64(base)
		for i := 0; i < draws; i++ {
			counts[s.Sample(lg, rng)]++
		}
		for i, w := range tc.want {
			got := counts[i] / draws
			sigma := math.Sqrt(w * (1 - w) / draws)
			if w == 0 && got != 0 || math.Abs(got-w) > 5*sigma+1e-9 {
				t.Errorf("%s: token %d frequency %.4f, want %.4f", tc.name, i, got, w)
			}
		}
	}
}

// TestNucleusLargeVocab checks the thresholded nucleus against a full sort
// on vocabularies where the threshold has to drop several times.
func TestNucleusLargeVocab(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, tc := range []struct {
		V     int
		scale float64
		p     float64
	}{{5000, 1, 0.9}, {5000, 8, 0.5}, {50257, 3, 0.95}, {300, 0.01, 0.99}, {7, 20, 0.999}} {
		lg := make([]float32, tc.V)
		for i := range lg {
			lg[i] = float32(r.NormFloat64() * tc.scale)
		}
		s := Sampler{Sampling: Sampling{Temperature: 1, TopP: tc.p}}
		s.prob = make([]float32, tc.V)
		mx := lg[argmax(lg)]
		var total float64
		for i, l := range lg {
			s.prob[i] = exp32(l - mx)
			total += float64(s.prob[i])
		}
		s.nucleus(total)
		// Reference: sort every id by probability, keep while the mass
		// strictly above is below p.
		idx := make([]int, tc.V)
		for i := range idx {
			idx[i] = i
		}
		sort.SliceStable(idx, func(a, b int) bool { return s.prob[idx[a]] > s.prob[idx[b]] })
		var above float64
		var want []int
		for _, i := range idx {
			if above >= tc.p*total {
				break
			}
			want = append(want, i)
			above += float64(s.prob[i])
		}
		if len(want) != len(s.cand) {
			t.Fatalf("V=%d p=%v: nucleus of %d tokens, want %d", tc.V, tc.p, len(s.cand), len(want))
		}
		for i := range want {
			if int(s.cand[i]) != want[i] {
				t.Fatalf("V=%d p=%v: candidate %d is %d, want %d", tc.V, tc.p, i, s.cand[i], want[i])
			}
		}
	}
}

func TestKthLargest(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for _, n := range []int{1, 2, 5, 100, 1001} {
		x := make([]float32, n)
		for i := range x {
			x[i] = float32(r.IntN(20)) // many ties
		}
		sorted := append([]float32(nil), x...)
		sort.Slice(sorted, func(a, b int) bool { return sorted[a] > sorted[b] })
		var s Sampler
		for _, k := range []int{1, 2, n / 2, n} {
			if k < 1 || k > n {
				continue
			}
			if got := s.kthLargest(x, k); got != sorted[k-1] {
				t.Errorf("n=%d k=%d: got %v, want %v", n, k, got, sorted[k-1])
			}
		}
	}
}

func TestLogProbAndArgmax(t *testing.T) {
	lg := []float32{1, 3, 3, -2}
	// log softmax by hand: log(e^3 / (e + 2e^3 + e^-2)).
	want := 3 - math.Log(math.E+2*math.Exp(3)+math.Exp(-2))
	if got := LogProb(lg, 2); math.Abs(float64(got)-want) > 1e-6 {
		t.Errorf("LogProb = %v, want %v", got, want)
	}
	if got := argmax(lg); got != 1 {
		t.Errorf("argmax = %d, want the first of the tie, 1", got)
	}
	for _, bad := range []Sampling{{Temperature: -1}, {TopK: -2}, {TopP: 1.5}, {Temperature: math.NaN()}} {
		if bad.Validate() == nil {
			t.Errorf("%+v: no error", bad)
		}
	}
}

// TestNewRandFirstDraws: no seed's first completion starts from the tail.
// Raw PCG(0, 0) opens with 0.99993; after mixing, the first draws of
// neighbouring seeds and streams look uniform (mean near 1/2, none at the
// edges more often than chance).
func TestNewRandFirstDraws(t *testing.T) {
	if u := NewRand(0, 0).Float64(); u > 0.999 || u < 0.001 {
		t.Fatalf("seed 0 stream 0 opens with %v", u)
	}
	var sum float64
	var edge int
	const n = 4096
	for i := range uint64(n) {
		u := NewRand(i/64, i%64).Float64()
		sum += u
		if u > 0.99 || u < 0.01 {
			edge++
		}
	}
	if m := sum / n; m < 0.48 || m > 0.52 || edge > 120 {
		t.Fatalf("first draws: mean %.4f, %d of %d within 0.01 of an edge (expect ~82)", m, edge, n)
	}
	if NewRand(1, 2).Uint64() != NewRand(1, 2).Uint64() || NewRand(1, 2).Uint64() == NewRand(2, 1).Uint64() {
		t.Fatal("streams must be deterministic and distinct")
	}
}

// TestSamplerPenalties follows greedy decoding under OpenAI's penalties,
// worked out by hand: logit[j] -= c[j]*frequency + (c[j] > 0)*presence.
func TestSamplerPenalties(t *testing.T) {
	lg := []float32{1, 2, 0.5}
	for _, tc := range []struct {
		name string
		s    Sampling
		want []int32
	}{
		// c=0: 1 (2.0). c1=1: 1.4 still wins. c1=2: 0.8 < 1.0, so 0. Then
		// 0 is at 0.4 and 1 at 0.8: 1. c1=3: 0.2, 0 at 0.4, 2 at 0.5: 2.
		{"frequency 0.6", Sampling{FrequencyPenalty: 0.6}, []int32{1, 1, 0, 1, 2}},
		// Any earlier draw costs 1.5: 1, then 0 (1.0 > 0.5), then 1 and 2
		// tie at 0.5 (lowest id wins) and 0 is at -0.5: 1, 1, ...
		{"presence 1.5", Sampling{PresencePenalty: 1.5}, []int32{1, 0, 1, 1, 1}},
		// A negative penalty rewards repetition.
		{"presence -1", Sampling{PresencePenalty: -1, LogitBias: map[int32]float32{0: 1.5}}, []int32{0, 0, 0, 0, 0}},
	} {
		s := Sampler{Sampling: tc.s}
		for i, w := range tc.want {
			if got := s.Sample(lg, nil); got != w {
				t.Errorf("%s: draw %d is %d, want %d", tc.name, i, got, w)
			}
		}
		if lg[0] != 1 || lg[1] != 2 || lg[2] != 0.5 {
			t.Fatalf("%s: Sample changed its logits: %v", tc.name, lg)
		}
	}
	for _, bad := range []Sampling{{PresencePenalty: 2.5}, {FrequencyPenalty: math.NaN()}, {LogitBias: map[int32]float32{3: 101}}} {
		if bad.Validate() == nil {
			t.Errorf("%+v validated", bad)
		}
	}
}
