package generate

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/align-go/align/tensor"
)

// refDraw is the draw without top-p written the plain way: one pass of
// exp((l - max)/T) summed in token order, then a walk from the first token
// until the running sum passes u.
func refDraw(logits []float32, temp float64, thr float32, u01 float64) int32 {
	inv := float32(1 / temp)
	mx := float32(math.Inf(-1))
	for _, l := range logits {
		mx = max(mx, l)
	}
	mx *= inv
	prob := make([]float32, len(logits))
	var total float64
	for i, l := range logits {
		if z := l * inv; z >= thr {
			prob[i] = exp32(z - mx)
			total += float64(prob[i])
		}
	}
	u := u01 * total
	var acc float64
	for i, p := range prob {
		acc += float64(p)
		if u < acc {
			return int32(i)
		}
	}
	return -1
}

// TestSampleBlocksMatchPlainWalk: the threaded exp pass and the walk that
// starts at the drawn token's block pick exactly the token of the plain
// walk, for vocabularies spanning several blocks and threads, with and
// without top-k, at 1 and 2 threads; and greedy picks the first maximum.
func TestSampleBlocksMatchPlainWalk(t *testing.T) {
	old := tensor.Threads()
	defer tensor.SetThreads(old)
	for _, threads := range []int{1, 2} {
		tensor.SetThreads(threads)
		for _, V := range []int{5, sampleBlock + 1, 3*sampleGrain + 17} {
			r := rand.New(rand.NewPCG(uint64(V), 9))
			lg := make([]float32, V)
			for i := range lg {
				lg[i] = float32(r.NormFloat64() * 2)
			}
			for _, c := range []Sampling{{Temperature: 1}, {Temperature: 0.3}, {Temperature: 2, TopK: 40}} {
				s := &Sampler{Sampling: c}
				thr := float32(math.Inf(-1))
				if c.TopK > 0 && c.TopK < V {
					thr = s.kthLargest(lg, c.TopK) * float32(1/c.Temperature)
				}
				for d := 0; d < 200; d++ {
					seed := uint64(d*7 + V)
					got := s.Sample(lg, rand.New(rand.NewPCG(seed, 1)))
					want := refDraw(lg, c.Temperature, thr, rand.New(rand.NewPCG(seed, 1)).Float64())
					if got != want {
						t.Fatalf("threads %d V %d %+v draw %d: token %d, plain walk %d", threads, V, c, d, got, want)
					}
				}
			}
			lg[V-1], lg[V/2] = 50, 50
			if got := (&Sampler{}).Sample(lg, nil); got != int32(V/2) {
				t.Errorf("greedy V %d: %d, want the first maximum %d", V, got, V/2)
			}
		}
	}
}
