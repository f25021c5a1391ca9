package generate

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/align-go/align/grammar"
	"github.com/align-go/align/nn"
	"github.com/align-go/align/tensor"
)

// Sampling says how the next token is drawn from a row of logits. The
// filters apply in HuggingFace's order: temperature, then top-k, then top-p.
type Sampling struct {
	// Temperature divides the logits; 0 means greedy (argmax, lowest id on ties).
	Temperature float64
	// TopK keeps the K most likely tokens (ties with the K-th kept too); 0 = off.
	TopK int
	// TopP keeps the smallest set of most likely tokens whose probability
	// reaches P (nucleus sampling); 0 or 1 = off.
	TopP float64
	// LogitBias is added to the logits of these token ids before anything
	// else, greedy included (OpenAI's logit_bias; -100 bans a token, +100
	// forces it). Ids outside the vocabulary are ignored.
	LogitBias map[int32]float32
	// PresencePenalty is subtracted from the logit of every token the Sampler
	// has already drawn, FrequencyPenalty once per earlier draw of it
	// (OpenAI's definitions: logit[j] -= c[j]*frequency + (c[j] > 0)*presence,
	// over the generated tokens only, not the prompt).
	PresencePenalty, FrequencyPenalty float64
	// Constraint, when set, allows only the tokens that keep the text a
	// prefix of its grammar's sentences (response_format, --response-format),
	// and EOS only where the text is whole. Its mask applies after the bias
	// and penalties, before temperature, top-k and top-p. Its vocabulary
	// must be as wide as the logits.
	Constraint *grammar.Matcher
}

// adjusts reports whether the logits change before sampling.
func (s Sampling) adjusts() bool {
	return len(s.LogitBias) > 0 || s.PresencePenalty != 0 || s.FrequencyPenalty != 0 || s.Constraint != nil
}

// Validate reports a setting that cannot be sampled with.
func (s Sampling) Validate() error {
	switch {
	case s.Temperature < 0 || math.IsNaN(s.Temperature) || math.IsInf(s.Temperature, 0):
		return fmt.Errorf("temperature %v: want a finite value >= 0", s.Temperature)
	case s.TopK < 0:
		return fmt.Errorf("top-k %d: want >= 0", s.TopK)
	case !(s.TopP >= 0 && s.TopP <= 1):
		return fmt.Errorf("top-p %v: want a value in [0, 1]", s.TopP)
	case !(s.PresencePenalty >= -2 && s.PresencePenalty <= 2):
		return fmt.Errorf("presence penalty %v: want a value in [-2, 2]", s.PresencePenalty)
	case !(s.FrequencyPenalty >= -2 && s.FrequencyPenalty <= 2):
		return fmt.Errorf("frequency penalty %v: want a value in [-2, 2]", s.FrequencyPenalty)
	}
	for id, b := range s.LogitBias {
		if !(b >= -100 && b <= 100) {
			return fmt.Errorf("logit bias %v for token %d: want a value in [-100, 100]", b, id)
		}
	}
	return nil
}

// Sampler draws tokens under one Sampling, reusing its buffers between calls.
// It is not safe for concurrent use; use one per goroutine.
type Sampler struct {
	Sampling
	prob  []float32 // [V] unnormalised probabilities of the candidates
	cand  []int32   // candidate token ids
	keys  []float32 // top-k selection scratch
	adj   []float32 // [V] logits after bias and penalties
	marks []float64 // running sum of prob at the start of each sampleBlock
	seen  map[int32]int
	gs    *grammar.State // where the sequence stands under Constraint
	bad   bool           // the constraint allowed no token
}

// Sample draws one token id from logits (one row, length V). With
// Temperature 0 it is the argmax and rng is not used; otherwise it consumes
// exactly one rng draw, so a row's draws do not depend on other rows. With a
// logit bias or a penalty it draws from adjusted logits (logits itself is left
// as it is, so log-probs stay the model's) and counts the token it returns.
func (s *Sampler) Sample(logits []float32, rng *rand.Rand) int32 {
	if !s.adjusts() {
		return s.sample(logits, rng)
	}
	s.adj = append(s.adj[:0], logits...)
	V := int32(len(logits))
	for id, b := range s.LogitBias {
		if id >= 0 && id < V {
			s.adj[id] += b
		}
	}
	for id, c := range s.seen {
		s.adj[id] -= float32(float64(c)*s.FrequencyPenalty + s.PresencePenalty)
	}
	var tok int32
	if s.Constraint != nil {
		tok = s.constrained(rng)
	} else {
		tok = s.sample(s.adj, rng)
	}
	if s.seen == nil {
		s.seen = map[int32]int{}
	}
	s.seen[tok]++
	return tok
}

