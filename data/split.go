package data

import (
	"fmt"
	"math"
	"math/bits"
	"math/rand/v2"
)

// RNG is the data-order random source: PCG-DXSM from math/rand/v2, whose
// output sequence is specified, plus our own bounded draws and Fisher-Yates
// shuffle. rand.Rand's Shuffle is not promised to stay the same across Go
// releases; owning the few lines on top of PCG keeps a seed meaning the same
// data order forever, which exact resume and reproducible runs rely on.
type RNG struct {
	pcg *rand.PCG
}

// NewRNG returns a generator for (seed, stream). Different streams of one
// seed give unrelated sequences, so one run seed can drive several orders.
func NewRNG(seed, stream uint64) *RNG { return &RNG{pcg: rand.NewPCG(seed, stream)} }

// Uint64 returns the next raw 64-bit output.
func (r *RNG) Uint64() uint64 { return r.pcg.Uint64() }

// Uint64n returns a uniform value in [0, n) by Lemire's multiply-and-reject,
// which has no modulo bias. n must be > 0.
func (r *RNG) Uint64n(n uint64) uint64 {
	hi, lo := bits.Mul64(r.pcg.Uint64(), n)
	if lo < n {
		thresh := -n % n
		for lo < thresh {
			hi, lo = bits.Mul64(r.pcg.Uint64(), n)
		}
	}
	return hi
}

// Shuffle permutes n items in place through swap (Fisher-Yates, from the end).
func (r *RNG) Shuffle(n int, swap func(i, j int)) {
	for i := n - 1; i > 0; i-- {
		swap(i, int(r.Uint64n(uint64(i+1))))
	}
}

// Perm returns a random permutation of 0..n-1.
func (r *RNG) Perm(n int) []int {
	p := make([]int, n)
	for i := range p {
		p[i] = i
	}
	r.Shuffle(n, func(i, j int) { p[i], p[j] = p[j], p[i] })
	return p
}

// MarshalBinary saves the generator state (20 bytes) for a checkpoint.
func (r *RNG) MarshalBinary() ([]byte, error) { return r.pcg.MarshalBinary() }

// UnmarshalBinary restores a state saved by MarshalBinary; the restored
// generator continues exactly where the saved one stood.
func (r *RNG) UnmarshalBinary(b []byte) error {
	if r.pcg == nil {
		r.pcg = new(rand.PCG)
	}
	if err := r.pcg.UnmarshalBinary(b); err != nil {
		return fmt.Errorf("data: restore RNG: %w", err)
	}
	return nil
}

// Shuffle permutes xs in place.
func Shuffle[T any](xs []T, r *RNG) {
	r.Shuffle(len(xs), func(i, j int) { xs[i], xs[j] = xs[j], xs[i] })
}

// EpochOrder returns the visiting order of n rows in epoch epoch (0-based).
// It depends only on (n, seed, epoch), so resuming mid-epoch needs nothing
// but the epoch and the position within it.
func EpochOrder(n int, seed uint64, epoch int) []int {
	return NewRNG(seed, epochStream+uint64(epoch)).Perm(n)
}

// Streams keep the split and the epoch orders of one seed independent.
const (
	splitStream = 0x73706c6974 // "split"
	epochStream = 0x65706f6368 << 16
)

// Split holds out round(evalFraction*len(rows)) rows (at least one when the
// fraction is positive) chosen uniformly by seed. Both parts keep the input
// order, so a split is stable to inspect and a later shuffle decides the
// training order on its own. evalFraction must be in [0, 1) and leave at
// least one training row.
func Split[T any](rows []T, evalFraction float64, seed uint64) (train, eval []T, err error) {
	if math.IsNaN(evalFraction) || evalFraction < 0 || evalFraction >= 1 {
		return nil, nil, fmt.Errorf("data: eval fraction %v outside [0, 1)", evalFraction)
	}
	n := len(rows)
	if n == 0 {
		return []T{}, []T{}, nil
	}
	k := int(math.Round(evalFraction * float64(n)))
	if evalFraction > 0 && k == 0 {
		k = 1
	}
	if k >= n {
		return nil, nil, fmt.Errorf("data: eval fraction %v of %d rows leaves no training rows", evalFraction, n)
	}
	held := make([]bool, n)
	for _, i := range NewRNG(seed, splitStream).Perm(n)[:k] {
		held[i] = true
	}
	train = make([]T, 0, n-k)
	eval = make([]T, 0, k)
	for i, row := range rows {
		if held[i] {
			eval = append(eval, row)
		} else {
			train = append(train, row)
		}
	}
	return train, eval, nil
}