// constrained samples from s.adj under the constraint and advances it.
func (s *Sampler) constrained(rng *rand.Rand) int32 {
	if s.gs == nil {
		s.gs = s.Constraint.Start()
	}
	// Greedy: the unconstrained argmax, when allowed, is the constrained one
	// (every lower id has a smaller logit), and checking one token is far
	// cheaper than a mask.
	if s.Temperature == 0 {
		if tok := argmax(s.adj); s.gs.Allows(tok) {
			s.gs.Accept(tok)
			return tok
		}
	}
	mask := s.gs.Allowed()
	ninf := float32(math.Inf(-1))
	any := false
	for w := 0; w*64 < len(s.adj); w++ {
		var word uint64
		if w < len(mask) {
			word = mask[w]
		}
		if word == ^uint64(0) {
			any = true
			continue
		}
		any = any || word != 0
		for i := w * 64; i < min(w*64+64, len(s.adj)); i++ {
			if word&(1<<(i&63)) == 0 {
				s.adj[i] = ninf
			}
		}
	}
	if !any {
		// Nothing may follow (a Finished sequence sampled again): end it.
		s.bad = true
		return s.sample(s.adj, rng)
	}
	tok := s.sample(s.adj, rng)
	if err := s.gs.Accept(tok); err != nil {
		s.bad = true
	}
	return tok
}

// Finished reports that the constraint lets nothing more follow the tokens
// sampled so far (its grammar's sentence is complete and cannot grow, or EOS
// was drawn): the caller ends the sequence, as at EOS. Always false without
// a Constraint.
func (s *Sampler) Finished() bool {
	return s.gs != nil && (s.bad || s.gs.Finished())
}

func (s *Sampler) sample(logits []float32, rng *rand.Rand) int32 {
	if s.Temperature == 0 {
		return argmax(logits)
	}
	V := len(logits)
	s.prob = grow(s.prob, V)
	inv := float32(1 / s.Temperature)
	mx := logits[argmax(logits)] * inv
	thr := float32(math.Inf(-1))
	if s.TopK > 0 && s.TopK < V {
		thr = s.kthLargest(logits, s.TopK) * inv
	}
	// exp((l - max)/T) per token; 0 marks a token top-k filtered out. Each
	// is its own, so the pass is split across threads: at Qwen's 151,936
	// tokens one core took ~4 ms a draw, a sixth of a 0.5B decode step.
	prob := s.prob
	tensor.ParallelFor(V, sampleGrain, func(lo, hi int) {
		for i, l := range logits[lo:hi] {
			z := l * inv
			if z < thr {
				prob[lo+i] = 0
				continue
			}
			prob[lo+i] = exp32(z - mx)
		}
	})
	// The total is summed in token order (float64: the draw is the same in
	// any thread count), noting the running sum at the start of each block
	// so that the walk to the drawn token starts at its block.
	nb := (V + sampleBlock - 1) / sampleBlock
	if cap(s.marks) < nb {
		s.marks = make([]float64, nb)
	}
	marks := s.marks[:nb]
	var total float64
	for b := range marks {
		marks[b] = total
		for _, p := range prob[b*sampleBlock : min(b*sampleBlock+sampleBlock, V)] {
			total += float64(p)
		}
	}
	if !(total > 0) || math.IsInf(total, 0) {
		return argmax(logits) // NaN or infinite logits: nothing sensible to sample
	}
	if s.TopP > 0 && s.TopP < 1 {
		total = s.nucleus(total)
		return s.draw(rng.Float64()*total, s.cand)
	}
	// The first token whose running sum passes u: in the first block whose
	// end does (sums only grow), walked from that block's start with the
	// same additions as the total.
	u := rng.Float64() * total
	for b := range marks {
		end := total
		if b+1 < nb {
			end = marks[b+1]
		}
		if !(u < end) {
			continue
		}
		acc := marks[b]
		for i := b * sampleBlock; i < min(b*sampleBlock+sampleBlock, V); i++ {
			acc += float64(prob[i])
			if u < acc {
				return int32(i)
			}
		}
	}
	return lastPositive(s.prob, nil)
}

// draw walks the candidates' masses until they pass u.
func (s *Sampler) draw(u float64, cand []int32) int32 {
	var acc float64
	for _, c := range cand {
		acc += float64(s.prob[c])
		if u < acc {
			return c
		}
	}
	return lastPositive(s.prob, cand)
}

// lastPositive is the answer when rounding leaves u at the very top of the
// mass: the last token (of cand, or of all ids when cand is nil) with mass.
func lastPositive(prob []float32, cand []int32) int32 {
	if cand == nil {
		for i := len(prob) - 1; i >= 0; i-- {
			if prob[i] > 0 {
				return int32(i)
			}
		}
		return 0
	}
	for i := len(cand) - 1; i >= 0; i-- {
		if prob[cand[i]] > 0 {
			return cand[i]
		}
	}
	return cand[0]
}

// nucleus leaves in s.cand, most likely first, the smallest set whose mass
// reaches TopP of total (HF keeps a token iff the mass strictly above it is
// below top_p), and returns that set's mass. Sorting all V tokens per draw
// would dominate decoding, so it first collects the tokens above a threshold
// that it lowers until they hold enough mass: the nucleus is a prefix of them.
func (s *Sampler) nucleus(total float64) float64 {
	want := s.TopP * total
	var mx float32
	for _, p := range s.prob {
		mx = max(mx, p)
	}
	for tau := mx / 16; ; tau /= 16 {
		s.cand = s.cand[:0]
		var mass float64
		for i, p := range s.prob {
			if p >= tau && p > 0 {
				s.cand = append(s.cand, int32(i))
				mass += float64(p)
			}
		}
		if mass >= want || tau == 0 {
			break
		}
	}
	slices.SortStableFunc(s.cand, func(a, b int32) int {
		pa, pb := s.prob[a], s.prob[b]
		switch {
		case pa > pb:
			return -1
		case pa < pb:
			return 1
		}
		return 0
	})
	var above float64
	for i, c := range s.cand {
		if above >= want {
			s.cand = s.cand[:i]
			break
		}
		above += float64(s.prob[c])
	}
	return above
}

// kthLargest returns the k-th largest logit (1-based) by quickselect on a copy.
func (s *Sampler) kthLargest(logits []float32, k int) float32 {
	s.keys = append(s.keys[:0], logits...)
	a := s.keys
	lo, hi, want := 0, len(a)-1, k-1 // position want in descending order
	for lo < hi {
		p := a[(lo+hi)/2]
		i, j := lo, hi
		for i <= j {
			for a[i] > p {
				i++
			}
			for a[j] < p {
				j--
			}
			if i <= j {
				a[i], a[j] = a[j], a[i]
				i++
				j--
			}
		}
		switch {
		case want <= j:
			hi = j
		case want >= i:
			lo = i
		default:
			return a[want]
		}
	}
	return a[want]
}

// LogProb returns log softmax(logits)[tok]: the model's own log-probability of
// tok, before temperature or filtering. Summed in float64.
func LogProb(logits []float32, tok int32) float32 {
	return float32(float64(logits[tok]) - nn.LogSumExp(logits))
}

// argmax returns the first index of the largest value (NaN never wins).
// The best value stays in a register: reading x[best] back each element
// made a greedy step's pass over 151,936 logits ~0.4 ms.
func argmax(x []float32) int32 {
	if len(x) == 0 {
		return 0
	}
	best, bv := 0, x[0]
	for i, v := range x {
		if v > bv {
			best, bv = i, v
		}
	}
	return int32(best)
}

// sampleGrain is the fewest tokens one thread's share of the exp pass
// holds; sampleBlock the tokens between the running sums the draw notes.
const (
	sampleGrain = 1 << 14
	sampleBlock = 1 << 12
)

func grow(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n)
	}
	return s[:n]
}

// exp32 is exp with float32 accuracy at about twice math.Exp's speed: sampling
// and log-probs take one exp per vocabulary entry per token, which at a 50K
// vocabulary is a visible share of a decode step. Same method as package nn's
// expf (Cephes polynomial, range reduction in float64).
func exp32(x float32) float32 {
	if !(x <= 88.72284 && x >= -103.97208) {
		switch {
		case x > 88.72284:
			return float32(math.Inf(1))
		case x < -103.97208:
			return 0
		}
		return x
	}
	xd := float64(x)
	t := xd*math.Log2E + 0x1.8p52
	n := t - 0x1.8p52
	r := xd - n*6.93147180369123816490e-01 - n*1.90821492927058770002e-10
	r2 := r * r
	p := (5.0000001201e-1 + 1.6666665459e-1*r) +
		r2*((4.1665795894e-2+8.3334519073e-3*r)+r2*(1.3981999507e-3+1.9875691500e-4*r))
	p = p*r2 + r + 1
	return float32(p * math.Float64frombits((math.Float64bits(t)+1023)<<52))
}

// NewRand returns the random stream a completion samples from. Seed and
// stream pass through SplitMix64 first: PCG's raw state makes neighbouring
// seeds start alike, and seed 0, stream 0 (every default run's first
// completion) opens with the draw 0.99993, which picks a token from the far
// tail of the distribution.
func NewRand(seed, stream uint64) *rand.Rand {
	return rand.New(rand.NewPCG(splitMix64(seed), splitMix64(stream^0x6a09e667f3bcc909)))
}

func splitMix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}
